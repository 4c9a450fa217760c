"""Fig. 8: VGG16 pool3 -> image with 10 modules trained separately and stacked (the thesis's "8dc_2cd" stack).

Fig. 7's six modules plus ``DC10: pool3 -> conv3_3/relu`` (stride 2), ``DC9: conv3_3/relu -> conv3_2/relu``,
``DC8: conv3_2/relu -> conv3_1/relu``, ``DC7: conv3_1/relu -> pool2`` (256 hidden). The run scores the sub-stacks
from pool3, pool2 and pool1: the thesis's finding that quality decays gradually with depth, read off one set of
modules. Fig. 7's modules are reused from the module store when Fig. 7 ran with the same settings.

Reproduce::

    make reproduce-figure-8          # = .venv/bin/python -m restoration_experiments fig08 with quick

``quick``: as Fig. 7; measured 6 min 53 s on 2 CPU cores after Fig. 7 (whose six modules it reuses).
``thesis``: as Fig. 7, with 5000 steps for the block-3 modules (the thesis's ckpt-5000).
"""

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment

POOL3 = Chain(
    "pool3",
    ("DC",) * 8 + ("CD", "CD"),
    "relu",
    5,
    None,
    label="thesis stack 8dc_2cd: /relu targets, DC x8 then CD x2, 256/128/64 hidden",
)

FIGURE = TrainedInversionFigure(
    id="fig08",
    net="vgg16",
    mode="stacked",
    variants={"8dc_2cd": {"pool3": POOL3}},
    depth=True,
    what="Ten separately trained modules invert VGG16's first three blocks, one operation each.",
    thesis_note="Thesis settings (stack_l1-10_8dc_2cd): 5x5 kernels, hidden = the input layer's channels, Adam "
    "3e-4, batch 32, 3000 steps per module and 5000 for block 3.",
    thesis=dict(module_steps={"DC10": 5000, "DC9": 5000, "DC8": 5000, "DC7": 5000}),
)
ex = experiment(FIGURE)
