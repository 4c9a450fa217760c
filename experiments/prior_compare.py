"""Learned image priors against none and against Mahendran & Vedaldi 2016 (alpha + TV), and a weight sweep.

The same held-out images (chelsea, rocket: no prior saw them) are inverted from VGG16 conv2_2, conv3_3 and
conv4_3 with: no prior; M&V 2016's recipe; and each trained image prior (full512 FoE, full512 logistic ICA,
the overcomplete full1024, the CICA image prior), the thesis's two-phase way. A table gives PSNR, SSIM and
the normalised feature error per arm and layer; a curve gives PSNR and SSIM against the prior weight
(1e-7 ... 1e-3) at conv3_3. Needs the priors: run ``make reproduce-prior_full512`` (and the other
``prior_*`` targets) first; ``make reproduce-all`` runs them in order.

Reproduce::

    make reproduce-prior_compare                 # quick: 64 px, 300 + 300 steps per arm
    .venv/bin/python -m experiments prior_compare with thesis image_dir=/data/imagenet_subset
"""

from experiments._prior_comparison import experiment

ex = experiment("prior_compare", "Learned image priors vs none vs M&V 2016 (VGG16 conv2_2, conv3_3, conv4_3)")
