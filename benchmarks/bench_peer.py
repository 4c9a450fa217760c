"""The float32 M&V step against an eager PyTorch peer, and both against the machine's GEMM rates.

Measurement only: PyTorch is not a project dependency (``pip install torch`` into the venv to run this; the CPU
wheel is enough). torch upgrades setuptools past the project's pin (sacred needs ``pkg_resources``): run
``.venv/bin/pip install 'setuptools<80'`` after it. What is timed, all float32:

* **TF M&V step**: :func:`restoration.preimage.invert_layer` with the ``mv2016`` recipe inverting VGG16
  ``conv3_3`` at 224 px (HED weights), its ``time_per_step_s`` (the first, tracing step excluded).
* **PyTorch peer**: a plain eager loop doing the same step: the thesis jitter (T = 4, black padding, a random
  window), VGG16 to ``conv3_3/relu`` on the same HED weights (``conv2d``, ``relu``, ``max_pool2d``, NCHW), the
  loss ``C ||phi(x) - phi0||^2 / ||phi0||^2 + R_alpha + R_TV`` with the recipe's numbers, ``backward`` and
  ``torch.optim.Adam`` on the image, then the recipe's colour-ball projection.
* **Module training** (TF only): ``bench.py``'s float32 DC pool1 -> image training step, 64 px x 16, as
  GFLOP/s.
* **GEMM rates**: ``tf.matmul``, numpy ``@`` and ``torch.mm`` of two 2048 x 2048 float32 matrices.

FLOPs of a step are :func:`bench_inversion.vgg_conv_flops` (forward + backward to the input, 2 per multiply-add);
each step's rate is given as a percentage of the best GEMM rate of the same run and ISA.

Each framework runs in its own persistent child process (no two thread pools fight over the 2 cores); the parent
alternates the measurements between them ``--rounds`` times and prints medians with the min-max spread. Each
machine kind runs in its own pair of children because oneDNN and TensorFlow read their switches once at start:
``default`` (this CPU as it is) and ``AVX2`` (an AVX2-only CPU: oneDNN capped, and TensorFlow's switch at that
kind's default, off; the TF child then applies ``auto``'s kernel library as a run would). The PyTorch child reads
the HED weights with h5py and never imports TensorFlow (two frameworks' thread pools in one process crashed it).

    .venv/bin/python benchmarks/bench_peer.py                 # ~8 min on 2 cores
    .venv/bin/python benchmarks/bench_peer.py --isa default --rounds 3 --steps 6
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LAYER, SIZE, N = "conv3_3", 224, 2048


def _image():
    import numpy as np

    from restoration import data

    return data.center_crop_resize(dict(data.embedded_images("all"))["astronaut"], SIZE).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# children: one per framework, reading one command a line and answering one JSON line
# ----------------------------------------------------------------------------------------------------------


def _gemm_rate(fn, repeats: int = 10) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return 2 * N**3 * repeats / (time.perf_counter() - t) / 1e9


def tf_child(steps: int):
    from restoration import precision

    precision.prepare_kernels()  # the kernel library a run takes on this kind, before TensorFlow starts
    import numpy as np
    import tensorflow as tf

    from restoration import kernel_library
    from restoration import preimage
    from restoration import nets
    from restoration.preimage import recipes

    net, image = nets.vgg16("hed"), _image()
    recipe = recipes.get_recipe("mv2016")
    a, b = tf.random.normal((N, N)), tf.random.normal((N, N))
    mm = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    an, bn = a.numpy(), b.numpy()

    def mv():
        res = preimage.invert_layer(net, image[None], LAYER, recipe=recipe, n_steps=steps + 1, report=preimage.QUIET)
        return res.time_per_step_s

    def module():  # bench.py's float32 module-training step (DC pool1 -> image, 64 px x 16): GFLOP/s
        import bench

        r = bench.module_training(net, "float32", 3 * steps)
        return r["flop_per_step"] / r["sec_per_step"] / 1e9

    cmds = {
        "tf_mv": mv,
        "tf_module_training": module,
        "tf_matmul": lambda: _gemm_rate(lambda: mm(a, b).numpy()),
        "numpy_matmul": lambda: _gemm_rate(lambda: np.matmul(an, bn)),
    }
    return cmds, {"tf_library": kernel_library.tensorflow_reports(), "tensorflow": tf.__version__}


class PeerNet:
    """What the peer needs of VGG16, read without TensorFlow: the HED weights (h5py, the same loader the nets use),
    the layer names and the input mean; ``stride`` and ``default_size`` as :class:`restoration.nets.FeatureNet`
    gives them, so the recipe's jitter rule runs unchanged."""

    default_size = 224

    def __init__(self):
        from restoration.nets import layers, weights

        self.params = weights.load_vgg16_h5(weights.hed_weights_path())
        self.table = layers.table("vgg16")
        self.mean_bgr = weights.IMAGENET_MEAN_BGR
        self.convs = []  # (name, pool after it)
        for b, widths in enumerate(layers.VGG16_BLOCKS, start=1):
            self.convs += [(f"conv{b}_{j}", j == len(widths)) for j in range(1, len(widths) + 1)]

    def resolve(self, layer: str) -> str:
        return self.table.resolve(layer)

    def upto(self, layer: str) -> list[tuple[str, bool]]:
        """The convolutions up to ``layer``'s (and whether a pool follows each)."""
        base = self.resolve(layer).split("/")[0]
        names = [c for c, _ in self.convs]
        return self.convs[: names.index(base) + 1]

    def stride(self, layer: str) -> int:
        return 2 ** sum(pool for _, pool in self.upto(layer)[:-1])

    def preprocess(self, rgb):
        import numpy as np

        return np.asarray(rgb, np.float32)[..., ::-1] - np.asarray(self.mean_bgr, np.float32)


