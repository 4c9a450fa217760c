"""`make bench`: every hot path in float32 and bfloat16, next to this machine's matmul rate in the same precision.

For each path it prints the time per step, the achieved GFLOP/s (FLOPs counted from the layer shapes, 2 per
multiply-add), the machine's ``tf.matmul`` rate in that precision measured in this run, and their ratio; then
what bfloat16 costs in accuracy on the same steps. The CPU model and its matrix instructions are printed, and
one JSON line per run is appended to ``benchmarks/results.jsonl`` so history can be compared.

Paths (the compute-heavy ones of the project):

1. **M&V step**: one Adam step of the mv2016 recipe inverting VGG16 ``conv3_3`` at 224 px (forward to the layer,
   gradient back to the image; :mod:`bench_inversion` counts the FLOPs). Accuracy: the normalised feature
   error ``||phi(x) - phi0||^2 / ||phi0||^2`` after the same steps, always evaluated by a float32 net.
2. **Module training**: one training step of the DC pool1 -> image module (fig12_vgg16's) on 64 px crops, batch
   16 (:mod:`bench_module_training` counts its FLOPs; the VGG16 forward to pool1 is added). Accuracy: held-out
   PSNR of the module after the same training (embedded photos), reconstructed in its training precision.
3. **Score matching**: one Adam step of the full512 prior (512 Student-t experts on 191 whitened dimensions,
   batch 250; :mod:`bench_priors` counts its FLOPs). Accuracy: the held-out score-matching loss after the same
   steps on patches of the embedded photos.

    .venv/bin/python benchmarks/bench.py            # about 4 min on 2 cores
    .venv/bin/python benchmarks/bench.py --quick    # fewer steps (a smoke run, ~1.5 min)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_inversion import vgg_conv_flops  # noqa: E402
from bench_priors import cpu_name, score_matching_rate  # noqa: E402

PRECISIONS = ("float32", "bfloat16")
RESULTS = HERE / "results.jsonl"


def cpu_matrix_flags() -> list[str]:
    """The CPU's matrix/bfloat16 instructions (AMX tiles, AVX512-BF16, AVX512-FP16, VNNI) from /proc/cpuinfo."""
    try:
        flags = next(line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    wanted = ("amx_bf16", "amx_tile", "amx_int8", "amx_fp16", "avx512_bf16", "avx512_fp16", "avx512_vnni",
              "avx512f")
    return [f for f in wanted if f in flags]


def matmul_rate(dtype_name: str, n: int = 2048, repeats: int = 10, tries: int = 3) -> float:
    """Best of ``tries`` timings of ``repeats`` n x n matmuls (2 n^3 FLOPs each) in the given precision."""
    import tensorflow as tf

    dtype = getattr(tf, dtype_name)
    a = tf.cast(tf.random.normal((n, n)), dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    mm = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y), tf.float32)))
    mm(a, b).numpy()
    best = 0.0
    for _ in range(tries):
        t = time.perf_counter()
        for _ in range(repeats):
            mm(a, b).numpy()
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - t) / 1e9)
    return best


# ----------------------------------------------------------------------------------------------------------
# 1. M&V step
# ----------------------------------------------------------------------------------------------------------

