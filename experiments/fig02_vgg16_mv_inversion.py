"""Fig. 2: VGG16 pre-images from every block (Mahendran & Vedaldi 2016 optimisation inversion).

For each layer, the same images are reconstructed from their features by minimising
``C ||Phi(x) - Phi0||^2 / ||Phi0||^2 + R_alpha(x) + R_TV(x)`` (recipe ``mv2016`` in ``restoration.recipes``:
depth-dependent C and jitter, Adam with a 3-stage learning rate). The figure shows layers across and images
down; the tables give the feature error reached, SSIM/PSNR against the original and time per step, and put
Adam next to L-BFGS on one layer with the same step budget.

Weights: the offline HED VGG16 trunk (conv layers only - an edge detector fine-tuned from ImageNet VGG16, not
the ImageNet classifier), so there are no fc layers to invert; a VGG16 file with fc layers (``weights=path``)
adds fc6-fc8 to ``layers`` if you list them.

Reproduce::

    make reproduce-figure-2          # = .venv/bin/python -m experiments fig02 with quick
    .venv/bin/python -m experiments fig02 with thesis      # the full recipe (GPU; days of CPU)

``quick`` (default): 3 embedded photos at 64 px, the last conv and the pool of each block (10 layers),
300 Adam steps (the recipe's schedule compressed, learning rates x10 to travel as far), plus Adam vs L-BFGS
at conv3_3 for 100 steps each. About 6-7 min on 2 CPU cores. ``thesis``: 224 px, all 13 conv and 5 pool
layers, 3500 steps (0.26 s/step at conv3_3 on 2 CPU cores, so about 4-6 hours per image on CPU).
"""

from __future__ import annotations

import time

from restoration import tracking

NAME = "fig02"
ex = tracking.make_experiment(NAME)

QUICK_LAYERS = ["conv1_2", "pool1", "conv2_2", "pool2", "conv3_3", "pool3", "conv4_3", "pool4", "conv5_3",
                "pool5"]
ALL_LAYERS = ["conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2", "conv3_1", "conv3_2", "conv3_3",
              "pool3", "conv4_1", "conv4_2", "conv4_3", "pool4", "conv5_1", "conv5_2", "conv5_3", "pool5"]


@ex.config
def config():
    profile = "quick"  # noqa: F841  label of the named config used
    net = "vgg16"  # "vgg16" | "tiny_vgg" (tests)
    weights = "hed"  # vgg16 weights: "hed", a .h5/.npy path, or None (random)
    images = ["astronaut", "coffee", "chelsea"]  # embedded photo names (restoration.data.embedded_images)
    image_dir = None  # or a folder of images (then `images` is ignored; the first n_images are used)
    n_images = 3
    size = 64  # image side; the recipe's is 224
    layers = QUICK_LAYERS
    recipe = "mv2016"
    steps = 300  # None = the recipe's 3500
    lr_scale = 10.0  # multiplies the recipe's learning rates (quick: compensates for the shorter schedule)
    compare_layer = "conv3_3"  # Adam vs L-BFGS on this layer (None: skip)
    compare_steps = 100
    log_every = 10
    seed = 0


@ex.named_config
def quick():
    profile = "quick"  # noqa: F841


@ex.named_config
def thesis():
    profile = "thesis"  # noqa: F841
    size = 224
    layers = ALL_LAYERS
    steps = None
    lr_scale = 1.0
    compare_steps = 3500


