"""VGG16 analogue of Fig. 12: VGG16's first block inverted by one deconv-conv (DC) module.

``DC1: pool1 -> image``: the first operation, a 5x5/2 SAME deconvolution undoing the 2x2/2 pool,
has the stride, then a 5x5 convolution, 64 hidden channels; see ``fig11_vgg16`` (:func:`pool1_figure`).

Reproduce::

    .venv/bin/python -m restoration_experiments fig12_vgg16 with quick
"""

from restoration_experiments._trained_inversion import experiment
from restoration_experiments.fig11_vgg16_pool1_cd import pool1_figure

FIGURE = pool1_figure("fig12_vgg16", "DC")
ex = experiment(FIGURE)
