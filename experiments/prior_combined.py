"""Combined priors: a VGG16 conv4_3 feature loss with the image ICA prior plus conv2 and conv3 feature-map
priors, with the reduced or the full conv3 prior, at a few weightings.

Needs ``prior_full512_logistic``, ``prior_conv2_reduced``, ``prior_conv3_reduced`` and ``prior_conv3_full``.

Reproduce::

    make reproduce-prior_combined
"""

from restoration_experiments._prior_combined import experiment

ex = experiment("prior_combined")
