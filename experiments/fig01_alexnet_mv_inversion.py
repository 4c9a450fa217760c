"""Fig. 1: AlexNet pre-images from every layer (Mahendran & Vedaldi 2016 optimisation inversion).

The same images are reconstructed from each AlexNet layer's features with recipe ``mv2016``
(``restoration.recipes``: C = 300/100/20/1 and jitter 1/2/4/8 px by depth, Adam, alpha-norm + TV normalised
with B = 80), layers across and images down, as in M&V 2016's AlexNet figure. Tables: feature error reached,
SSIM/PSNR against the original, time per step, and Adam vs L-BFGS on one layer.

Weights: AlexNet has no offline source, so this needs ``bvlc_alexnet.npy`` (Caffe BVLC AlexNet as a numpy dict
layer -> [W, b]) at ``$ALEXNET_WEIGHTS`` or ``weights/bvlc_alexnet.npy`` (or ``with weights=/path``). Without
it the run stops at once with ``restoration.errors.WeightsNotFoundError`` naming the file and where to put it;
the run is FAILED and the report shows that message.

Reproduce::

    make reproduce-figure-1          # = .venv/bin/python -m experiments fig01 with quick
    .venv/bin/python -m experiments fig01 with thesis weights=/path/to/bvlc_alexnet.npy

``quick`` (default): 3 embedded photos at 227 px (fc layers need the full size), the rectified output of
every conv/fc layer plus the pools (11 layers), 300 Adam steps (schedule compressed into them),
Adam vs L-BFGS at conv3 for 100 steps. Measured 4 min 46 s on 2 CPU cores (with random AlexNet weights of the
real shapes: ``with weights=None``). ``thesis``: all 20 layers (pre- and post-ReLU, LRN, pools) with the
full 3500-step recipe.
"""

from __future__ import annotations

from experiments._mv_figure import check_config, load_images, run_figure
from restoration import tracking

NAME = "fig01"
ex = tracking.make_experiment(NAME)

QUICK_LAYERS = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5", "fc6", "fc7", "fc8"]
ALL_LAYERS = ["conv1/lin", "conv1/relu", "lrn1", "pool1", "conv2/lin", "conv2/relu", "lrn2", "pool2", "conv3/lin",
              "conv3/relu", "conv4/lin", "conv4/relu", "conv5/lin", "conv5/relu", "pool5", "fc6/lin", "fc6/relu",
              "fc7/lin", "fc7/relu", "fc8/lin"]


@ex.config
def config():
    profile = "quick"  # noqa: F841  label of the named config used
    net = "alexnet"
    weights = "default"  # "default" = $ALEXNET_WEIGHTS or weights/bvlc_alexnet.npy; a path; None = random
    images = ["astronaut", "coffee", "chelsea"]  # embedded photo names
    image_dir = None
    n_images = 3
    size = 227  # AlexNet's input; fc layers need it
    layers = QUICK_LAYERS
    recipe = "mv2016"
    steps = 300  # None = the recipe's 3500
    lr_scale = 1.0
    compare_layer = "conv3"
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
    layers = ALL_LAYERS
    steps = None
    lr_scale = 1.0
    compare_steps = 3500


def load_net(net, weights, seed, precision="float32"):
    from restoration import nets

    if net != "alexnet":
        raise ValueError(f"config net={net!r}: fig01 inverts 'alexnet' (fig02 is VGG16)")
    return nets.alexnet(weights=weights, seed=seed).with_precision(precision)  # missing weights: the fix


@ex.automain
def main(_run, profile, net, weights, images, image_dir, n_images, size, layers, recipe, steps, lr_scale,
         compare_layer, compare_steps, log_every, seed, precision):
    check_config(n_images=n_images, size=size, steps=steps, lr_scale=lr_scale, compare_steps=compare_steps,
                 log_every=log_every, layers=layers)
    fnet = load_net(net, weights, seed, precision)  # then the weights, so a missing file fails the run at once
    named = load_images(images, image_dir, n_images, size)
    return run_figure(
        _run, name=NAME, title="Fig. 1: AlexNet pre-images from every layer (Mahendran & Vedaldi 2016)",
        fnet=fnet, named=named, layers=list(layers), recipe=recipe, steps=steps, lr_scale=lr_scale,
        compare_layer=compare_layer, compare_steps=compare_steps, log_every=log_every, seed=seed,
        paragraphs=[f"Profile {profile}. {fnet.weights_label}."])
