"""`make bench`: every hot path in float32 and bfloat16, next to this machine's GEMM rates measured in the same run.

It first prints the CPU, its kernel flags, and what ``precision=auto`` chooses here and why (the cached probe of
:mod:`restoration.precision`, or a fresh one under ``--isa``). Each precision then runs in its own child process
(with oneDNN's verbose creation log on, so the kernels it ran are named: ``brg_conv_fwd:avx512_core_bf16``,
``eigen``, ...). For each path it prints the time per step, the achieved GFLOP/s (FLOPs counted from the layer
shapes, 2 per multiply-add), the ratio to that precision's ``tf.matmul`` rate, and for float32 the ratio to the
best float32 GEMM of the run (``tf.matmul`` or numpy's BLAS, whichever is faster: the machine's limit); then
what bfloat16 costs in accuracy on the same steps, and whether ``auto``'s choice is the faster one on each path.
One JSON line per run is appended to ``benchmarks/results.jsonl`` so machines and dates can be compared.

Each hot path runs in three arms: float32 on both of TensorFlow's kernel libraries (oneDNN and Eigen,
:mod:`restoration.kernel_library`) and bfloat16 on TensorFlow's default library; the end says, per path, whether
``auto``'s (precision, library) is within 10 % of the fastest arm.

``--isa NAME`` runs as another machine kind would (:data:`restoration.machine.ISA_PATHS`): ``--isa AVX2`` caps
oneDNN at AVX2 and sets TensorFlow's switch to that kind's default (oneDNN off: Eigen, bfloat16 emulated).

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

    .venv/bin/python benchmarks/bench.py              # about 4 min on 2 cores
    .venv/bin/python benchmarks/bench.py --quick      # fewer steps (a smoke run, ~1.5 min)
    .venv/bin/python benchmarks/bench.py --isa AVX2   # as an AVX2-only CPU (bfloat16 emulated: use --quick)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_inversion import vgg_conv_flops  # noqa: E402
from bench_priors import score_matching_rate  # noqa: E402

RESULTS = HERE / "results.jsonl"


def cpu_matrix_flags() -> list[str]:
    """The CPU's matrix/bfloat16 instructions (AMX tiles, AVX512-BF16, AVX512-FP16, VNNI) from /proc/cpuinfo."""
    try:
        flags = next(line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    wanted = ("amx_bf16", "amx_tile", "amx_int8", "amx_fp16", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx512f")
    return [f for f in wanted if f in flags]


def numpy_gemm_rate(n: int = 2048, repeats: int = 5, tries: int = 3) -> float:
    """Best of ``tries`` timings of float32 n x n products through numpy's BLAS (OpenBLAS): the machine's GEMM
    limit when it beats TensorFlow's own matmul."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a @ b
    best = 0.0
    for _ in range(tries):
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9)
    return best


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
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9)
    return best


# ----------------------------------------------------------------------------------------------------------
# 1. M&V step
# ----------------------------------------------------------------------------------------------------------


def mv_step(net32, precision: str, image, steps: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from restoration import preimage
    from restoration import metrics
    from restoration.preimage import recipes

    layer = "conv3_3"
    net = net32.with_precision(precision)
    res = preimage.invert_layer(
        net, image[None], layer, recipe=recipes.get_recipe("mv2016"), n_steps=steps + 1, report=preimage.QUIET
    )
    fwd, bwd = vgg_conv_flops(layer, image.shape[0])
    # accuracy: the reached pre-image scored by the float32 net, whatever precision found it
    x = tf.constant(net32.preprocess(np.clip(res.rgb, 0, 255)))
    x0 = tf.constant(net32.preprocess(image[None]))
    canon = net32.resolve(layer)
    phi, phi0 = net32(x, canon).numpy(), net32(x0, canon).numpy()
    err = float(metrics.normalized_error(phi, phi0))
    return {
        "sec_per_step": res.time_per_step_s,
        "flop_per_step": fwd + bwd,
        "accuracy": err,
        "accuracy_name": f"normalised feature error at {layer} after {steps + 1} steps (float32 net)",
    }


# ----------------------------------------------------------------------------------------------------------
# 2. Module training
# ----------------------------------------------------------------------------------------------------------


def module_training(net32, precision: str, steps: int, crop: int = 64, batch: int = 16) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from restoration import data
    from restoration import metrics
    from restoration import stacks

    net = net32.with_precision(precision)
    stack = stacks.InversionStack.for_net(net, [_dc_pool1_spec(net32)], seed=0)
    model = stack.models[0]
    train = [im for _, im in data.embedded_images("train")]
    held = [data.center_crop_resize(im, 128).astype(np.float32) for _, im in data.embedded_images("heldout")]
    rng = np.random.default_rng(0)

    def crops():
        out = []
        for _ in range(batch):
            im = train[rng.integers(len(train))]
            y, x = rng.integers(im.shape[0] - crop), rng.integers(im.shape[1] - crop)
            out.append(im[y : y + crop, x : x + crop])
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
    return {
        "sec_per_step": sec,
        "flop_per_step": flop,
        "accuracy": float(np.mean(psnrs)),
        "accuracy_name": f"held-out PSNR (dB) of the DC pool1 module after {steps + 3} steps",
    }


def _dc_pool1_spec(net):
    """fig12_vgg16's module: one DC from pool1 to the image, 5x5 kernels, 64 hidden, ReLU."""
    from restoration_experiments.fig11_vgg16_pool1_cd import pool1_figure

    chain = pool1_figure("fig12_vgg16", "DC").variants["dc"]["pool1"]
    (spec,) = chain.specs(net)
    return spec


# ----------------------------------------------------------------------------------------------------------
# 3. Score matching
# ----------------------------------------------------------------------------------------------------------


def score_matching(net32, precision: str, steps: int, work: Path) -> dict:
    import numpy as np

    from restoration import data
    from restoration.priors import patches
    from restoration.priors.learned import PriorSpec
    from restoration.priors.training import PriorTraining, maps_source, train_prior

    K, d, batch = 512, 191, 250
    # the priors' own photos (natural photographs only: data.PRIOR_TRAIN), as the prior experiments train on
    train_imgs = [
        data.center_crop_resize(im, 256).astype(np.float32) for _, im in data.embedded_named(data.PRIOR_TRAIN)
    ]
    held_imgs = [data.center_crop_resize(im, 256).astype(np.float32) for _, im in data.embedded_images("heldout")]
    spec = PriorSpec(f"bench_{precision}", patches.PatchSpec("input", 3, 8, 8), K, "student")
    cfg = PriorTraining(
        n_train=20_000,
        n_val=2_000,
        batch=batch,
        steps=steps,
        seed=0,
        log_every=max(steps // 5, 1),
        eval_every=steps,
        ckpt_every=10 * steps,
        progress=False,
        precision=precision,
    )
    _, res = train_prior(
        spec,
        maps_source(net32, train_imgs, "input"),
        len(train_imgs),
        maps_source(net32, held_imgs, "input"),
        len(held_imgs),
        cfg,
        work_dir=work / precision,
    )
    # the step's own speed: the compiled Adam step on a batch of the same shape (no patch drawing)
    patches_per_s, _ = score_matching_rate(K, d, 1, batch, max(steps // 4, 20), precision=precision)
    fwd = 2 * batch * K * d + 2 * K * K * d + 2 * batch * K * K
    return {
        "sec_per_step": batch / patches_per_s,
        "flop_per_step": 3 * fwd,
        "accuracy": float(res.heldout_loss["score_matching"]),
        "accuracy_name": f"held-out score-matching loss of full512 after {steps} steps (lower is better)",
    }


# ----------------------------------------------------------------------------------------------------------


def run_child(precision: str, quick: bool, env: dict) -> tuple[dict, tuple[str, ...]]:
    """One precision's rows in a child process with ``env`` (the ISA path); its results and the oneDNN kernels its
    convolutions and products ran (from ``ONEDNN_VERBOSE=profile_create``)."""
    from restoration.precision import kernels_in

    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        out = Path(work) / "rows.json"
        cmd = [sys.executable, __file__, "--child", precision, "--out", str(out)] + (["--quick"] if quick else [])
        child_env = {**os.environ, **env, "ONEDNN_VERBOSE": "profile_create", "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run(cmd, env=child_env, capture_output=True, text=True)
        text = proc.stdout + proc.stderr
        for line in text.splitlines():
            if not line.startswith("onednn_verbose") and line.startswith("  "):
                print(line, flush=True)
        if proc.returncode != 0 or not out.is_file():
            tail = [l for l in text.splitlines() if not l.startswith("onednn_verbose")][-5:]
            raise SystemExit(f"bench: the {precision} child failed (exit {proc.returncode}):\n" + "\n".join(tail))
        return json.loads(out.read_text()), kernels_in(text)


def child(precision: str, quick: bool, out: Path) -> int:
    """Measure one precision's rates and paths in this process; write them to ``out`` as JSON."""
    import numpy as np

    from restoration import data
    from restoration import nets

    mv_steps, mod_steps, sm_steps = (10, 40, 100) if quick else (40, 200, 400)
    result = {"matmul_gflops": matmul_rate(precision)}
    if precision == "float32":
        result["numpy_gemm_gflops"] = numpy_gemm_rate()
    net32 = nets.vgg16("hed")
    image = data.center_crop_resize(dict(data.embedded_images("all"))["astronaut"], 224).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        for path, fn in (
            ("M&V step, conv3_3, 224 px", lambda: mv_step(net32, precision, image, mv_steps)),
            ("module training, DC pool1, 64 px x 16", lambda: module_training(net32, precision, mod_steps)),
            ("score matching, full512, batch 250", lambda: score_matching(net32, precision, sm_steps, Path(work))),
        ):
            r = fn()
            rows.append({"path": path, "precision": precision, **r})
            print(f"  measured {path} in {precision}: {1000 * r['sec_per_step']:.1f} ms/step", flush=True)
    result["rows"] = rows
    out.write_text(json.dumps(result))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps: a smoke run")
    p.add_argument("--no-append", action="store_true", help=f"do not append the results to {RESULTS.name}")
    p.add_argument(
        "--isa",
        default=None,
        metavar="PATH",
        help="run as another machine kind would: AVX512_CORE_AMX, AVX512_CORE_BF16, AVX512_CORE or AVX2 "
        "(a cap can only lower the CPU's own ISA)",
    )
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child, args.quick, Path(args.out))

    from restoration import machine, precision

    cpu, all_flags = machine.cpu_info()
    flags = [f for f in machine.KERNEL_FLAGS if f in all_flags]
    print(
        f"CPU: {cpu}; {os.cpu_count()} cores; kernel flags: {' '.join(flags) or 'none found'}; "
        f"matrix units: {', '.join(f for f in cpu_matrix_flags() if f.startswith('amx')) or 'none'}"
    )
    import importlib.metadata

    print(f"TensorFlow {importlib.metadata.version('tensorflow')}; Python {platform.python_version()}")
    from restoration import kernel_library as kl

    if args.isa:
        path = machine.isa_path(args.isa)
        ok, why = path.runnable(all_flags)
        if not ok:
            raise SystemExit(f"bench: --isa {args.isa}: {why}")
        base = dict(path.env)
        print(f"as machine kind {path.name}: {path.what}")
        print("  with " + " ".join(f"{k}={v}" for k, v in base.items()))
        probe = precision.run_probe(env=base)
    else:
        path, base = None, {}
        probe = precision.probe()
    print("\n" + precision.describe(probe, cached=not args.isa) + "\n")

    # the arms: float32 on both kernel libraries, bfloat16 on TensorFlow's default (the only one that runs it)
    default_lib = probe.library_default
    arms = [("float32", default_lib), ("float32", kl.other(default_lib)), ("bfloat16", default_lib)]
    envs = {f"{pr}/{lib}": {**base, **kl.switch_env(lib)} for pr, lib in arms}
    rows, rates, kernels = [], {}, {}
    for pr, lib in arms:
        arm = f"{pr}/{lib}"
        if pr == "bfloat16" and not probe.bfloat16.ms:
            print(f"  bfloat16 skipped: it cannot run here ({probe.bfloat16.failed})")
            continue
        res, kernels[arm] = run_child(pr, args.quick, envs[arm])
        rates[arm] = res["matmul_gflops"]
        if pr == "float32":
            rates[f"numpy/{lib}"] = res["numpy_gemm_gflops"]
        rows += [{**r, "library": lib, "arm": arm} for r in res["rows"]]
    best32 = max(v for k, v in rates.items() if k.startswith(("float32/", "numpy/")))
    print(
        "\nGEMM 2048 x 2048, same run: tf.matmul "
        + ", ".join(f"{arm} {rates[arm]:.0f}" for arm in kernels)
        + f" GFLOP/s; numpy float32 {max(v for k, v in rates.items() if k.startswith('numpy/')):.0f} GFLOP/s; "
        f"best float32 GEMM {best32:.0f} GFLOP/s"
    )
    for arm in kernels:
        print(f"  {arm:16s} ran: {', '.join(kernels[arm])}")
    print()
    for r in rows:
        arm = r["arm"]
        r["gflops"] = r["flop_per_step"] / r["sec_per_step"] / 1e9
        r["matmul_gflops"] = rates[arm]
        r["fraction_of_matmul"] = r["gflops"] / rates[arm]
        r["fraction_of_best_float32_gemm"] = r["gflops"] / best32
        r["kernels"] = list(kernels[arm])
        print(
            f"  {r['path']:40s} {arm:16s} {1000 * r['sec_per_step']:9.1f} ms/step {r['gflops']:7.1f} GFLOP/s "
            f"= {100 * r['fraction_of_matmul']:5.1f} % of its tf.matmul, "
            f"{100 * r['fraction_of_best_float32_gemm']:5.1f} "
            f"% of best float32 GEMM   {r['accuracy_name']}: {r['accuracy']:.5g}",
            flush=True,
        )
    auto_arm = f"{probe.chosen}/{probe.library}"
    print(f"\nauto's choice against the fastest (precision x kernel library) per path; auto chose {auto_arm}:")
    verdicts = []
    for name in dict.fromkeys(r["path"] for r in rows):
        by = {r["arm"]: r for r in rows if r["path"] == name}
        # score-matching prior training stays float32 whatever auto chooses, on auto's float32 library
        used = f"float32/{probe.library if probe.chosen == 'float32' else default_lib}"
        used = used if name.startswith("score matching") else auto_arm
        fastest = min(by, key=lambda a: by[a]["sec_per_step"])
        ratio = by[used]["sec_per_step"] / by[fastest]["sec_per_step"]
        verdicts.append({"path": name, "used": used, "fastest": fastest, "used_over_fastest": ratio})
        ok = "within 10 %" if ratio <= 1.10 else "NOT within 10 %"
        print(
            f"  {name:40s} auto's {used} {1000 * by[used]['sec_per_step']:.1f} ms; fastest {fastest} "
            f"{1000 * by[fastest]['sec_per_step']:.1f} ms: {ratio:.2f}x, {ok}"
        )
        for arm in by:
            if arm.startswith("bfloat16") and f"float32/{default_lib}" in by:
                f32 = by[f"float32/{default_lib}"]
                acc = (
                    (by[arm]["accuracy"] - f32["accuracy"]) / abs(f32["accuracy"]) if f32["accuracy"] else float("nan")
                )
                print(
                    f"  {'':40s} bfloat16 accuracy {f32['accuracy']:.5g} -> {by[arm]['accuracy']:.5g} "
                    f"({100 * acc:+.1f} %)"
                )
    record = {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "flags": flags,
        "cores": os.cpu_count(),
        "tensorflow": importlib.metadata.version("tensorflow"),
        "quick": args.quick,
        "isa_path": path.name if path else None,
        "env": envs,
        "onednn_isa": probe.onednn_isa,
        "auto": {
            "chosen": probe.chosen,
            "reason": probe.reason,
            "speedup": probe.speedup,
            "library": probe.library,
            "library_default": default_lib,
            "library_reason": probe.library_reason,
        },
        "kernels": {arm: list(k) for arm, k in kernels.items()},
        "matmul_gflops": {arm: rates[arm] for arm in kernels},
        "numpy_float32_gflops": max(v for k, v in rates.items() if k.startswith("numpy/")),
        "best_float32_gemm_gflops": best32,
        "auto_per_path": verdicts,
        "rows": rows,
    }
    if not args.no_append:
        with open(RESULTS, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"\nappended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
