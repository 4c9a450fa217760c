"""Optimisation-inversion throughput (M&V 2016 Adam step on VGG16) next to the machine's float32 matmul rate.

For each layer (default ``conv3_3`` and ``conv5_3``) it runs :func:`restoration.preimage.invert_layer` with the
``mv2016`` recipe on one 224 x 224 image (HED VGG16 weights; the rate does not depend on the weights) and
reports steady-state steps/s (the first, tracing step excluded) and the achieved GFLOP/s. FLOPs are counted
explicitly for the VGG convolutions up to the layer: forward = sum over conv layers of
``2 * H_out * W_out * C_out * (3 * 3 * C_in)``; backward = the same again, because only the gradient w.r.t. the
layer *input* is needed (the weights are constants, so TensorFlow computes no filter gradients). Bias, ReLU,
pooling, the priors and the Adam update are not counted (< 1 % of the work). A float32 ``tf.matmul`` of two
n x n matrices (2 n^3 FLOPs) measured in the same process gives the machine's reachable rate.

    .venv/bin/python benchmarks/bench_inversion.py                 # ~1.5 min on 2 cores
    .venv/bin/python benchmarks/bench_inversion.py --xla --steps 5  # also time the XLA-compiled step
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def vgg_conv_flops(layer: str, size: int) -> tuple[float, float]:
    """(forward, backward-to-input) FLOPs of VGG16's 3x3 'SAME' convolutions up to ``layer`` (convK_J/poolK)
    for one ``size`` x ``size`` image."""
    name = layer.split("/")[0]
    fwd, c_in, h = 0.0, 3, size
    for b, widths in enumerate(VGG16_BLOCKS, start=1):
        for j, c_out in enumerate(widths, start=1):
            fwd += 2.0 * h * h * c_out * 9 * c_in
            c_in = c_out
            if name == f"conv{b}_{j}":
                return fwd, fwd
        h //= 2
        if name == f"pool{b}":
            return fwd, fwd
    raise ValueError(f"not a VGG16 conv/pool layer: {layer!r}")


def matmul_gflops(n: int, repeats: int) -> float:
    import time

    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    b = tf.random.normal((n, n), dtype=tf.float32)
    mm = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    mm(a, b).numpy()
    t = time.perf_counter()
    for _ in range(repeats):
        mm(a, b).numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", nargs="+", default=["conv3_3", "conv5_3"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=20, help="timed Adam steps per layer (after one tracing step)")
    p.add_argument("--weights", default="hed")
    p.add_argument("--xla", action="store_true", help="also time jit_compile=True")
    p.add_argument("--matmul-n", type=int, default=2048)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from restoration import data
    from restoration import preimage
    from restoration import nets

    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, GPUs: {len(tf.config.list_physical_devices('GPU'))}"
    )
    mm = matmul_gflops(args.matmul_n, 10)
    print(f"float32 matmul {args.matmul_n}x{args.matmul_n}: {mm:.1f} GFLOP/s")
    net = nets.vgg16(args.weights)
    img = data.center_crop_resize(dict(data.embedded_images("all"))["astronaut"], args.size)
    images = img[None].astype(np.float32)
    rows = []
    for layer in args.layers:
        fwd, bwd = vgg_conv_flops(layer, args.size)
        for jit in [False, True] if args.xla else [False]:
            res = preimage.invert_layer(
                net, images, layer, n_steps=args.steps + 1, report=preimage.QUIET, jit_compile=jit
            )
            sps = 1.0 / res.time_per_step_s
            gflops = (fwd + bwd) * sps / 1e9
            rows.append(
                {
                    "layer": layer,
                    "size": args.size,
                    "xla": jit,
                    "steps_per_s": sps,
                    "ms_per_step": 1000 * res.time_per_step_s,
                    "first_step_s": res.first_step_s,
                    "gflop_per_step": (fwd + bwd) / 1e9,
                    "achieved_gflops": gflops,
                    "fraction_of_matmul": gflops / mm,
                }
            )
            print(
                f"{layer:8s} {args.size}px xla={str(jit):5s}  {sps:6.2f} steps/s  "
                f"{1000 * res.time_per_step_s:8.1f} ms/step  (first step {res.first_step_s:5.1f} s)  "
                f"{(fwd + bwd) / 1e9:6.1f} GFLOP/step  {gflops:6.1f} GFLOP/s = {100 * gflops / mm:4.0f}% of "
                f"matmul"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"matmul_gflops": mm, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
