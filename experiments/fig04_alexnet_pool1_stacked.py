"""Fig. 4: AlexNet pool1 -> image with two modules, each trained alone on its own operation, then stacked.

Modules (the May setting: two modules, AlexNet's relu outputs): ``DC2: pool1 -> conv1/relu`` undoes LRN and
the 3x3/2 VALID pool (3x3/2 VALID transposed convolution, 27 -> 55 px at 227 px input, then 8x8), ``DC1:
conv1/relu -> image`` undoes the 11x11/4 VALID conv1 (11x11/4 VALID transposed convolution, 55 -> 227 px, then
11x11); 96 hidden channels. Fig. 3 trains the same two modules jointly.

Needs ``bvlc_alexnet.npy`` (``$ALEXNET_WEIGHTS``, ``weights/bvlc_alexnet.npy`` or ``with weights=PATH``);
without it the run fails at once naming the file.

Reproduce::

    make reproduce-figure-4          # = .venv/bin/python -m restoration_experiments fig04 with quick
    .venv/bin/python -m restoration_experiments fig04 with thesis image_dir=/path/to/imagenet_subset

``quick``: embedded photos, 67 px crops (pool1 7x7), batch 16, 1000 Adam steps (lr 1e-3) per module, the two
held-out photos at 227 px. ``thesis``: 227 px images, batch 32, 3000 steps, Adam 3e-4.
"""

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment

ALEXNET_QUICK = dict(crop=67, eval_size=227, eval_per_image=1)
ALEXNET_THESIS = dict(image_size=227, crop=227, eval_size=227)
TWO_MODULES = {
    "pool1": Chain(
        "pool1",
        "DC",
        "relu",
        (8, 11),
        96,
        points=("pool1", "conv1/relu", "input"),
        label="May setting: pool1 -> conv1/relu -> image, DC, 96 hidden",
    )
}

FIGURE = TrainedInversionFigure(
    id="fig04",
    net="alexnet",
    mode="stacked",
    variants={"may": TWO_MODULES},
    what="Two modules invert AlexNet's first layer block: one undoes LRN and pool1, one undoes conv1 and its ReLU.",
    thesis_note="Kernels, strides and paddings of the up-sampling follow the thesis code's alexnet_specs (DC3: 3x3/2 "
    "VALID then 8x8; DC1: 11x11/4 VALID then 11x11); the May figure's two-module split merges its "
    "DC3 and DC2 (there is no special LRN inverse: an ordinary module undoes ReLU and LRN).",
    quick=ALEXNET_QUICK,
    thesis=ALEXNET_THESIS,
)
ex = experiment(FIGURE)
