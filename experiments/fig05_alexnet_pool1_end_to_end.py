"""AlexNet analogue of Fig. 5: pool1 -> image, the two modules of Fig. 4 trained end to end (loss on the image).

The thesis's claim that stacked modules with intermediate losses beat end-to-end training, checked on AlexNet:
compare with Fig. 4. Needs ``bvlc_alexnet.npy``.

Reproduce::

    .venv/bin/python -m restoration_experiments fig05_alexnet with quick
"""

from restoration_experiments._trained_inversion import TrainedInversionFigure, experiment
from restoration_experiments.fig04_alexnet_pool1_stacked import ALEXNET_QUICK, ALEXNET_THESIS, TWO_MODULES

FIGURE = TrainedInversionFigure(
    id="fig05_alexnet",
    net="alexnet",
    mode="end_to_end",
    variants={"may": TWO_MODULES},
    what="The two modules of Fig. 4 trained as one network with the loss on the image only.",
    thesis_note="Not a thesis figure: the AlexNet side of the claim that stacking beats end-to-end training.",
    quick=ALEXNET_QUICK,
    thesis=ALEXNET_THESIS,
)
ex = experiment(FIGURE)
