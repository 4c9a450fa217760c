"""VGG16 analogue of Fig. 13: VGG16's first block inverted by one deconv-deconv (DD) module.

``DD1: pool1 -> image``: the first operation, a 5x5/2 SAME deconvolution undoing the 2x2/2 pool,
has the stride, then a 5x5 deconvolution, 64 hidden channels; see ``fig11_vgg16`` (:func:`pool1_figure`).

Reproduce::

    .venv/bin/python -m restoration_experiments fig13_vgg16 with quick
"""

from restoration_experiments._trained_inversion import experiment
from restoration_experiments.fig11_vgg16_pool1_cd import pool1_figure

FIGURE = pool1_figure("fig13_vgg16", "DD")
ex = experiment(FIGURE)
