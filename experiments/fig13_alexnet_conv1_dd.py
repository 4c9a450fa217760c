"""Fig. 13: AlexNet's first layer (conv1 + ReLU) inverted by one deconv-deconv (DD) module.

``DD1: conv1/relu -> image``: the first operation (the deconvolution) has the stride, which undoes conv1's 11x11/4 VALID window (11x11/4 VALID
transposed convolution, 55 -> 227 px), 11x11 kernels, 96 hidden channels. Figs. 11-13 differ only in the
module kind; the thesis found DC and DD give fewer artefacts than CD (May 3). The VGG16 analogue is
``fig13_vgg16``. Needs ``bvlc_alexnet.npy``.

Reproduce::

    make reproduce-figure-13         # = .venv/bin/python -m experiments fig13 with quick

``quick``: embedded photos, 67 px crops, batch 16, 1000 Adam steps (lr 1e-3), the two held-out photos at 227 px.
"""

from experiments._trained_inversion import Chain, TrainedInversionFigure, experiment
from experiments.fig04_alexnet_pool1_stacked import ALEXNET_QUICK, ALEXNET_THESIS

FIGURE = TrainedInversionFigure(
    id="fig13", title="Fig. 13: AlexNet conv1 -> image, one deconv-deconv (DD) module",
    net="alexnet", mode="stacked",
    variants={"dd": {"conv1/relu": Chain("conv1/relu", "DD", "relu", 11, 96, points=("conv1/relu", "input"),
                                          label="one DD module, 11x11, 96 hidden")}},
    what="One DD module inverts AlexNet's conv1 and its ReLU; the first operation (the deconvolution) has the stride.",
    thesis_note="The May 3 experiment (old/alexnet_layer_1_inversion_model.py) inverted the first layer of an "
                "older TF AlexNet at 224 px with a SAME stride-4 deconvolution; here the Caffe AlexNet's 227 px "
                "geometry is undone exactly (11x11/4 VALID), as in the thesis's final alexnet_specs DC1.",
    quick=ALEXNET_QUICK, thesis=ALEXNET_THESIS,
)
ex = experiment(FIGURE)
