"""Fig. 13: AlexNet's first layer (conv1 + ReLU) inverted by one deconv-deconv (DD) module.

``DD1: conv1/relu -> image``: the first operation, an 11x11/4 VALID deconvolution, has the
stride (55 -> 227 px), then an 11x11 deconvolution, 96 hidden channels; see Fig. 11 (:func:`conv1_figure`).
Needs ``bvlc_alexnet.npy``.

Reproduce::

    make reproduce-figure-13         # = .venv/bin/python -m experiments fig13 with quick
"""

from experiments._trained_inversion import experiment
from experiments.fig11_alexnet_conv1_cd import conv1_figure

FIGURE = conv1_figure("fig13", "DD")
ex = experiment(FIGURE)
