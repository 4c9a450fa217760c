"""Learned priors: score-matching training throughput, and what a prior adds to one inversion step.

1. **Score matching** (:func:`restoration.priors.learned.score_matching_loss` inside the one training loop's
   kind of step: forward, backward, Adam): patches/s and the achieved GFLOP/s for full512 (512 x 191), the
   overcomplete full1024 and the CICA image prior (3 x 150 x 64). FLOPs counted by hand, 2 per multiply-add:
   forward ``s = z W^T`` (2 B K d), the Gram ``W W^T`` (2 K^2 d), ``g^T g`` (2 B K^2); the backward pass costs
   about twice the forward, so a step is counted as 3 x forward.
2. **A prior in an inversion step**: seconds per Adam step of a VGG16 feature inversion at ``--size`` px from
   conv3_3, alone and with the full512 prior (random weights: cost does not depend on the values), and the
   prior's own FLOPs (``2 x positions x K x 192`` forward, about as much again for the input gradient).

Both beside a float32 ``tf.matmul`` rate measured in the same process, with the CPU named.

    .venv/bin/python benchmarks/bench_priors.py               # ~1 min on 2 cores
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_module_training import matmul_gflops  # noqa: E402  (the same reference rate in every benchmark)


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def score_matching_rate(
    K: int, d: int, C: int, batch: int, steps: int, precision: str = "float32"
) -> tuple[float, float]:
    """(patches/s, GFLOP/s) of a compiled score-matching Adam step."""
    import keras
    import numpy as np
    import tensorflow as tf

    from restoration.priors.learned import score_matching_loss

    rng = np.random.default_rng(0)
    shape = (C, K, d) if C > 1 else (K, d)
    W = tf.Variable(rng.normal(0, 1e-3, shape).astype(np.float32))
    a = tf.Variable(rng.normal(0, 1, shape[:-1]).astype(np.float32))
    z = tf.constant(rng.normal(size=(batch, C, d) if C > 1 else (batch, d)).astype(np.float32))
    opt = keras.optimizers.Adam(1e-2)
    opt.build([W, a])

    @tf.function
    def step(z):
        with tf.GradientTape() as tape:
            loss = score_matching_loss(W, a, z, "student", precision=precision)
        g = tape.gradient(loss, [W, a])
        opt.apply_gradients(zip([tf.clip_by_value(x, -1e-3, 1e-3) for x in g], [W, a]))
        return loss

    for _ in range(3):
        step(z).numpy()
    t = time.perf_counter()
    for _ in range(steps):
        step(z).numpy()
    dt = (time.perf_counter() - t) / steps
    fwd = C * (2 * batch * K * d + 2 * K * K * d + 2 * batch * K * K)
    return batch / dt, 3 * fwd / dt / 1e9


def inversion_step_cost(size: int, steps: int) -> tuple[float, float, float]:
    """(s/step without a prior, s/step with full512, prior forward GFLOP per step)."""
    import numpy as np

    from restoration.priors import learned as learned_priors
    from restoration import nets
    from restoration.priors import patches
    from restoration.preimage import QUIET, InvertSettings, invert
    from restoration.objectives import FeatureMSE

    net = nets.vgg16("hed")
    rng = np.random.default_rng(0)
    x = rng.normal(0, 30, (1, size, size, 3)).astype(np.float32)
    phi0 = net(x, "conv3_3").numpy()
    spec = learned_priors.PriorSpec("bench", patches.PatchSpec("input", 3, 8, 8), 512)
    st = patches.PatchStats(1, np.zeros(3), np.zeros((3, 64)), np.ones(3), np.ones((3, 64)))
    wh = patches.Whitening(
        spec.patch,
        patches.Normalisation("dataset_channel", "dataset_channel"),
        st,
        "pca",
        rng.normal(size=(191, 192)),
        rng.normal(size=(192, 191)),
        np.ones(191),
    )
    params = learned_priors.PriorParams(spec, wh, rng.normal(size=(512, 191)), rng.normal(size=512))
    times = []
    for prior in (None, learned_priors.PatchPrior(params, weight=1e-4)):
        obj = FeatureMSE("conv3_3", phi0) if prior is None else FeatureMSE("conv3_3", phi0) + prior
        res = invert(net, obj, InvertSettings(n_steps=steps, lr=1.0), x_init=x, report=QUIET)
        times.append(res.time_per_step_s)
    positions = (size - 7) ** 2
    return times[0], times[1], 2 * positions * 512 * 192 / 1e9


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--inv-steps", type=int, default=20)
    a = p.parse_args()
    import tensorflow as tf

    mm = matmul_gflops(2048, 10)
    print(f"CPU: {cpu_name()}; {os.cpu_count()} logical CPUs; TensorFlow {tf.__version__}")
    print(f"float32 matmul (2048^2): {mm:.0f} GFLOP/s\n")
    print("score matching (student experts, batch %d, Adam + clip):" % a.batch)
    print(f"  {'prior':<22} {'K':>5} {'d':>4} {'C':>3} {'patches/s':>10} {'GFLOP/s':>8} {'of matmul':>9}")
    for name, K, d, C in (
        ("full512", 512, 191, 1),
        ("full1024 (overcomplete)", 1024, 191, 1),
        ("cica_image", 150, 64, 3),
    ):
        rate, gf = score_matching_rate(K, d, C, a.batch, a.steps)
        print(f"  {name:<22} {K:>5} {d:>4} {C:>3} {rate:>10.0f} {gf:>8.1f} {gf / mm:>8.1%}")
    t0, t1, gflop = inversion_step_cost(a.size, a.inv_steps)
    print(f"\nVGG16 conv3_3 inversion at {a.size} px, 1 image, Adam step:")
    print(f"  feature MSE alone      {t0 * 1e3:7.1f} ms/step")
    # the prior's filters are constants: its backward pass is the input gradient only, about one more forward
    rate = 2 * gflop / max(t1 - t0, 1e-9)
    print(
        f"  + full512 prior        {t1 * 1e3:7.1f} ms/step  (+{(t1 - t0) * 1e3:.1f} ms, x{t1 / t0:.2f}; the prior's "
        f"windows x matrix is {gflop:.2f} GFLOP forward, ~{2 * gflop:.2f} with its input gradient = "
        f"{rate:.0f} GFLOP/s, {rate / mm:.0%} of matmul)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