def mv_step(net32, precision: str, image, steps: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from restoration import inversion, metrics, recipes

    layer = "conv3_3"
    net = net32.with_precision(precision)
    res = inversion.invert_layer(net, image[None], layer, recipe=recipes.get_recipe("mv2016"), n_steps=steps + 1,
                                 progress=False)
    fwd, bwd = vgg_conv_flops(layer, image.shape[0])
    # accuracy: the reached pre-image scored by the float32 net, whatever precision found it
    x = tf.constant(net32.preprocess(np.clip(res.rgb, 0, 255)))
    x0 = tf.constant(net32.preprocess(image[None]))
    canon = net32.resolve(layer)
    phi, phi0 = net32(x, canon).numpy(), net32(x0, canon).numpy()
    err = float(metrics.normalized_error(phi, phi0))
    return {"sec_per_step": res.time_per_step_s, "flop_per_step": fwd + bwd, "accuracy": err,
            "accuracy_name": f"normalised feature error at {layer} after {steps + 1} steps (float32 net)"}


# ----------------------------------------------------------------------------------------------------------
# 2. Module training
# ----------------------------------------------------------------------------------------------------------

def module_training(net32, precision: str, steps: int, crop: int = 64, batch: int = 16) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from restoration import data, metrics, modules

    net = net32.with_precision(precision)
    stack = modules.InversionStack.for_net(net, [_dc_pool1_spec(net32)], seed=0)
    model = stack.models[0]
    train = [im for _, im in data.embedded_images("train")]
    held = [data.center_crop_resize(im, 128).astype(np.float32) for _, im in data.embedded_images("heldout")]
    rng = np.random.default_rng(0)

    def crops():
        out = []
        for _ in range(batch):
            im = train[rng.integers(len(train))]
            y, x = rng.integers(im.shape[0] - crop), rng.integers(im.shape[1] - crop)
            out.append(im[y:y + crop, x:x + crop])
        return np.asarray(out, np.float32)

    opt = keras.optimizers.Adam(1e-3)
    opt.build(model.trainable_variables)

    @tf.function
    def step(rgb):
        x_bgr = net.preprocess(rgb)
        target = tf.convert_to_tensor(x_bgr, tf.float32)
        feats = tf.stop_gradient(net(x_bgr, "pool1"))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(feats, out_hw=(crop, crop)) - target))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    batches = [crops() for _ in range(steps + 3)]
    for b in batches[:3]:
        step(tf.constant(b)).numpy()
    t = time.perf_counter()
    for b in batches[3:]:
        step(tf.constant(b)).numpy()
    sec = (time.perf_counter() - t) / steps
    first, second = stack.specs[0].flops((crop // 2, crop // 2))
    f_net, _ = vgg_conv_flops("pool1", crop)
    flop = (3.0 * (first + second) - first + f_net) * batch
    psnrs = []
    for im in held:
        x_bgr = net.preprocess(im[None])
        out = model(net(tf.constant(x_bgr), "pool1"), out_hw=im.shape[:2]).numpy()
        psnrs.append(metrics.psnr(im, np.clip(net.deprocess(out)[0], 0, 255)))
    return {"sec_per_step": sec, "flop_per_step": flop, "accuracy": float(np.mean(psnrs)),
            "accuracy_name": f"held-out PSNR (dB) of the DC pool1 module after {steps + 3} steps"}


def _dc_pool1_spec(net):
    """fig12_vgg16's module: one DC from pool1 to the image, 5x5 kernels, 64 hidden, ReLU."""
    from experiments.fig11_vgg16_pool1_cd import pool1_figure

    chain = pool1_figure("fig12_vgg16", "DC").variants["dc"]["pool1"]
    (spec,) = chain.specs(net)
    return spec


# ----------------------------------------------------------------------------------------------------------
# 3. Score matching
# ----------------------------------------------------------------------------------------------------------

def score_matching(net32, precision: str, steps: int, work: Path) -> dict:
    import numpy as np

    from restoration import data, patches
    from restoration.learned_priors import PriorSpec
    from restoration.prior_training import PriorTraining, maps_source, train_prior

    K, d, batch = 512, 191, 250
    train_imgs = [data.center_crop_resize(im, 256).astype(np.float32) for _, im in data.embedded_images("train")]
    held_imgs = [data.center_crop_resize(im, 256).astype(np.float32) for _, im in data.embedded_images("heldout")]
    spec = PriorSpec(f"bench_{precision}", patches.PatchSpec("input", 3, 8, 8), K, "student")
    cfg = PriorTraining(n_train=20_000, n_val=2_000, batch=batch, steps=steps, seed=0, log_every=max(steps // 5, 1),
                        eval_every=steps, ckpt_every=10 * steps, progress=False, precision=precision)
    _, res = train_prior(spec, maps_source(net32, train_imgs, "input"), len(train_imgs),
                         maps_source(net32, held_imgs, "input"), len(held_imgs), cfg, work_dir=work / precision)
    # the step's own speed: the compiled Adam step on a batch of the same shape (no patch drawing)
    patches_per_s, _ = score_matching_rate(K, d, 1, batch, max(steps // 4, 20), precision=precision)
    fwd = 2 * batch * K * d + 2 * K * K * d + 2 * batch * K * K
    return {"sec_per_step": batch / patches_per_s, "flop_per_step": 3 * fwd,
            "accuracy": float(res.heldout_loss["score_matching"]),
            "accuracy_name": f"held-out score-matching loss of full512 after {steps} steps (lower is better)"}


# ----------------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps: a smoke run")
    p.add_argument("--no-append", action="store_true", help=f"do not append the results to {RESULTS.name}")
    args = p.parse_args(argv)
    mv_steps, mod_steps, sm_steps = (10, 40, 100) if args.quick else (40, 200, 400)

    import numpy as np
    import tensorflow as tf

    from restoration import data, nets

    cpu, flags = cpu_name(), cpu_matrix_flags()
    print(f"CPU: {cpu}; {os.cpu_count()} cores; matrix instructions: {', '.join(flags) or 'none found'}")
    print(f"TensorFlow {tf.__version__}; Python {platform.python_version()}")
    rate = {pr: matmul_rate(pr) for pr in PRECISIONS}
    print("matmul 2048 x 2048: " + ", ".join(f"{pr} {rate[pr]:.0f} GFLOP/s" for pr in PRECISIONS)
          + f" (bfloat16 / float32 = {rate['bfloat16'] / rate['float32']:.2f}x)")
    net32 = nets.vgg16("hed")
    image = data.center_crop_resize(dict(data.embedded_images("all"))["astronaut"], 224).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        for path, fn in (("M&V step, conv3_3, 224 px", lambda pr: mv_step(net32, pr, image, mv_steps)),
                         ("module training, DC pool1, 64 px x 16", lambda pr: module_training(net32, pr, mod_steps)),
                         ("score matching, full512, batch 250", lambda pr: score_matching(net32, pr, sm_steps,
                                                                                          Path(work)))):
            for pr in PRECISIONS:
                r = fn(pr)
                gflops = r["flop_per_step"] / r["sec_per_step"] / 1e9
                rows.append({"path": path, "precision": pr, **r, "gflops": gflops, "matmul_gflops": rate[pr],
                             "fraction_of_matmul": gflops / rate[pr]})
                print(f"  {path:40s} {pr:8s} {1000 * r['sec_per_step']:9.1f} ms/step {gflops:7.1f} GFLOP/s "
                      f"= {100 * gflops / rate[pr]:5.1f} % of {pr} matmul   {r['accuracy_name']}: "
                      f"{r['accuracy']:.5g}", flush=True)
    print("\nbfloat16 against float32, per path (same run, same machine):")
    for path in dict.fromkeys(r["path"] for r in rows):
        f32, bf = (next(r for r in rows if r["path"] == path and r["precision"] == pr) for pr in PRECISIONS)
        speed = f32["sec_per_step"] / bf["sec_per_step"]
        acc = (bf["accuracy"] - f32["accuracy"]) / abs(f32["accuracy"]) if f32["accuracy"] else float("nan")
        print(f"  {path:40s} {speed:5.2f}x faster; accuracy {f32['accuracy']:.5g} -> {bf['accuracy']:.5g} "
              f"({100 * acc:+.1f} %)")
    record = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu, "flags": flags,
              "cores": os.cpu_count(), "tensorflow": tf.__version__, "quick": args.quick, "matmul_gflops": rate,
              "rows": rows}
    if not args.no_append:
        with open(RESULTS, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"\nappended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
