"""Fig. 3: AlexNet pool1 -> image with the two modules of Fig. 4 trained jointly (the thesis's May form).

Each module takes the other's reconstruction as input (DC2's output feeds DC1) and the optimised loss is the sum
of both modules' MSEs on their own targets, trained together from scratch. ``fig03_merged`` is the thesis's
final form (separately trained modules fine-tuned together). Needs ``bvlc_alexnet.npy``.

Reproduce::

    make reproduce-figure-3          # = .venv/bin/python -m restoration_experiments fig03 with quick

``quick`` / ``thesis``: as Fig. 4, 1000 (3000) joint steps.
"""

from restoration_experiments._trained_inversion import TrainedInversionFigure, experiment
from restoration_experiments.fig04_alexnet_pool1_stacked import ALEXNET_QUICK, ALEXNET_THESIS, TWO_MODULES

FIGURE = TrainedInversionFigure(
    id="fig03",
    net="alexnet",
    mode="joint",
    variants={"may": TWO_MODULES},
    what="The two modules of Fig. 4 trained together: the sum of their losses, each fed the other's reconstruction.",
    thesis_note="May 10: 'a single initial test (more to come) indicates that multiple modules can be trained "
    "together'. Module settings as in Fig. 4.",
    quick=ALEXNET_QUICK,
    thesis=ALEXNET_THESIS,
)
ex = experiment(FIGURE)
