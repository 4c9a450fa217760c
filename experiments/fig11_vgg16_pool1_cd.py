"""VGG16 analogue of Fig. 11: VGG16's first block (conv1_1, conv1_2, pool1) inverted by one CD module.

The mechanism of Figs. 11-13 (CD vs DC vs DD on a strided operation) on the weights this machine has:
``CD1: pool1 -> image``, a 5x5 conv then the stride-2 deconvolution (5x5/2 SAME, undoing the 2x2/2 pool),
64 hidden channels. ``fig12_vgg16`` and ``fig13_vgg16`` (DC, DD) are declared by :func:`pool1_figure` too.

Reproduce::

    .venv/bin/python -m restoration_experiments fig11_vgg16 with quick

``quick``: embedded photos (and 1/2, 1/4, 1/8 copies, flips), 32 px crops, batch 16, 1000 Adam steps (lr 1e-3),
8 held-out 128 px crops; measured 29-39 s on 2 CPU cores for each of the three kinds.
"""

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment
from restoration_experiments.fig11_alexnet_conv1_cd import KIND_WORDS


def pool1_figure(fig_id: str, kind: str) -> TrainedInversionFigure:
    """One ``kind`` module from VGG16's pool1 to the image (5x5 kernels, 64 hidden)."""
    word, stride = KIND_WORDS[kind]
    n = int(fig_id[3:5])
    return TrainedInversionFigure(
        id=fig_id,
        net="vgg16",
        mode="stacked",
        variants={
            kind.lower(): {
                "pool1": Chain(
                    "pool1",
                    kind,
                    "relu",
                    5,
                    64,
                    points=("pool1", "input"),
                    label=f"one {kind} module from pool1 to the image, 5x5, 64 hidden",
                )
            }
        },
        what=f"One {kind} module inverts VGG16's whole first block (two 3x3 convolutions and the 2x2/2 pool); "
        f"{stride}.",
        thesis_note="Not a thesis figure: the VGG16 analogue of the AlexNet first-layer comparison (Figs. 11-13).",
    )


FIGURE = pool1_figure("fig11_vgg16", "CD")
ex = experiment(FIGURE)
