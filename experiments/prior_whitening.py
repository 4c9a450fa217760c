"""Whitening variants compared on one task: the same image prior trained after five preprocessing pipelines
(dataset vs sample mean, per channel vs per feature, sdev normalisation, PCA vs ZCA), each used in place of TV
for a VGG16 conv3_3 inversion.

Reproduce::

    make reproduce-prior_whitening
"""

from restoration_experiments._prior_whitening import experiment

ex = experiment("prior_whitening")
