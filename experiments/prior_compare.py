"""Learned image priors against none and against Mahendran & Vedaldi 2016 (alpha + TV), and a weight sweep.

The same held-out images (chelsea, rocket: no prior saw them) are inverted from VGG16 conv2_2, conv3_3 and
conv4_3 with: no prior; M&V 2016's recipe (alpha-norm + TV); and each trained image prior in TV's place, weighted
like TV (``weight_scale`` x lambda_TV / the prior's energy on natural patches). A table gives PSNR, SSIM and the
normalised feature error per arm and layer; a sweep varies the prior weight at conv3_3; the thesis's own
two-phase procedure runs at conv3_3 as a second table. Needs the priors: ``make reproduce-prior_full512`` (and
the other ``prior_*`` targets) first; ``make reproduce-all`` runs them in order. Body:
``experiments/_prior_comparison.py`` (its ``BASE`` and ``THESIS`` are the quick and thesis configs).

Reproduce::

    make reproduce-prior_compare                 # quick: 64 px, 200 steps per arm
    .venv/bin/python -m restoration_experiments prior_compare with thesis image_dir=/data/imagenet_subset
"""

from restoration_experiments._prior_comparison import experiment

ex = experiment("prior_compare")
