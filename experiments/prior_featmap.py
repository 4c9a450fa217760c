"""A feature-map prior at work: VGG16 conv2_1/lin -> conv1_2/lin inverted in feature space, with and without the
CICA conv1 prior; the maps shown and projected to the image.

Also compares 8x8 with bigger, 12x12 CICA patches (the thesis's Aug. 6 plan). Needs ``prior_cica_conv1`` and
``prior_cica_conv1_12`` (``make reproduce-prior_cica_conv1``, ``...-prior_cica_conv1_12``).

Reproduce::

    make reproduce-prior_featmap
"""

from restoration_experiments._prior_featmap import experiment

ex = experiment("prior_featmap")