def load_net(net, weights, seed):
    from restoration import nets

    if net == "vgg16":
        return nets.vgg16(weights=weights, seed=seed)
    if net == "tiny_vgg":
        return nets.tiny_vgg(seed=seed)
    raise ValueError(f"config net={net!r}: use 'vgg16' or 'tiny_vgg'")


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

    from restoration import inversion, recipes

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
    tables = [inversion.sweep_table(sweep, f"{fnet.name}: pre-image quality per layer ({r.name}, "
                                           f"{r.n_steps} steps, {images.shape[1]} px, {len(names)} images)")]
    cmp = None
    if compare_layer:
        cmp = inversion.compare_optimizers(fnet, images, compare_layer, n_steps=int(compare_steps), recipe=r,
                                           log=log, seed=seed)
        tables.append(inversion.comparison_table(
            cmp, compare_layer, f"Adam vs L-BFGS at {compare_layer}: same images, objective and iteration budget"))

    tracking.add_figure(_run, inversion.sweep_figure(sweep), f"{name}_grid.png")
    arrays = {f"rec_{layer.replace('/', '_')}": sweep.results[layer].rgb.astype(np.float32) for layer in layers}
    tracking.add_npz(_run, f"{name}_reconstructions.npz", originals=images, **arrays)
    scores = {layer: {k: v.tolist() for k, v in sweep.scores[layer].items()} for layer in layers}
    tracking.add_json(_run, {"images": names, "layers": list(layers), "scores": scores,
                             "settings": sweep.settings, "recipe": r.name, "steps": r.n_steps,
                             "lr_schedule": r.lr_schedule}, f"{name}_scores.json")

    deepest = layers[-1]
    summary = {"n_layers": len(layers), "n_images": len(names), "steps": r.n_steps, "size": int(images.shape[1]),
               "wall_time_s": round(time.time() - t0, 1)}
    for layer in layers:
        summary[f"feat_err_{layer}"] = float(np.mean(sweep.scores[layer]["feat_err"]))
        summary[f"ssim_{layer}"] = float(np.mean(sweep.scores[layer]["ssim"]))
    if cmp:
        for opt, c in cmp.items():
            summary[f"{opt}_feat_err_{compare_layer}"] = float(np.mean(c["feat_err"]))
            summary[f"{opt}_wall_s_{compare_layer}"] = round(float(c["wall_s"]), 2)
    paras = list(paragraphs) + [
        f"Recipe {r.name}: {r.optimizer}, {r.n_steps} steps, learning rate schedule {list(r.lr_schedule)} on "
        f"u = x / {r.scale:g}; feature-loss weight C and jitter by depth (table); alpha-norm (alpha "
        f"{r.alpha:g}, B {r.alpha_B:g}) and TV (beta {r.beta:g}, V = B/6.5) normalised as in Mahendran & "
        f"Vedaldi 2016. Errors are measured without jitter on the final pre-image; SSIM/PSNR on RGB clipped "
        f"to [0, 255].",
    ]
    if cmp:
        paras.append("L-BFGS (scipy L-BFGS-B on TensorFlow gradients) runs without jitter, since its line search "
                     "needs a fixed objective; an iteration may cost several objective evaluations.")
    tracking.set_report(_run, {
        "title": title, "net": fnet.weights_label, "summary": summary, "paragraphs": paras,
        "figures": [{"artifact": f"{name}_grid.png",
                     "caption": f"Pre-images from each layer (columns; first column: original) for "
                                f"{len(names)} images (rows), {r.name}, {r.n_steps} steps."}],
        "tables": tables,
    })
    return float(np.mean(sweep.scores[deepest]["feat_err"]))


@ex.automain
def main(_run, profile, net, weights, images, image_dir, n_images, size, layers, recipe, steps, lr_scale,
         compare_layer, compare_steps, log_every, seed):
    fnet = load_net(net, weights, seed)
    named = load_images(images, image_dir, n_images, size)
    return run_figure(
        _run, name=NAME, title="Fig. 2: VGG16 pre-images from every block (Mahendran & Vedaldi 2016)",
        fnet=fnet, named=named, layers=list(layers), recipe=recipe, steps=steps, lr_scale=lr_scale,
        compare_layer=compare_layer, compare_steps=compare_steps, log_every=log_every, seed=seed,
        paragraphs=[f"Profile {profile}. {fnet.weights_label}: conv layers only, so no fc pre-images."])
