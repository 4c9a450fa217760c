"""CICA on a feature map: one logistic ICA per channel of VGG16 conv1_2/lin, 8x8 patches, ZCA.

The thesis's ``chanpriorc1l150``: AlexNet conv1/lin, 96 channels, 8x8 patches, 150 components per channel, 64
dimensions per channel, logistic, ZCA, weight 1e-4. We model VGG16's last block-1 conv before its ReLU
(``conv1_2/lin``, 64 channels; AlexNet's weights are not available offline).

Reproduce::

    make reproduce-prior_cica_conv1
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_cica_conv1",
    prior="cica_conv1",
    layer="conv1_2/lin",
    n_components=150,
    expert="logistic",
    channelwise=True,
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="zca",
    n_drop=0,
    weight=1e-4,
    what="A channel-independent ICA prior on the pre-ReLU maps of VGG16's first block.",
    thesis_note="Thesis: Aug. 4-5 (CICA working; conv1/lin CICA priors); default_priors.py 'chanpriorc1l150' "
    "(on AlexNet conv1/lin).",
    quick={"image_size": 96, "n_train": 6000, "steps": 400, "hmc_steps": 60},
)
ex = experiment(FIGURE)
