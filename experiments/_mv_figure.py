"""Shared body of the Mahendran & Vedaldi figures (fig01 AlexNet, fig02 VGG16): images, layer sweep,
Adam vs L-BFGS, artifacts and report payload. Not an experiment itself (no Sacred ``ex`` here)."""

from __future__ import annotations

import time

from restoration import tracking


def check_config(*, n_images, size, steps, lr_scale, compare_steps, log_every, layers) -> None:
    """The M&V figures' config, checked once at the entry; errors name the key and an example fix."""
    import math

    for key, value, optional in (("n_images", n_images, False), ("size", size, False), ("steps", steps, True),
                                 ("compare_steps", compare_steps, False), ("log_every", log_every, False)):
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"config {key}={value!r}: must be a positive integer" + (" or None" if optional else "")
                             + f", e.g. `with {key}=10`")
    if size < 16:
        raise ValueError(f"config size={size}: images below 16 px say nothing about a layer; use e.g. size=64")
    if isinstance(lr_scale, bool) or not isinstance(lr_scale, (int, float)) or not (
            lr_scale > 0 and math.isfinite(lr_scale)):
        raise ValueError(f"config lr_scale={lr_scale!r}: must be a positive number, e.g. `with lr_scale=1.0`")
    if not layers or not all(isinstance(la, str) for la in layers):
        raise ValueError(f"config layers={layers!r}: must be a non-empty list of layer names, e.g. ['conv3_3']")


def load_images(images, image_dir, n_images, size):
    """``[(name, rgb uint8 (size, size, 3))]``: embedded photos by name, or the first images of a folder."""
    from restoration import data

    if image_dir is not None:
        named = data.folder_images(image_dir, size=size)[:n_images]
    else:
        by_name = dict(data.embedded_images("all"))
        unknown = [n for n in images if n not in by_name]
        if unknown:
            raise ValueError(f"config images: {unknown} are not embedded photos; choose from {sorted(by_name)}")
        named = [(n, data.center_crop_resize(by_name[n], size)) for n in images[:n_images]]
    if not named:
        raise ValueError("no images to invert: check `images`/`image_dir` and `n_images`")
    return named


def run_figure(_run, *, name, title, fnet, named, layers, recipe, steps, lr_scale, compare_layer, compare_steps,
               log_every, seed, paragraphs):
    """The shared body of fig01/fig02: sweep, comparison, artifacts, report. Returns the mean feature error at
    the deepest layer (Sacred's float result)."""
    import numpy as np

    from restoration import inversion, inversion_tables, recipes
    from restoration.payload import FigureRef, Payload

    t0 = time.time()
    r = recipes.get_recipe(recipe)
    if steps is not None:
        r = r.with_steps(int(steps))
    if lr_scale != 1.0:
        r = r.with_lr_scale(float(lr_scale))
    images = np.stack([im for _, im in named]).astype(np.float32)
    names = [n for n, _ in named]
    log = tracking.metric_logger(_run)

    sweep = inversion.sweep_layers(fnet, images, layers, image_names=names, recipe=r, log=log,
                                   log_every=log_every, seed=seed)
    tables = [inversion_tables.sweep_table(sweep, f"{fnet.name}: pre-image quality per layer ({r.name}, "
                                           f"{r.n_steps} steps, {images.shape[1]} px, {len(names)} images)")]
    cmp = None
    if compare_layer:
        opts = (r.optimizer, "lbfgs") if r.optimizer != "lbfgs" else ("adam", "lbfgs")
        cmp = inversion.compare_optimizers(fnet, images, compare_layer, optimizers=opts,
                                           n_steps=int(compare_steps), recipe=r, log=log, seed=seed)
        label = " vs ".join("L-BFGS" if o == "lbfgs" else o.capitalize() for o in opts)
        tables.append(inversion_tables.comparison_table(
            cmp, compare_layer, f"{label} at {compare_layer}: same images, objective and iteration budget"))

    tracking.add_figure(_run, inversion_tables.sweep_figure(sweep), f"{name}_grid.png")
    arrays = {f"rec_{layer.replace('/', '_')}": sweep.results[layer].rgb.astype(np.float32) for layer in layers}
    tracking.add_npz(_run, f"{name}_reconstructions.npz", originals=images, **arrays)
    scores = {layer: {k: v.tolist() for k, v in sweep.scores[layer].items()} for layer in layers}
    tracking.add_json(_run, {"images": names, "layers": list(layers), "scores": scores,
                             "settings": sweep.settings, "recipe": r.name, "steps": r.n_steps,
                             "lr_schedule": r.lr_schedule}, f"{name}_scores.json")

    deepest = layers[-1]
    # Headline first (the report's overview shows the first two entries); per-layer numbers are in the table.
    head = compare_layer if compare_layer in layers else deepest
    summary = {f"feat_err@{head}": float(np.mean(sweep.scores[head]["feat_err"])),
               f"ssim_mean@{head}": float(np.mean(sweep.scores[head]["ssim"])),
               "feat_err@mean over layers": float(np.mean([np.mean(sweep.scores[la]["feat_err"]) for la in layers])),
               "layers": len(layers), "images": len(names), "steps": r.n_steps, "size_px": int(images.shape[1]),
               "wall_s": round(time.time() - t0, 1)}
    if cmp:
        for opt, c in cmp.items():
            summary[f"feat_err@{opt}, {compare_layer}"] = float(np.mean(c["feat_err"]))
            summary[f"wall_s@{opt}, {compare_layer}"] = round(float(c["wall_s"]), 2)
    paras = list(paragraphs) + [
        f"Recipe {r.name}: {r.optimizer}, {r.n_steps} steps, learning rate schedule "
        f"{[(s, round(lr, 4)) for s, lr in r.lr_schedule]} "
        f"{'on the image in grey levels' if r.scale == 1 else f'on u = x / {r.scale:g}'}, jitter off for the "
        f"last {r.jitter_off_steps} steps; feature-loss weight C and jitter by depth (table); "
        + (f"alpha-norm (alpha {r.alpha:g}, B {r.alpha_B:g}) and TV (beta {r.beta:g}, V = B/6.5) normalised as "
           f"in Mahendran & Vedaldi 2016" if r.alpha_normalise and r.tv_normalise else
           f"alpha-norm (alpha {r.alpha:g}) and TV (beta {r.beta:g}) with Mahendran & Vedaldi 2015's "
           f"unnormalised weights on u = x / {r.scale:g}")
        + f". Jitter rule {r.jitter_rule!r} (restoration.jitter); pixel constraint {r.pixel_constraint!r}"
        + (f" (each pixel's mean-subtracted colour vector kept within norm {r.ball_radius:g}, M&V's 2B)"
           if r.pixel_constraint == "ball" else "")
        + f"; start {'from the target image (the thesis benchmark)' if r.init == 'target' else 'from noise'}."
        + " Errors are measured without jitter on the final pre-image; SSIM/PSNR on RGB clipped to [0, 255].",
    ]
    if cmp:
        paras.append("L-BFGS (scipy L-BFGS-B on TensorFlow gradients) runs without jitter, since its line search "
                     "needs a fixed objective; an iteration may cost several objective evaluations.")
    tracking.set_report(_run, Payload(
        title=title, net=fnet.weights_label, summary=summary, paragraphs=paras,
        figures=[FigureRef(f"{name}_grid.png", f"Pre-images from each layer (columns; first column: original) for "
                                               f"{len(names)} images (rows), {r.name}, {r.n_steps} steps.")],
        tables=tables))
    return float(np.mean(sweep.scores[deepest]["feat_err"]))
