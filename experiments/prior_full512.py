"""The thesis's default image prior "full512": a Field of Experts on 8x8 colour patches.

512 Student-t experts on 8x8x3 patches of the image, mean and sdev per channel from the training set, PCA-whitened
to 191 dimensions (the smallest eigenvalue dropped), default weight 1e-5 (the thesis's ``utils/default_priors.py``,
``full512``: mean/sdev mode "gc"). The thesis modelled RGB in [0, 255]; we model the net's input (BGR minus the
ImageNet mean), which is the same up to channel order and a per-channel shift that the mean switch removes.

Reproduce::

    make reproduce-prior_full512            # quick: 20k patches of the 6 training photos, 4000 steps
    # thesis: 100k patches, 25k steps
    .venv/bin/python -m restoration_experiments prior_full512 with thesis image_dir=/data/imagenet_subset
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_full512",
    prior="full512",
    n_components=512,
    expert="student",
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="pca",
    n_drop=1,
    weight=1e-5,
    what="The learned image prior the thesis used by default: a Field of Experts trained by score matching on "
    "whitened 8x8 colour patches.",
    thesis_note="Thesis: July 1 (set up FoE prior), July 10 (first FoE priors, 'looking very similar to ICA "
    "priors'); default_priors.py 'full512'.",
)
ex = experiment(FIGURE)
