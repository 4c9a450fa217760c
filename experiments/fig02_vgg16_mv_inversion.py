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
300 Adam steps (the recipe's schedule compressed into them), plus Adam vs L-BFGS at conv3_3 for 100 steps
each. Measured 2 min 17 s from a fresh clone on an idle 2-core machine (3-4.7 min with other jobs running);
at 64 px the TV prior weighs about twice what it does at 224 px. ``thesis``: 224 px, all 13 conv and 5 pool
layers, 3500 steps (measured 0.14 s/step at conv3_3 and 0.25 s/step at conv5_3 for one 224 px image
on 2 CPU cores, so roughly 3 hours per image for the 18 layers on CPU; use a GPU).
"""

from __future__ import annotations

from experiments._mv_figure import check_config, load_images, run_figure
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
    lr_scale = 1.0  # multiplies the recipe's learning rates
    compare_layer = "conv3_3"  # Adam vs L-BFGS on this layer (None: skip)
    compare_steps = 100
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
    compare_steps = 3500


def load_net(net, weights, seed, precision="float32"):
    from restoration import nets

    if net == "vgg16":
        return nets.vgg16(weights=weights, seed=seed).with_precision(precision)
    if net == "tiny_vgg":
        return nets.tiny_vgg(seed=seed).with_precision(precision)
    raise ValueError(f"config net={net!r}: use 'vgg16' or 'tiny_vgg'")


@ex.automain
def main(_run, profile, net, weights, images, image_dir, n_images, size, layers, recipe, steps, lr_scale,
         compare_layer, compare_steps, log_every, seed, precision):
    check_config(n_images=n_images, size=size, steps=steps, lr_scale=lr_scale, compare_steps=compare_steps,
                 log_every=log_every, layers=layers)
    fnet = load_net(net, weights, seed, precision)
    named = load_images(images, image_dir, n_images, size)
    return run_figure(
        _run, name=NAME, title="Fig. 2: VGG16 pre-images from every block (Mahendran & Vedaldi 2016)",
        fnet=fnet, named=named, layers=list(layers), recipe=recipe, steps=steps, lr_scale=lr_scale,
        compare_layer=compare_layer, compare_steps=compare_steps, log_every=log_every, seed=seed,
        paragraphs=[f"Profile {profile}. {fnet.weights_label}: conv layers only, so no fc pre-images."])
