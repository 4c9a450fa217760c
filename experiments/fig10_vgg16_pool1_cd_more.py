"""Fig. 10: more reconstructions from pool1 by the three stacked CD modules of Fig. 9.

The same modules (reused from the module store when Fig. 9 ran with the same settings, trained otherwise) on
every held-out crop and on each held-out photo whole (its centre square scaled to the crop size).

Reproduce::

    make reproduce-figure-10         # = .venv/bin/python -m restoration_experiments fig10 with quick
"""

from restoration_experiments._trained_inversion import TrainedInversionFigure, experiment
from restoration_experiments.fig09_vgg16_pool1_cd_stacked import FIGURE as FIG09

FIGURE = TrainedInversionFigure(
    id="fig10",
    net="vgg16",
    mode="stacked",
    variants=FIG09.variants,
    what="The modules of Fig. 9 on more held-out images: every held-out crop and the held-out photos whole.",
    thesis_note=FIG09.thesis_note,
    rows_caption=FIG09.rows_caption,
    quick=dict(whole_heldout=True, rows=10),
    thesis=dict(rows=12),
)
ex = experiment(FIGURE)
