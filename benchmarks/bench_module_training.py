"""Training throughput of one inversion module next to the machine's float32 matmul rate.

For each module of the VGG16 pool1 stack (or the one chosen with ``--module``) it times the compiled
training step (forward, backward, Adam update) on synthetic input activations of the right shape and reports
images/s and the achieved GFLOP/s, counting convolution FLOPs explicitly (``ModuleSpec.flops``, 2 per
multiply-add): forward = both (de)convolutions; backward = the kernel gradients of
both (1 x forward each) plus the input gradient of the second layer only, since the module's input is a
constant and TensorFlow computes no gradient into it. So one step = (3 x forward - first layer) x batch.
A float32 ``tf.matmul`` of two n x n matrices (2 n^3 FLOPs) measured in the same process gives a reference
rate for the machine.

    .venv/bin/python benchmarks/bench_module_training.py                  # 64 px, batch 16, ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_module_training.py --size 224 --batch 32 --steps 5   # thesis scale
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def matmul_gflops(n: int, repeats: int) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    b = tf.random.normal((n, n), dtype=tf.float32)
    mm = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    mm(a, b).numpy()  # trace + warm up
    t = time.perf_counter()
    for _ in range(repeats):
        mm(a, b).numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def module_step_rate(spec, size: int, batch: int, steps: int, warmup: int) -> tuple[float, float]:
    """(seconds per training step, FLOPs per step) of one bound module on (batch, size/s, size/s, C_in)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from restoration import stacks

    model = stacks.build_module(spec)
    h_in = spec.op_geometry.out_size(size)
    x = tf.constant(np.random.default_rng(0).normal(size=(batch, h_in, h_in, spec.in_channels)), tf.float32)
    y = tf.constant(np.random.default_rng(1).normal(size=(batch, size, size, spec.out_channels)), tf.float32)
    opt = keras.optimizers.Adam(1e-4)
    opt.build(model.trainable_variables)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, out_hw=(size, size)) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for _ in range(warmup):
        step(x, y).numpy()
    t = time.perf_counter()
    for _ in range(steps):
        step(x, y).numpy()
    sec = (time.perf_counter() - t) / steps
    first, second = spec.flops((h_in, h_in))
    # forward (first + second) + kernel gradients (first + second) + input gradient of the second layer only:
    # the module input is a constant, so no gradient flows into it (measured: asking for it adds ~1x forward).
    return sec, (3.0 * (first + second) - first) * batch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64, help="image side in px (module output side), multiple of 2")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10, help="timed steps per module")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--kind", default="DC", choices=["CD", "DC", "DD", "UCC"])
    p.add_argument("--kernel", type=int, default=5)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--module", default=None, help="only this module (DC3, DC2, DC1); default all three")
    p.add_argument("--matmul", type=int, default=4096, help="matmul side n")
    p.add_argument("--matmul-repeats", type=int, default=5)
    args = p.parse_args(argv)
    if args.size % 2:
        p.error("--size must be even (pool1 halves it)")

    import tensorflow as tf

    from restoration import stacks
    from restoration import nets

    net = nets.vgg16("hed")  # only its layer shapes are used
    specs = [s.bind(net) for s in stacks.vgg16_pool1_specs(kind=args.kind, kernel=args.kernel, hidden=args.hidden)]
    if args.module:
        specs = [s for s in specs if s.name == args.module]
        if not specs:
            names = [s.name for s in stacks.vgg16_pool1_specs(kind=args.kind)]
            p.error(f"--module {args.module!r}: choose from {names}")

    mm = matmul_gflops(args.matmul, args.matmul_repeats)
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} logical CPUs, intra-op threads "
        f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}"
    )
    print(f"float32 matmul {args.matmul}x{args.matmul}: {mm:8.1f} GFLOP/s")
    print(
        f"module training step, {args.size} px images, batch {args.batch}, {args.steps} timed steps "
        f"(FLOPs = 3 x forward - first layer: no gradient into the constant input)"
    )
    print(
        f"{'module':7} {'operation':26} {'ms/step':>8} {'images/s':>9} {'GFLOP/step':>11} {'GFLOP/s':>8} "
        f"{'% of matmul':>11}"
    )
    for spec in specs:
        sec, flops = module_step_rate(spec, args.size, args.batch, args.steps, args.warmup)
        g = flops / sec / 1e9
        print(
            f"{spec.name:7} {spec.in_layer + ' -> ' + spec.out_layer:26} {sec * 1e3:8.1f} {args.batch / sec:9.1f} "
            f"{flops / 1e9:11.2f} {g:8.1f} {100 * g / mm:10.0f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
