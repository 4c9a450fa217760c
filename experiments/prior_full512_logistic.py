"""ICA image prior: "full512" with logistic experts (the thesis's ``full512logistic``).

Same patches, whitening and component count as ``prior_full512``; the expert is the logistic ICA one,
rho(s) = log cosh s.

Reproduce::

    make reproduce-prior_full512_logistic
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_full512_logistic",
    prior="full512_logistic",
    n_components=512,
    expert="logistic",
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="pca",
    n_drop=1,
    weight=1e-5,
    what="The ICA variant of the default image prior: logistic experts (log cosh) instead of Student-t.",
    thesis_note="Thesis: June 29 - July 10 (Hyvärinen's score-matching ICA; 'sigma missing' fixed July 10); "
    "default_priors.py 'full512logistic'.",
)
ex = experiment(FIGURE)
