"""Overcomplete image prior: 1024 Student-t experts on 191 whitened dimensions (about 5x overcomplete).

The thesis trained 1024-component image priors (July 10: "filters look similar"); its final 1024 priors were
dropout variants (``dropout1024``), which we do not build: this is the plain overcomplete model.

Reproduce::

    make reproduce-prior_full1024
"""

from restoration_experiments._learned_priors import PriorFigure, experiment

FIGURE = PriorFigure(
    id="prior_full1024",
    prior="full1024",
    n_components=1024,
    expert="student",
    mean="dataset_channel",
    sdev="dataset_channel",
    whitening="pca",
    n_drop=1,
    weight=1e-5,
    what="An overcomplete Field of Experts (score matching handles K > d without a normalising constant).",
    quick={"steps": 1000},
    thesis_note="Thesis: July 10 ('trained ica prior with more (1024) components: filters look similar'). "
    "Differs from the thesis's final 1024 priors, which used dropout on the experts.",
)
ex = experiment(FIGURE)
