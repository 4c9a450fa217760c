"""Generalisation: the quick pool1 stack of Fig. 6, trained without photo k, reconstructs photo k whole.

Fig. 6's quick modules train on crops of six photos and are scored on native-resolution crops of two others.
A user applies them to whole photos scaled down (``python -m restoration reconstruct`` does exactly that),
where detail is denser and the subject may be nothing like the training set. This experiment measures that:
for every embedded colour photo k (8), the Fig. 6 stack is trained on the other seven with Fig. 6's quick
settings, then photo k's centre square, scaled to 128 px, is reconstructed from its pool1 activations. The
report gives every photo's PSNR, the mean and the worst.

Reproduce::

    .venv/bin/python -m restoration_experiments loo_pool1 with quick

Eight trainings of the quick stack: measured 24 min on 2 CPU cores (mean 27.59 dB, worst 25.23 dB); a fold
whose modules are in the module store is reused, so a killed run loses at most the fold it was in.
"""

from restoration_experiments._generalisation import run_leave_one_out
from restoration_experiments._trained_inversion import TrainedInversionFigure, experiment
from restoration_experiments.fig06_vgg16_pool1_stacked import FIGURE as FIG06

FIGURE = TrainedInversionFigure(
    id="loo_pool1",
    net="vgg16",
    mode="stacked",
    variants=FIG06.variants,
    what="Leave-one-out over the embedded colour photos: the Fig. 6 stack trained on seven photos reconstructs "
    "the eighth whole, scaled to 128 px.",
    thesis_note="Not a thesis figure: a check of how the quick modules generalise to whole, downscaled photos.",
    quick={**FIG06.quick, "eval_size": 128},
    thesis=FIG06.thesis,
)
ex = experiment(FIGURE, run_leave_one_out)
