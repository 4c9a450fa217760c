"""Fig. 11: AlexNet's first layer (conv1 + ReLU) inverted by one conv-deconv (CD) module.

``CD1: conv1/relu -> image``: a conv (11x11, 96 hidden) then the deconvolution with the stride, which undoes
conv1's 11x11/4 VALID window exactly (55 -> 227 px). Figs. 11-13 differ only in the module kind (this file
declares all three through :func:`conv1_figure`); the thesis found DC and DD give fewer artefacts than CD
(May 3). The VGG16 analogue is ``fig11_vgg16``. Needs ``bvlc_alexnet.npy``.

Reproduce::

    make reproduce-figure-11         # = .venv/bin/python -m experiments fig11 with quick

``quick``: embedded photos, 67 px crops, batch 16, 1000 Adam steps (lr 1e-3), the two held-out photos at
227 px. ``thesis``: 227 px images, batch 32, 3000 steps, Adam 3e-4.
"""

from experiments._trained_inversion import Chain, TrainedInversionFigure, experiment
from experiments.fig04_alexnet_pool1_stacked import ALEXNET_QUICK, ALEXNET_THESIS

KIND_WORDS = {"CD": ("conv-deconv", "the second operation (the deconvolution) has the stride"),
              "DC": ("deconv-conv", "the first operation (the deconvolution) has the stride"),
              "DD": ("deconv-deconv", "the first operation (the deconvolution) has the stride")}


def conv1_figure(fig_id: str, kind: str) -> TrainedInversionFigure:
    """Figs. 11-13: one ``kind`` module from AlexNet's conv1/relu to the image (11x11 kernels, 96 hidden)."""
    word, stride = KIND_WORDS[kind]
    return TrainedInversionFigure(
        id=fig_id, title=f"Fig. {int(fig_id[3:])}: AlexNet conv1 -> image, one {word} ({kind}) module",
        net="alexnet", mode="stacked",
        variants={kind.lower(): {"conv1/relu": Chain("conv1/relu", kind, "relu", 11, 96,
                                                     points=("conv1/relu", "input"),
                                                     label=f"one {kind} module, 11x11, 96 hidden")}},
        what=f"One {kind} module inverts AlexNet's conv1 and its ReLU; {stride}.",
        thesis_note="The May 3 experiment (old/alexnet_layer_1_inversion_model.py) inverted the first layer of an "
                    "older TF AlexNet at 224 px with a SAME stride-4 deconvolution; here the Caffe AlexNet's 227 "
                    "px geometry is undone exactly (11x11/4 VALID), as in the thesis's final alexnet_specs DC1.",
        quick=ALEXNET_QUICK, thesis=ALEXNET_THESIS,
    )


FIGURE = conv1_figure("fig11", "CD")
ex = experiment(FIGURE)
