"""A full-dimensional prior on VGG16 conv3_1/lin: every dimension its 3x3x256 patches span, 1024 FoE experts.

The thesis's 'slim' priors kept all ``C ph pw`` dimensions. The HED VGG16 trunk has dead channels below conv3_1:
measured on the quick patches, its 3x3x256 patches have 1662 of 2304 eigenvalues above 1e-10 of the largest and
802 above 1e-6. "Full" here keeps every direction above 1e-6 (802 in the quick run; whitening the near-null
ones would amplify noise by up to 1000x); the reduced prior keeps 256.

Reproduce::

    make reproduce-prior_conv3_full          # quick: 10k patches, 500 steps (a step costs ~20 GFLOP)
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_conv3_full",
    prior="conv3_full",
    layer="conv3_1/lin",
    patch=3,
    n_components=1024,
    expert="student",
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="pca",
    n_drop=None,
    weight=1e-5,
    what="A Field of Experts on every whitened dimension of 3x3 patches of VGG16's conv3_1 pre-ReLU maps.",
    thesis_note="Thesis: July 23 ('difference between dim reduced and full conv3 prior'); default_priors.py "
    "'slimc3l7000' (3x3x384 AlexNet conv3/lin, all 3456 dims, 7000 components, weight 1e-9).",
    quick={"image_size": 256, "n_train": 10000, "steps": 300},
)
ex = experiment(FIGURE)
