"""AlexNet's LRN loses information: reconstructions from just before (conv1/relu) and just after (lrn1) LRN.

Two single-module stacks with the same settings (DC, 11x11/4 VALID up-sampling then 11x11, 96 hidden), one
from ``conv1/relu`` and one from ``lrn1``, trained alone and scored on the same held-out images. The thesis
found (May 10) that LRN rapidly decreases reconstruction quality, which it took to explain Dosovitskiy & Brox's
results. Needs ``bvlc_alexnet.npy``; VGG16 has no LRN, so there is no analogue.

Reproduce::

    .venv/bin/python -m restoration_experiments alexnet_lrn with quick
"""

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment
from restoration_experiments.fig04_alexnet_pool1_stacked import ALEXNET_QUICK, ALEXNET_THESIS

FIGURE = TrainedInversionFigure(
    id="alexnet_lrn",
    net="alexnet",
    mode="stacked",
    variants={
        "dc": {
            "conv1/relu": Chain(
                "conv1/relu",
                "DC",
                "relu",
                11,
                96,
                points=("conv1/relu", "input"),
                label="before LRN: one DC module from conv1/relu",
            ),
            "lrn1": Chain(
                "lrn1", "DC", "relu", 11, 96, points=("lrn1", "input"), label="after LRN: one DC module from lrn1"
            ),
        }
    },
    what="The same module, trained the same way, from the representation just before and just after AlexNet's "
    "first local response normalisation.",
    thesis_note="May 10, result 3: the LRN layer rapidly decreases reconstruction quality. The thesis code has no "
    "special LRN inverse; neither does this module.",
    quick=ALEXNET_QUICK,
    thesis=ALEXNET_THESIS,
)
ex = experiment(FIGURE)
