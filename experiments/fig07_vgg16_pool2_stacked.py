"""Fig. 7: VGG16 pool2 -> image with 6 modules trained separately and stacked (the thesis's "4dc_2cd" stack).

Modules (``logs/layer_inversion/vgg16/stack_l1-6_4dc_2cd``; /relu targets, 5x5 kernels): ``DC6: pool2 ->
conv2_2/relu`` (stride 2), ``DC5: conv2_2/relu -> conv2_1/relu``, ``DC4: conv2_1/relu -> pool1`` (128 hidden),
``DC3: pool1 -> conv1_2/relu`` (stride 2), ``CD2: conv1_2/relu -> conv1_1/relu``, ``CD1: conv1_1/relu -> image``
(64 hidden). The run also scores the sub-stack from pool1, so quality by depth is read off the same modules;
Fig. 8 adds pool3.

Reproduce::

    make reproduce-figure-7          # = .venv/bin/python -m restoration_experiments fig07 with quick
    .venv/bin/python -m restoration_experiments fig07 with thesis image_dir=/path/to/imagenet_subset

``quick``: embedded photos (and 1/2, 1/4, 1/8 copies, flips), 32 px crops, batch 16, 1000 Adam steps (lr 1e-3)
per module, 8 held-out 128 px crops; measured 6 min 05 s on 2 CPU cores. ``thesis``: 224 px images, batch 32,
3000 steps per module, Adam 3e-4.
"""

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment

POOL2 = Chain(
    "pool2",
    ("DC", "DC", "DC", "DC", "CD", "CD"),
    "relu",
    5,
    None,
    label="thesis stack 4dc_2cd: /relu targets, DC x4 then CD x2, 128/64 hidden",
)

FIGURE = TrainedInversionFigure(
    id="fig07",
    net="vgg16",
    mode="stacked",
    variants={"4dc_2cd": {"pool2": POOL2}},
    depth=True,
    what="Six separately trained modules invert VGG16's first two blocks, one operation each.",
    thesis_note="Thesis settings (stack_l1-6_4dc_2cd): 5x5 kernels, hidden = the input layer's channels (128 in "
    "block 2, 64 in block 1), Adam 3e-4, batch 32, 3000 steps per module on 224 px ImageNet images.",
)
ex = experiment(FIGURE)
