"""VGG16 analogue of Fig. 3: pool1 -> image, the three modules of Fig. 6 trained jointly from scratch.

The sum of the three modules' MSEs on their own targets, each module fed the previous one's reconstruction (the
thesis's May form of joint training), so the claim "modules trained together beat separately trained stacked
ones" has a verdict on the VGG16 weights this machine has: compare with Fig. 6.

Reproduce::

    .venv/bin/python -m restoration_experiments fig03_vgg16 with quick

``quick``: as Fig. 6 (1000 joint steps); measured 3 min 16 s on 2 CPU cores (28.38 dB).
"""

from restoration_experiments._trained_inversion import TrainedInversionFigure, experiment
from restoration_experiments.fig06_vgg16_pool1_stacked import FIGURE as FIG06

FIGURE = TrainedInversionFigure(
    id="fig03_vgg16",
    net="vgg16",
    mode="joint",
    variants=FIG06.variants,
    what="The three modules of Fig. 6 trained together from scratch on the sum of their losses.",
    thesis_note="Not a thesis figure: the VGG16 side of the claim that jointly trained modules beat stacked ones. "
    + FIG06.thesis_note,
)
ex = experiment(FIGURE)
