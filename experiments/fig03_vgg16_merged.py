"""VGG16, merged form: the separately trained pool1 modules of Fig. 6 fine-tuned together (the thesis's final form).

Separately trained modules (reused from the module store when Fig. 6 ran with the same settings) fine-tuned
jointly on the sum of their losses with the thesis's schedule (Adam 3e-6, 1e-6 from step 1000, 3e-7 from 2000;
``cnn_inv_script.py``). The run scores the stack before and after fine-tuning.

Reproduce::

    .venv/bin/python -m restoration_experiments fig03_vgg16_merged with quick

``quick``: Fig. 6's modules, then 1000 fine-tuning steps on the compressed thesis schedule; measured 6 min 10 s
on 2 CPU cores when it trains Fig. 6's modules itself, about 3 min when the module store holds them.
"""

from restoration_experiments._trained_inversion import QUICK_FINETUNE, TrainedInversionFigure, experiment
from restoration_experiments.fig06_vgg16_pool1_stacked import FIGURE as FIG06

FIGURE = TrainedInversionFigure(
    id="fig03_vgg16_merged",
    net="vgg16",
    mode="merged",
    variants=FIG06.variants,
    what="The separately trained modules of Fig. 6 fine-tuned together on the sum of their losses.",
    thesis_note="Fine-tuning as in the thesis code (cnn_inv_script.py): 3e-6, 1e-6 from step 1000, 3e-7 from step "
    "2000, 3000 steps, batch 32; the quick profile runs 1000 steps with the same rates at a third of "
    "the step boundaries.",
    quick=QUICK_FINETUNE,
)
ex = experiment(FIGURE)
