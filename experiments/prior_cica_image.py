"""Channel-independent ICA (CICA) on the image: one logistic ICA per colour channel, 8x8 patches, ZCA.

The thesis's Aug. 5 test: an image CICA prior was "roughly on par with M&V 2016, but lack[ed] behind [the] ICA
prior". 150 components per channel on 64 dimensions per channel (overcomplete), per-channel ZCA whitening,
logistic experts, as its ``chanpriorc1l150`` settings.

Reproduce::

    make reproduce-prior_cica_image
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_cica_image",
    prior="cica_image",
    n_components=150,
    expert="logistic",
    channelwise=True,
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="zca",
    n_drop=0,
    weight=1e-5,
    what="Channel-independent ICA on the image: each colour channel's 8x8 patches modelled on their own.",
    thesis_note="Thesis: July 29 - Aug. 5 (CICA set up; image CICA 'roughly on par with M&V 2016, but lack "
    "behind ICA prior'); foe_channelwise_prior.py.",
)
ex = experiment(FIGURE)
