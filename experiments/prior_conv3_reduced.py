"""A dimensionality-reduced prior on VGG16 conv3_1/lin: 3x3x256 patches PCA-reduced to 256 dims, 512 FoE experts.

With ``prior_conv3_full`` it reproduces the thesis's July 23 comparison of a reduced and a full conv3 prior
(``prior_combined`` uses both).

Reproduce::

    make reproduce-prior_conv3_reduced
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_conv3_reduced",
    prior="conv3_reduced",
    layer="conv3_1/lin",
    patch=3,
    n_components=512,
    expert="student",
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="pca",
    dims=256,
    weight=1e-5,
    what="A Field of Experts on whitened, dimensionality-reduced 3x3 patches of VGG16's conv3_1 pre-ReLU maps.",
    thesis_note="Thesis: July 20-23 (conv3 priors; 'difference between dim reduced and full conv3 prior'); its "
    "slim conv3 prior was 3x3x384 on AlexNet conv3/lin with 7000 components.",
    quick={"image_size": 256, "n_train": 10000, "steps": 1000},
)
ex = experiment(FIGURE)
