"""The image commands: ``reconstruct`` (a run's trained modules applied to an image), ``invert`` (an
optimisation pre-image), ``precision`` (this machine's probe); their argument types and image checks."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


MIN_SIZE = 16  # px: below this a reconstruction or pre-image says nothing (VGG16's pool1 would be 8x8)


def size_arg(text: str) -> int:
    """argparse type of ``--size``: an integer of at least :data:`MIN_SIZE` px."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer number of pixels")
    if value < MIN_SIZE:
        raise argparse.ArgumentTypeError(
            f"{value} px is too small; use at least {MIN_SIZE} (the image is resized to SIZE x SIZE)"
        )
    return value


def png_arg(text: str) -> str:
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
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot be written (no write permission in {probe}); choose another path"
        )
    return text


def _save_png(path: str, rgb) -> str:
    """Write an RGB float image in [0, 255] (clipped) as an 8-bit PNG, creating the folder. If that fails after
    the work is done, the image goes to a temporary file instead, and that path is returned."""
    import tempfile

    import imageio.v3 as iio
    import numpy as np

    from restoration import atomic

    pixels = np.round(np.clip(rgb, 0, 255)).astype(np.uint8)
    try:
        with atomic.replacing(path) as tmp:  # whole or not at all
            iio.imwrite(tmp, pixels, extension=".png")
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
        raise ValueError(
            f"--image {path} is {native.shape[1]}x{native.shape[0]} px, smaller than --size {size}: it "
            f"would be upscaled; pass --size {max(side, MIN_SIZE)} or a larger image"
        )
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
                raise ValueError(
                    f"--size {size}: {layer} lies behind {net.name}'s fully connected layers, which need "
                    f"its input size; pass --size {net.default_size}"
                ) from e
            return
        raise ValueError(f"--size {size} is too small to reach {net.name}'s {layer} ({e}); use a larger size") from e


def reconstruct(args: argparse.Namespace) -> int:
    """Load the ``*_modules.npz``/``.json`` artifacts of run ``--run``, push ``--image`` through the run's net to
    the stack's input layer and back through the modules, save the PNG, print PSNR and normalised error."""
    import numpy as np

    from restoration import tracking
    from restoration import metrics
    from restoration import stacks
    from restoration import nets
    from restoration.stacks import reconstruction

    rec = tracking.get_run(args.run)
    npz = sorted(n for n in rec.artifact_names if n.endswith("_modules.npz"))
    if not npz:
        raise KeyError(
            f"run {rec.id} ({rec.experiment}, {rec.state_text}) stored no trained modules "
            f"(*_modules.npz); its artifacts are {rec.artifact_names}. Use a completed trained-inversion "
            f"run (`python -m restoration runs --status completed`)."
        )
    stack = stacks.load_stack_bytes(rec.artifact(npz[0]), rec.artifact(npz[0][: -len(".npz")] + ".json"))
    cfg = rec.config
    size = args.size or int(cfg.get("eval_size") or cfg.get("crop") or 128)
    image = _load_sized(args.image, size)  # the run and the image are checked before TensorFlow starts
    net = nets.build(cfg.get("net", "vgg16"), cfg.get("weights", "default"), seed=int(cfg.get("seed", 0)))
    _check_size(net, stack.in_layer, size)
    out = reconstruction.reconstruct(net, stack, image.astype(np.float32))
    written = _save_png(args.out, out)
    print(
        f"run {rec.id} ({rec.experiment}): {stack.in_layer} -> image through {len(stack)} modules "
        f"({', '.join(s.name for s in stack.specs)}); net {net.name}: {net.weights_label}"
    )
    print(f"image {args.image} at {image.shape[1]}x{image.shape[0]} px")
    print(
        f"PSNR {metrics.psnr(image, out):.2f} dB   normalised error ||x-x0||^2/||x0||^2 "
        f"{metrics.normalized_error(out, image.astype(np.float32)):.5f}"
    )
    print(f"wrote {written}")
    return 0


def invert(args: argparse.Namespace) -> int:
    """Optimisation pre-image of ``--image`` at ``--layer`` with a recipe (``restoration.preimage.recipes``); saves the
    pre-image as PNG and prints the final normalised feature error and every term of the objective."""
    import numpy as np

    from restoration import preimage
    from restoration import metrics
    from restoration import nets
    from restoration.preimage import recipes

    from restoration import data
    from restoration.nets import layers

    # a missing or unreadable image and an unknown layer are named before TensorFlow starts
    data.load_image(args.image)
    own_fc = args.net == "vgg16" and args.weights not in (None, "hed", "default")  # the HED trunk has no fc layers
    layers.table(args.net, include_fc=own_fc).resolve(args.layer)
    net = nets.build(args.net, args.weights or "default", precision=args.precision)
    layer = net.resolve(args.layer)
    recipe = recipes.get_recipe(args.recipe)
    size = args.size or recipe.image_size.get(net.name, net.default_size)
    _check_size(net, layer, size)
    image = _load_sized(args.image, size).astype(np.float32)
    res = preimage.invert_layer(
        net, image[None], args.layer, recipe=recipe, n_steps=args.steps, optimizer=args.optimizer
    )
    out = np.clip(res.rgb[0], 0, 255)
    written = _save_png(args.out, out)
    print(
        f"{net.name} ({net.weights_label}) layer {layer}; recipe {recipe.name}, {res.optimizer}, {net.precision}, "
        f"{res.n_steps} steps, {size}x{size} px, {res.wall_time_s:.1f} s "
        f"({1000 * res.time_per_step_s:.1f} ms/step)"
    )
    print(f"normalised feature error ||phi(x)-phi0||^2/||phi0||^2: {float(res.feature_errors[layer][0]):.5f}")
    for name, value in res.terms.items():
        print(f"  {name:24s} {value:.6g}")
    print(
        f"image: SSIM {metrics.ssim(image, out):.4f}  PSNR {metrics.psnr(image, out):.2f} dB  "
        f"normalised pixel error {metrics.normalized_error(out, image):.4f}"
    )
    print(f"wrote {written}")
    return 0


def precision(args: argparse.Namespace) -> int:
    """This machine's precision probe (measured once per machine kind, cached under the runs folder)."""
    from restoration import precision

    argv = (["--refresh"] if args.refresh else []) + (["--json"] if args.json else [])
    return precision.main(argv)
