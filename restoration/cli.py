"""User command line: ``python -m restoration <command> ...``.

Commands
--------
reconstruct  apply the inversion modules a run trained to any image:
             ``python -m restoration reconstruct --run RUN_ID --image PATH --out PNG``
invert       optimisation pre-image (Mahendran & Vedaldi) of one image at one layer:
             ``python -m restoration invert --net vgg16 --layer conv3_3 --image PATH --recipe mv2016 --out PNG``
runs         list the runs in the database (id, figure, status, start, duration)
"""

from __future__ import annotations

import argparse
import sys

from restoration.recipes import RECIPES  # plain data, no TensorFlow import


def _save_png(path: str, rgb) -> None:
    """Write an RGB float image in [0, 255] (clipped) as an 8-bit PNG, creating the folder."""
    from pathlib import Path

    import numpy as np
    from skimage import io as skio

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    skio.imsave(path, np.round(np.clip(rgb, 0, 255)).astype(np.uint8), check_contrast=False)


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    """Load the ``*_modules.npz``/``.json`` artifacts of run ``--run``, push ``--image`` through the run's net to
    the stack's input layer and back through the modules, save the PNG, print PSNR and normalised error."""
    import numpy as np

    from restoration import data, metrics, modules, nets, reconstruction, tracking

    rec = tracking.get_run(args.run)
    npz = sorted(n for n in rec.artifact_names if n.endswith("_modules.npz"))
    if not npz:
        raise KeyError(f"run {rec.id} ({rec.experiment}, {rec.status}) stored no trained modules (*_modules.npz); "
                       f"its artifacts are {rec.artifact_names}. Use a completed trained-inversion run "
                       f"(`python -m restoration runs --figure fig06 --status COMPLETED`).")
    stack = modules.load_stack_bytes(rec.artifact(npz[0]), rec.artifact(npz[0][:-len(".npz")] + ".json"))
    cfg = rec.config
    net = nets.build(cfg.get("net", "vgg16"), cfg.get("weights", "default"), seed=int(cfg.get("seed", 0)))
    size = args.size or cfg.get("eval_size") or cfg.get("crop")
    image = data.load_image(args.image, size=size)
    out = reconstruction.reconstruct(net, stack, image.astype(np.float32))
    _save_png(args.out, out)
    print(f"run {rec.id} ({rec.experiment}): {stack.in_layer} -> image through {len(stack)} modules "
          f"({', '.join(s.name for s in stack.specs)}); net {net.name}: {net.weights_label}")
    print(f"image {args.image} at {image.shape[1]}x{image.shape[0]} px")
    print(f"PSNR {metrics.psnr(image, out):.2f} dB   normalised error ||x-x0||^2/||x0||^2 "
          f"{metrics.normalized_error(out, image.astype(np.float32)):.5f}")
    print(f"wrote {args.out}")
    return 0


def _cmd_invert(args: argparse.Namespace) -> int:
    """Optimisation pre-image of ``--image`` at ``--layer`` with a recipe (``restoration.recipes``); saves the
    pre-image as PNG and prints the final normalised feature error and every term of the objective."""
    import numpy as np

    from restoration import data, inversion, metrics, nets, recipes

    net = nets.build(args.net, args.weights or "default")
    recipe = recipes.get_recipe(args.recipe)
    size = args.size or recipe.image_size.get(net.name, net.default_size)
    image = data.load_image(args.image, size=size).astype(np.float32)
    res = inversion.invert_layer(net, image[None], args.layer, recipe=recipe, n_steps=args.steps,
                                 optimizer=args.optimizer)
    out = np.clip(res.rgb[0], 0, 255)
    _save_png(args.out, out)
    layer = net.resolve(args.layer)
    print(f"{net.name} ({net.weights_label}) layer {layer}; recipe {recipe.name}, {res.optimizer}, "
          f"{res.n_steps} steps, {size}x{size} px, {res.wall_time_s:.1f} s "
          f"({1000 * res.time_per_step_s:.1f} ms/step)")
    print(f"normalised feature error ||phi(x)-phi0||^2/||phi0||^2: {float(res.feature_errors[layer][0]):.5f}")
    for name, value in res.terms.items():
        print(f"  {name:24s} {value:.6g}")
    print(f"image: SSIM {metrics.ssim(image, out):.4f}  PSNR {metrics.psnr(image, out):.2f} dB  "
          f"normalised pixel error {metrics.normalized_error(out, image):.4f}")
    print(f"wrote {args.out}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from restoration import tracking
    recs = tracking.runs(args.figure, status=args.status)
    if not recs:
        print(f"no runs in {tracking.db_url()}")
        return 0
    print(f"{'id':>5}  {'figure':8} {'status':11} {'started':19}  {'duration':>9}")
    for r in recs:
        start = r.start_time.strftime("%Y-%m-%d %H:%M:%S") if r.start_time else "-"
        dur = f"{r.duration_s:8.0f}s" if r.duration_s is not None else "-"
        print(f"{r.id:>5}  {r.experiment:8} {r.status:11} {start:19}  {dur:>9}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m restoration", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reconstruct", help="apply a run's trained inversion modules to an image")
    r.add_argument("--run", required=True, help="run id (see `python -m restoration runs`)")
    r.add_argument("--image", required=True, help="path of the image to reconstruct")
    r.add_argument("--out", required=True, help="output PNG path")
    r.add_argument("--size", type=int, default=None,
                   help="centre-crop and resize the image to SIZE px (default: the run's held-out evaluation size)")
    r.set_defaults(func=_cmd_reconstruct)

    i = sub.add_parser("invert", help="optimisation pre-image of an image at a layer")
    i.add_argument("--net", default="vgg16", choices=["vgg16", "alexnet"])
    i.add_argument("--weights", default=None,
                   help="weights: 'hed' (VGG16 default), a .h5/.npy path; AlexNet needs bvlc_alexnet.npy")
    i.add_argument("--layer", required=True, help="layer name, e.g. conv3_3 or pool5")
    i.add_argument("--image", required=True, help="path of the image to invert")
    i.add_argument("--recipe", default="mv2016", choices=sorted(RECIPES), help="optimisation recipe")
    i.add_argument("--optimizer", default=None, choices=["adam", "momentum", "lbfgs"],
                   help="override the recipe's optimiser")
    i.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    i.add_argument("--size", type=int, default=None, help="image size (default: the net's, 224 / 227)")
    i.add_argument("--out", required=True, help="output PNG path")
    i.set_defaults(func=_cmd_invert)

    s = sub.add_parser("runs", help="list runs in the database")
    s.add_argument("--figure", default=None, help="only this experiment, e.g. fig06")
    s.add_argument("--status", default=None, help="only this status, e.g. COMPLETED")
    s.set_defaults(func=_cmd_runs)
    return p


def main(argv: list[str] | None = None) -> int:
    from restoration.errors import (DivergenceError, ImageReadError, UnknownLayerError,
                                    WeightsNotFoundError)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (WeightsNotFoundError, ImageReadError, UnknownLayerError, DivergenceError, KeyError, ValueError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
