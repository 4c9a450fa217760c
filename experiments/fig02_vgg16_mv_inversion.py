"""Fig. 2: VGG16 pre-images from every block (Mahendran & Vedaldi optimisation inversion, 2016 or 2015).

For each layer, the same images are reconstructed from their features by minimising a feature loss plus an
alpha-norm and a TV prior under one of M&V's recipes (``restoration.preimage.recipes``). The figure shows layers across
and images down; the tables give the feature error reached, SSIM/PSNR against the original and time per step,
and put the recipe's optimiser next to L-BFGS on one layer with the same step budget. The payload stores every
image's scores per layer.

Variants (config key ``variant``, a named config each; ``recipe`` may replace the variant's recipe by another of
the same paper):

``mv2016`` (default): recipe ``mv2016_thesis_vgg16``: M&V 2016 (Adam, 3500 steps, alpha-norm + TV normalised
    with B = 80) with the thesis's own VGG16 depth table (C = 300 through conv4_x, 100 at pool4 and conv5_1, 20
    at conv5_2-3, 1 from pool5; jitter 0 through conv2_2, then 1/2/4/8 by block), the thesis's M&V from July 17
    on. ``with recipe=mv2016`` uses AlexNet's table mapped by depth stage instead (this figure's recipe before
    issue 17).
``mv2015``: recipe ``mv2015`` (M&V 2015: momentum with resets, alpha-norm and TV with unnormalised weights on
    u = x / sigma, TV 0.5 / 5 / 50 by depth stage, no jitter, 400 steps, gradients clipped to +-100 as the
    thesis did). This is how the progress log's June 15 Fig. 2 was made (the thesis's runs of May 16; its M&V
    2016 code was "not producing good results yet" until July 17). Those runs set TV by block (0.5 through
    pool2, 5 through pool4, 50 from conv5_1, where the stage rule here has 5 at pool2 and at conv5_x) and ran
    2000 steps with lr / 10 every 500 (``recipes.MV2015``).

Why 2016 is the default although the June figure was 2015: this project's 2015 recipe is fragile and, at the
quick size, poor. Measured on this figure's net (3 photos, 64 px, 300 steps): without the thesis's gradient
clipping it diverged at step 3 from conv3_3 and step 2 from pool5 (and at pool5 at 224 px); with it, it reached
a feature error of 0.36 / 0.33 and SSIM 0.010 / 0.016 at conv3_3 / conv4_3, where ``mv2016_thesis_vgg16``
reached 0.018 and SSIM 0.136 at conv3_3. The thesis itself needed clipping and "several tries" for its 2015
VGG16 runs, and judged M&V by the 2016 recipe from July on. ``with mv2015`` reproduces the June method; its
payload says so.

Weights: the offline HED VGG16 trunk (conv layers only - an edge detector fine-tuned from ImageNet VGG16, not
the ImageNet classifier), so there are no fc layers to invert; a VGG16 file with fc layers (``weights=path``)
adds fc6-fc8 to ``layers`` if you list them.

Reproduce::

    make reproduce-figure-2          # = .venv/bin/python -m restoration_experiments fig02 with quick
    .venv/bin/python -m restoration_experiments fig02 with quick mv2015     # the June figure's recipe
    .venv/bin/python -m restoration_experiments fig02 with thesis   # the full recipe (GPU; days of CPU for 2016)

``quick`` (default): 3 embedded photos at 64 px, the last conv and the pool of each block (10 layers),
300 steps (the recipe's schedule compressed into them), plus the recipe's optimiser vs L-BFGS at conv3_3 for
100 steps each. Measured with recipe mv2016 (this figure's default before issue 17): 2 min 17 s from a fresh
clone on an idle 2-core machine (3-4.7 min with other jobs running); the thesis's depth table and a 2015 step
cost the same forward and backward pass. At 64 px the TV prior weighs
about twice what it does at 224 px. ``thesis``: 224 px, all 13 conv and 5 pool layers, the recipe's own steps
(400 for mv2015; 3500 for mv2016, measured 0.14 s/step at conv3_3 and 0.25 s/step at conv5_3 for one 224 px
image on 2 CPU cores, so roughly 3 hours per image for the 18 layers on CPU; use a GPU), the comparison with as
many.
"""

