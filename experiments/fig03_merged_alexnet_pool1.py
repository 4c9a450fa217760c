"""Fig. 3, merged form: AlexNet pool1 -> image, the modules of Fig. 4 trained separately, then fine-tuned together.

The thesis's final way of training modules together (``cnn_inv_script.py``): separately trained modules are
loaded and fine-tuned jointly on the sum of their losses with Adam at 3e-6, 1e-6 from step 1000 and 3e-7 from
step 2000, 3000 steps, batch 32. The run scores the stack before and after fine-tuning. Needs
``bvlc_alexnet.npy``.

Reproduce::

    .venv/bin/python -m restoration_experiments fig03_merged with quick

``quick``: as Fig. 4 (its separately trained modules are reused from the module store when Fig. 4 ran with
the same settings), then 1000 fine-tuning steps on the thesis's rates at a third of its step boundaries.
"""

from restoration_experiments._trained_inversion import QUICK_FINETUNE, TrainedInversionFigure, experiment
from restoration_experiments.fig04_alexnet_pool1_stacked import ALEXNET_QUICK, ALEXNET_THESIS, TWO_MODULES

FIGURE = TrainedInversionFigure(
    id="fig03_merged",
    net="alexnet",
    mode="merged",
    variants={"may": TWO_MODULES},
    what="The separately trained modules of Fig. 4 fine-tuned together on the sum of their losses.",
    thesis_note="Fine-tuning schedule from the thesis code (cnn_inv_script.py): 3e-6, 1e-6 from step 1000, 3e-7 "
    "from step 2000, 3000 steps.",
    quick={**ALEXNET_QUICK, **QUICK_FINETUNE},
    thesis=ALEXNET_THESIS,
)
ex = experiment(FIGURE)
