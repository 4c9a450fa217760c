"""A dimensionality-reduced feature-map prior on VGG16 conv2_1/lin: 3x3 patches, PCA to 256 dims, FoE.

The thesis trained full and reduced conv2 priors (July 21: "trained and experimented with dimensionality
reduced feat map priors"; Aug. 1: a conv2/lin FoE with 6400 components). Here: 3x3x128 = 1152 dimensions
PCA-reduced to 256, 512 Student-t experts.

Reproduce::

    make reproduce-prior_conv2_reduced
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_conv2_reduced",
    prior="conv2_reduced",
    layer="conv2_1/lin",
    patch=3,
    n_components=512,
    expert="student",
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="pca",
    dims=256,
    weight=1e-5,
    what="A Field of Experts on whitened, dimensionality-reduced 3x3 patches of VGG16's conv2_1 pre-ReLU maps.",
    thesis_note="Thesis: July 20-23 (conv2/conv3 priors, reduced vs full), Aug. 1 (conv2/lin FoE, 6400 "
    "components). The thesis's was on AlexNet conv2/lin.",
    quick={"image_size": 96, "n_train": 10000, "steps": 1000},
)
ex = experiment(FIGURE)