from __future__ import annotations

from restoration_experiments._mv_figure import (
    MVFigure,
    Variant,
    add_variants,
    check_config,
    load_images,
    resolve_recipe,
    run_figure,
)
from restoration import tracking
from restoration.contract import registry

NAME = "fig02"
ex = tracking.make_experiment(NAME)

#: variant -> recipe and why (the first is the default; see the module docstring)
VARIANTS = {
    "mv2016": Variant(
        "mv2016_thesis_vgg16",
        "M&V 2016 with the thesis's own VGG16 depth table for C and jitter "
        "(utils/mv_benchmark): the thesis's M&V from July 17 on, not what "
        "made the June figure; the default because this project's 2015 recipe "
        "is fragile and poor at the quick size (module docstring).",
    ),
    "mv2015": Variant(
        "mv2015",
        "The method of the progress log's June 15 Fig. 2 (the thesis's M&V 2015 runs of May "
        "16; its M&V 2016 code was 'not producing good results yet' until July 17). Those "
        "runs set TV by block (0.5 through pool2, 5 through pool4, 50 from conv5_1; the "
        "stage rule here has 5 at pool2 and at conv5_x), ran 2000 steps with lr / 10 "
        "every 500 and clipped gradients to +-100 (as here).",
    ),
}

QUICK_LAYERS = ["conv1_2", "pool1", "conv2_2", "pool2", "conv3_3", "pool3", "conv4_3", "pool4", "conv5_3", "pool5"]
ALL_LAYERS = [
    "conv1_1",
    "conv1_2",
    "pool1",
    "conv2_1",
    "conv2_2",
    "pool2",
    "conv3_1",
    "conv3_2",
    "conv3_3",
    "pool3",
    "conv4_1",
    "conv4_2",
    "conv4_3",
    "pool4",
    "conv5_1",
    "conv5_2",
    "conv5_3",
    "pool5",
]


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
    variant = next(iter(VARIANTS))  # "mv2016" | "mv2015" (the June figure's)
    recipe = None  # None = the variant's recipe; or a recipe of the same paper (restoration.preimage.recipes.RECIPES)
    steps = 300  # None = the recipe's own (mv2015: 400, mv2016: 3500)
    lr_scale = 1.0  # multiplies the recipe's learning rates
    compare_layer = "conv3_3"  # the recipe's optimiser vs L-BFGS on this layer (None: skip)
    compare_steps = 100  # None = as many as the sweep's steps
    log_every = 10
    seed = 0
    precision = "auto"  # bfloat16 where measured faster here (AMX: 3x, feature error within 1 %); else float32


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
    compare_steps = None


add_variants(ex, VARIANTS)


def load_net(net, weights, seed, precision="float32"):
    from restoration import nets

    if net == "vgg16":
        return nets.vgg16(weights=weights, seed=seed).with_precision(precision)
    if net == "tiny_vgg":
        return nets.tiny_vgg(seed=seed).with_precision(precision)
    raise ValueError(f"config net={net!r}: use 'vgg16' or 'tiny_vgg'")


@ex.automain
def main(_run, profile, net, weights, images, image_dir, n_images, size, variant, recipe, seed, precision):
    check_config(_run.config)
    resolve_recipe(variant, recipe, VARIANTS)
    fnet = load_net(net, weights, seed, precision)
    named = load_images(images, image_dir, n_images, size)
    fig = MVFigure(
        NAME,
        registry.title(NAME),
        VARIANTS,
        (f"Profile {profile}. {fnet.weights_label}: conv layers only, so no fc pre-images.",),
    )
    return run_figure(_run, fig, fnet, named)
