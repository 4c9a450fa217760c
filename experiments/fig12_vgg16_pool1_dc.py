"""VGG16 analogue of Fig. 12: VGG16's first block (conv1_1, conv1_2, pool1) inverted by one DC module.

The mechanism of Figs. 11-13 (CD vs DC vs DD on a strided operation) on the weights this machine has:
``DC1: pool1 -> image``, the first operation (the deconvolution) has the stride (5x5/2 SAME transposed convolution undoing the 2x2/2 pool),
5x5 kernels, 64 hidden channels. Compare ``fig11_vgg16``, ``fig12_vgg16``, ``fig13_vgg16``.

Reproduce::

    .venv/bin/python -m experiments fig12_vgg16 with quick

``quick``: embedded photos, 32 px crops, batch 16, 1000 Adam steps (lr 1e-3), 8 held-out 128 px crops.
"""

from experiments._trained_inversion import Chain, TrainedInversionFigure, experiment

FIGURE = TrainedInversionFigure(
    id="fig12_vgg16", title="VGG16 analogue of Fig. 12: pool1 -> image, one deconv-conv (DC) module",
    net="vgg16", mode="stacked",
    variants={"dc": {"pool1": Chain("pool1", "DC", "relu", 5, 64, points=("pool1", "input"),
                                     label="one DC module from pool1 to the image, 5x5, 64 hidden")}},
    what="One DC module inverts VGG16's whole first block (two 3x3 convolutions and the 2x2/2 pool); "
         "the first operation (the deconvolution) has the stride.",
    thesis_note="Not a thesis figure: the VGG16 analogue of the AlexNet first-layer comparison (Figs. 11-13).",
)
ex = experiment(FIGURE)
