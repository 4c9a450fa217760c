"""Bigger CICA patches on conv1: the ``prior_cica_conv1`` model with 12x12 instead of 8x8 patches per channel
(144 dimensions per channel, 150 logistic experts, ZCA), the thesis's Aug. 6 plan ("try CICA conv1 priors with
bigger patches"). ``prior_featmap`` compares both on the same task.

Reproduce::

    make reproduce-prior_cica_conv1_12
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_cica_conv1_12",
    prior="cica_conv1_12",
    layer="conv1_2/lin",
    patch=12,
    n_components=150,
    expert="logistic",
    channelwise=True,
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="zca",
    n_drop=0,
    weight=1e-4,
    what="The CICA conv1 prior with 12x12 patches per channel instead of 8x8.",
    thesis_note="Thesis: Aug. 6, plan 3 ('try CICA conv1 priors with bigger patches'); not done there.",
    quick={"image_size": 96, "n_train": 6000, "steps": 300, "hmc_steps": 60},
)
ex = experiment(FIGURE)