def torch_peer(net: PeerNet, image, recipe, layer: str = LAYER):
    """``step()`` of the eager PyTorch M&V loop (see the module docstring) and the optimised image."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    canon = net.resolve(layer)  # conv3_3 -> conv3_3/relu
    mean = np.asarray(net.mean_bgr, np.float32)
    convs = []  # (w OIHW, b, pool after)
    for name, pool in net.upto(canon):
        k, bias = net.params[name]
        convs.append((torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))), torch.from_numpy(bias), pool))
    convs[-1] = convs[-1][:2] + (False,)  # the layer itself: no pool after it
    last_relu = canon.endswith("/relu")

    def phi(x):
        for i, (w, b, pool) in enumerate(convs):
            x = F.conv2d(x, w, b, padding=1)
            if i < len(convs) - 1 or last_relu:
                x = F.relu(x)
            if pool:
                x = F.max_pool2d(x, 2)
        return x

    x0 = torch.from_numpy(np.ascontiguousarray(net.preprocess(image[None]).transpose(0, 3, 1, 2)))
    with torch.no_grad():
        phi0 = phi(x0)
        norm0 = (phi0**2).sum()
    C = recipe.feature_weight_for(canon)
    T = recipe.jitter_amount(net, canon, SIZE)
    alpha, B, V = recipe.alpha, recipe.alpha_B, recipe.tv_B / 6.5
    black = torch.from_numpy(-mean).view(1, 3, 1, 1)
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)).requires_grad_()
    opt = torch.optim.Adam([x], lr=recipe.lr_schedule[0][1])
    rng = np.random.default_rng(1)
    hw = SIZE * SIZE

    def step():
        opt.zero_grad(set_to_none=True)
        xp = F.pad(x - black, (T // 2, T - T // 2, T // 2, T - T // 2)) + black  # black border (thesis rule)
        i, j = rng.integers(0, T + 1, 2)
        f = phi(xp[:, :, i : i + SIZE, j : j + SIZE])
        loss = C * ((f - phi0) ** 2).sum() / norm0
        loss = loss + ((x**2).sum(1) ** (alpha / 2)).sum() / (hw * B**alpha)
        dx, dy = x[:, :, :-1, 1:] - x[:, :, :-1, :-1], x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
        loss = loss + (dx**2 + dy**2).sum() / (hw * V**2)
        loss.backward()
        opt.step()
        with torch.no_grad():  # the colour ball ||x_ij|| <= 2B
            n = x.pow(2).sum(1, keepdim=True).sqrt()
            x.mul_(torch.clamp(recipe.ball_radius / n.clamp_min(1e-12), max=1.0))
        return float(loss.detach())

    return step, x


def torch_child(steps: int):
    import torch

    from restoration.preimage import recipes

    step, _ = torch_peer(PeerNet(), _image(), recipes.get_recipe("mv2016"))
    if "tensorflow" in sys.modules:  # the peer must not share its process with TensorFlow (two thread pools)
        raise RuntimeError("the PyTorch peer imported TensorFlow; it reads its weights with h5py alone")
    a, b = torch.randn(N, N), torch.randn(N, N)

    def mv():
        step()  # warm (like the TF step's excluded first step)
        t = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - t) / steps

    cmds = {"torch_mv": mv, "torch_mm": lambda: _gemm_rate(lambda: torch.mm(a, b))}
    return cmds, {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def child(kind: str, steps: int) -> int:
    cmds, info = (tf_child if kind == "tf" else torch_child)(steps)
    print(json.dumps({"ready": sorted(cmds), "info": info}), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if not name:
            break
        print(json.dumps({name: cmds[name]()}), flush=True)
    return 0


# ----------------------------------------------------------------------------------------------------------
# parent
# ----------------------------------------------------------------------------------------------------------


class Child:
    def __init__(self, kind: str, isa: str, steps: int):
        from restoration import machine

        env = dict(os.environ)
        for k in machine.KERNEL_ENV:
            env.pop(k, None)
        if isa != "default":  # the machine kind's variables (an AVX2-only CPU: the cap and oneDNN off by default)
            env.update(dict(machine.isa_path(isa).env))
        self.p = subprocess.Popen(
            [sys.executable, __file__, "--child", kind, "--steps", str(steps)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = json.loads(self._line())
        self.names, self.info = ready["ready"], ready.get("info", {})

    def _line(self) -> str:
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("a benchmark child died; run it alone to see why")
            if line.startswith("{"):
                return line

    def ask(self, name: str) -> float:
        self.p.stdin.write(name + "\n")
        self.p.stdin.flush()
        return json.loads(self._line())[name]

    def close(self):
        self.p.stdin.write("\n")
        self.p.stdin.flush()
        self.p.wait(timeout=60)


def measure(isa: str, rounds: int, steps: int, with_torch: bool) -> tuple[dict[str, list[float]], dict]:
    """``({measurement: [value per round]}, what the children said of themselves)``."""
    kids = [Child("tf", isa, steps)] + ([Child("torch", isa, steps)] if with_torch else [])
    out: dict[str, list[float]] = {}
    try:
        for r in range(rounds):
            order = [(k, n) for k in kids for n in k.names]
            for k, n in order if r % 2 == 0 else order[::-1]:  # alternate, and reverse every other round
                out.setdefault(n, []).append(k.ask(n))
    finally:
        for k in kids:
            k.close()
    return out, {k: v for kid in kids for k, v in kid.info.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--isa",
        nargs="+",
        default=["default", "AVX2"],
        help="machine kinds: default (this CPU as it is) or a path of restoration.machine.ISA_PATHS (AVX2: an "
        "AVX2-only CPU, oneDNN capped and off by default)",
    )
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=8, help="timed M&V steps per round")
    p.add_argument("--json", default=None, help="also write the raw timings here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.steps)
    import importlib.util

    from restoration import machine

    with_torch = importlib.util.find_spec("torch") is not None
    if not with_torch:
        print("PyTorch is not installed (.venv/bin/pip install torch); timing TensorFlow alone")
    print(f"CPU: {machine.MachineKind.here().describe()}")
    from bench_inversion import vgg_conv_flops

    fwd, bwd = vgg_conv_flops(LAYER, SIZE)
    flop = fwd + bwd
    raw = {}
    for isa in args.isa:
        res, info = measure(isa, args.rounds, args.steps, with_torch)
        raw[isa] = {**res, "info": info}
        gemm = {k: v for k, v in res.items() if k.endswith(("_matmul", "_mm"))}
        best = max(statistics.median(v) for v in gemm.values())
        print(
            f"\nmachine kind {isa}: {args.rounds} interleaved rounds, median (min-max); M&V step = "
            f"{flop / 1e9:.1f} GFLOP; TensorFlow ran on {info.get('tf_library')}"
            + (f", PyTorch {info['torch']} on {info['torch_threads']} threads" if "torch" in info else "")
        )
        for k, v in gemm.items():
            print(f"  {k:14s} {statistics.median(v):7.1f} GFLOP/s ({min(v):.1f}-{max(v):.1f})")
        for k, v in res.items():
            if k.endswith("_mv"):
                med = statistics.median(v)
                print(
                    f"  {k:14s} {1000 * med:7.1f} ms/step ({1000 * min(v):.1f}-{1000 * max(v):.1f})  "
                    f"{flop / med / 1e9:6.1f} GFLOP/s = {100 * flop / med / 1e9 / best:5.1f} % of the best GEMM"
                )
        for k, v in res.items():
            if k.endswith("_training"):
                print(
                    f"  {k:14s} {statistics.median(v):7.1f} GFLOP/s ({min(v):.1f}-{max(v):.1f}) = "
                    f"{100 * statistics.median(v) / best:5.1f} % of the best GEMM (bench.py's module_training)"
                )
        if "tf_mv" in res and "torch_mv" in res:
            ratio = statistics.median(res["tf_mv"]) / statistics.median(res["torch_mv"])
            paired = sorted(t / p for t, p in zip(res["tf_mv"], res["torch_mv"]))
            print(
                f"  M&V step TF / PyTorch: {ratio:.2f}x the peer's time (per round {paired[0]:.2f}-{paired[-1]:.2f}; "
                f"{'TF no slower' if ratio <= 1.0 else 'TF slower'})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
