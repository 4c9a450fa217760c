"""User command line: ``python -m restoration <command> ...``.

Commands
--------
reconstruct  apply the inversion modules a run trained to any image:
             ``python -m restoration reconstruct --run RUN_ID --image PATH --out PNG``
invert       optimisation pre-image (Mahendran & Vedaldi) of one image at one layer:
             ``python -m restoration invert --net vgg16 --layer conv3_3 --image PATH --recipe mv2016 --out PNG``
runs         list the runs in the database with their state (running, died, incomplete, ...);
             ``--mark-dead`` marks runs whose process died FAILED, ``--recover`` attaches spooled records
resume       re-run runs with their stored config, resuming from their checkpoints:
             ``python -m restoration resume RUN_ID ...`` or ``resume --dead``

Arguments are checked before any work starts; an error is one line naming the argument and the fix, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from restoration.recipes import RECIPES  # plain data, no TensorFlow import

MIN_SIZE = 16  # px: below this a reconstruction or pre-image says nothing (VGG16's pool1 would be 8x8)


def _size(text: str) -> int:
    """argparse type of ``--size``: an integer of at least :data:`MIN_SIZE` px."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer number of pixels")
    if value < MIN_SIZE:
        raise argparse.ArgumentTypeError(f"{value} px is too small; use at least {MIN_SIZE} (the image is resized "
                                         f"to SIZE x SIZE)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _out_png(text: str) -> str:
    """argparse type of ``--out``: a .png path whose folder exists or can be made, and that can be written."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r} must end in .png (the result is written as an 8-bit PNG)")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name ending in .png")
    folder = path.parent if str(path.parent) else Path(".")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written (no write permission in {probe}); choose "
                                         f"another path")
    return text


def _save_png(path: str, rgb) -> str:
    """Write an RGB float image in [0, 255] (clipped) as an 8-bit PNG, creating the folder. If that fails after
    the work is done, the image goes to a temporary file instead, and that path is returned."""
    import tempfile

    import imageio.v3 as iio
    import numpy as np

    pixels = np.round(np.clip(rgb, 0, 255)).astype(np.uint8)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, pixels, extension=".png")
        return path
    except OSError as e:
        fallback = tempfile.NamedTemporaryFile(prefix="restoration-", suffix=".png", delete=False).name
        iio.imwrite(fallback, pixels, extension=".png")
        print(f"warning: could not write {path} ({e}); the result was saved to {fallback}", file=sys.stderr)
        return fallback


def _load_sized(path: str, size: int):
    """The image's centred square at ``size`` px; refuses to upscale an image smaller than that."""
    from restoration import data

    native = data.load_image(path)
    side = min(native.shape[:2])
    if side < size:
        raise ValueError(f"--image {path} is {native.shape[1]}x{native.shape[0]} px, smaller than --size {size}: it "
                         f"would be upscaled; pass --size {max(side, MIN_SIZE)} or a larger image")
    return data.center_crop_resize(native, size)


def _check_size(net, layer: str, size: int) -> None:
    """Refuse a ``--size`` the net cannot take to ``layer`` (too small for its windows, or not the input size that
    fully connected layers need)."""
    if layer == "input":
        return
    try:
        net.layer_hw(layer, (size, size))
    except ValueError as e:
        if "fully connected" in str(e):
            if size != net.default_size:
                raise ValueError(f"--size {size}: {layer} lies behind {net.name}'s fully connected layers, which need "
                                 f"its input size; pass --size {net.default_size}") from e
            return
        raise ValueError(f"--size {size} is too small to reach {net.name}'s {layer} ({e}); use a larger size") from e


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    """Load the ``*_modules.npz``/``.json`` artifacts of run ``--run``, push ``--image`` through the run's net to
    the stack's input layer and back through the modules, save the PNG, print PSNR and normalised error."""
    import numpy as np

    from restoration import metrics, modules, nets, reconstruction, tracking

    rec = tracking.get_run(args.run)
    npz = sorted(n for n in rec.artifact_names if n.endswith("_modules.npz"))
    if not npz:
        raise KeyError(f"run {rec.id} ({rec.experiment}, {rec.state_text}) stored no trained modules "
                       f"(*_modules.npz); its artifacts are {rec.artifact_names}. Use a completed trained-inversion "
                       f"run (`python -m restoration runs --status completed`).")
    stack = modules.load_stack_bytes(rec.artifact(npz[0]), rec.artifact(npz[0][:-len(".npz")] + ".json"))
    cfg = rec.config
    net = nets.build(cfg.get("net", "vgg16"), cfg.get("weights", "default"), seed=int(cfg.get("seed", 0)))
    size = args.size or int(cfg.get("eval_size") or cfg.get("crop") or 128)
    _check_size(net, stack.in_layer, size)
    image = _load_sized(args.image, size)
    out = reconstruction.reconstruct(net, stack, image.astype(np.float32))
    written = _save_png(args.out, out)
    print(f"run {rec.id} ({rec.experiment}): {stack.in_layer} -> image through {len(stack)} modules "
          f"({', '.join(s.name for s in stack.specs)}); net {net.name}: {net.weights_label}")
    print(f"image {args.image} at {image.shape[1]}x{image.shape[0]} px")
    print(f"PSNR {metrics.psnr(image, out):.2f} dB   normalised error ||x-x0||^2/||x0||^2 "
          f"{metrics.normalized_error(out, image.astype(np.float32)):.5f}")
    print(f"wrote {written}")
    return 0


def _cmd_invert(args: argparse.Namespace) -> int:
    """Optimisation pre-image of ``--image`` at ``--layer`` with a recipe (``restoration.recipes``); saves the
    pre-image as PNG and prints the final normalised feature error and every term of the objective."""
    import numpy as np

    from restoration import inversion, metrics, nets, recipes

    net = nets.build(args.net, args.weights or "default")
    layer = net.resolve(args.layer)
    recipe = recipes.get_recipe(args.recipe)
    size = args.size or recipe.image_size.get(net.name, net.default_size)
    _check_size(net, layer, size)
    image = _load_sized(args.image, size).astype(np.float32)
    res = inversion.invert_layer(net, image[None], args.layer, recipe=recipe, n_steps=args.steps,
                                 optimizer=args.optimizer)
    out = np.clip(res.rgb[0], 0, 255)
    written = _save_png(args.out, out)
    print(f"{net.name} ({net.weights_label}) layer {layer}; recipe {recipe.name}, {res.optimizer}, "
          f"{res.n_steps} steps, {size}x{size} px, {res.wall_time_s:.1f} s "
          f"({1000 * res.time_per_step_s:.1f} ms/step)")
    print(f"normalised feature error ||phi(x)-phi0||^2/||phi0||^2: {float(res.feature_errors[layer][0]):.5f}")
    for name, value in res.terms.items():
        print(f"  {name:24s} {value:.6g}")
    print(f"image: SSIM {metrics.ssim(image, out):.4f}  PSNR {metrics.psnr(image, out):.2f} dB  "
          f"normalised pixel error {metrics.normalized_error(out, image):.4f}")
    print(f"wrote {written}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from restoration import tracking

    if args.recover:
        left = tracking.recover()
        if not left:
            print("nothing spooled: every run's record is in the database")
        for run_id, n in left.items():
            print(f"run {run_id}: " + ("record recovered" if n == 0 else f"{n} events still wait (database busy?)"))
    if args.mark_dead:
        marked = tracking.mark_dead()
        for r in marked:
            print(f"run {r.id} ({r.experiment}): marked FAILED, {r.state_text}")
        if not marked:
            print("no dead runs")
    recs = tracking.runs(args.figure, status=args.status)
    if not recs:
        print(f"no runs in {tracking.describe(tracking.db_url())}"
              + (f" with figure {args.figure!r}" if args.figure else "")
              + (f" and status {args.status!r}" if args.status else ""))
        return 0
    print(f"{'id':>5}  {'figure':20} {'state':11} {'started':19}  {'duration':>9}  detail")
    for r in recs:
        start = r.start_time.strftime("%Y-%m-%d %H:%M:%S") if r.start_time else "-"
        dur = f"{r.duration_s:8.0f}s" if r.duration_s is not None else "-"
        detail = r.state_text if r.state not in ("COMPLETED", "INTERRUPTED") else ""
        print(f"{r.id:>5}  {r.experiment:20} {r.state:11} {start:19}  {dur:>9}  {detail}")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    """Re-run runs with their stored config (the same config hash, so their checkpoints are resumed)."""
    import json
    import subprocess
    import tempfile

    from restoration import tracking

    if args.dead:
        tracking.mark_dead()
        everything = tracking.runs()
        died = [r for r in everything if r.status == "FAILED" and (r.fail_trace or "").startswith("died:")
                and r.command in (None, "main")]
        # resume a died run unless a later run of the same experiment and config exists (it was resumed already)
        targets = [r for r in died if not any(o.start_time and r.start_time and o.start_time > r.start_time
                                              and o.experiment == r.experiment and o.config == r.config
                                              for o in everything)]
    else:
        targets = [tracking.get_run(i) for i in args.run_ids]
    if not targets:
        print("nothing to resume")
        return 0
    code = 0
    for r in targets:
        config = {k: v for k, v in r.config.items() if k != "__doc__"}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(config, f)
        print(f"resuming run {r.id} ({r.experiment}, {r.state_text}) with its stored config", flush=True)
        rc = subprocess.call([sys.executable, "-m", "experiments", r.experiment, "with", f.name])
        os.unlink(f.name)
        code = code or rc
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m restoration", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reconstruct", help="apply a run's trained inversion modules to an image")
    r.add_argument("--run", required=True, help="run id (see `python -m restoration runs`)")
    r.add_argument("--image", required=True, help="path of the image to reconstruct")
    r.add_argument("--out", required=True, type=_out_png, help="output PNG path")
    r.add_argument("--size", type=_size, default=None,
                   help=f"centre-crop and resize the image to SIZE px, at least {MIN_SIZE} and at most the image's "
                        f"shorter side (default: the run's held-out evaluation size)")
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
    i.add_argument("--steps", type=_positive, default=None, help="override the recipe's number of steps")
    i.add_argument("--size", type=_size, default=None, help="image size (default: the net's, 224 / 227)")
    i.add_argument("--out", required=True, type=_out_png, help="output PNG path")
    i.set_defaults(func=_cmd_invert)

    s = sub.add_parser("runs", help="list runs in the database with their state")
    s.add_argument("--figure", default=None, help="only this experiment, e.g. fig06")
    s.add_argument("--status", default=None,
                   help="only this state, any case: completed, failed, interrupted, running, died, incomplete")
    s.add_argument("--mark-dead", action="store_true",
                   help="first mark runs whose heartbeat stopped (the process died) FAILED")
    s.add_argument("--recover", action="store_true",
                   help="first attach spooled records (kept on disk while the database was busy) to the database")
    s.set_defaults(func=_cmd_runs)

    u = sub.add_parser("resume", help="re-run runs with their stored config, resuming from their checkpoints")
    u.add_argument("run_ids", nargs="*", help="run ids")
    u.add_argument("--dead", action="store_true",
                   help="mark dead runs, then resume every died run that no later run of the same config followed")
    u.set_defaults(func=_cmd_resume)
    return p


def main(argv: list[str] | None = None) -> int:
    from restoration.errors import (DivergenceError, ImageReadError, UnknownLayerError,
                                    WeightsNotFoundError)
    from restoration.tracking.database import DatabaseError
    args = build_parser().parse_args(argv)
    if args.command == "resume" and not args.run_ids and not args.dead:
        print("error: resume needs run ids or --dead", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (WeightsNotFoundError, ImageReadError, UnknownLayerError, DivergenceError, DatabaseError, KeyError,
            ValueError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
