"""Fig. 9: VGG16 pool1 -> image by three stacked conv-deconv (CD) modules, with both error maps.

The thesis's ``stack_l123_cd_cd_cd`` (May 3): ``CD3: pool1 -> conv1_2/relu`` (the deconvolution has stride 2),
``CD2: conv1_2/relu -> conv1_1/relu``, ``CD1: conv1_1/relu -> image``, 5x5 kernels, 64 hidden channels, each
trained alone. Rows: image | reconstruction | colour-accurate error | absolute error (each renormalised to
[0, 1]). Fig. 10 shows the same modules on more images.

Reproduce::

    make reproduce-figure-9          # = .venv/bin/python -m restoration_experiments fig09 with quick

``quick``: embedded photos (and 1/2, 1/4, 1/8 copies, flips), 32 px crops, batch 16, 1000 Adam steps (lr 1e-3)
per module, 8 held-out crops; measured 43 s after Fig. 7, whose CD2 and CD1 are these (module store), about
2 min 30 s alone.
"""

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment

CD3 = {"pool1": Chain("pool1", "CD", "relu", 5, 64, label="thesis stack_l123_cd_cd_cd: /relu targets, CD x3")}

FIGURE = TrainedInversionFigure(
    id="fig09",
    net="vgg16",
    mode="stacked",
    variants={"cd_cd_cd": CD3},
    what="Three conv-deconv modules, each trained alone on one operation, invert VGG16's first block.",
    thesis_note="Thesis settings (stack_l123_cd_cd_cd): Adam 3e-4, batch 32, 3000 steps for CD3 and CD2; CD1 was "
    "trained with Adam 1e-4 and batch 10. Here all three share one setting.",
    rows_caption="Held-out images | reconstruction from pool1 by three stacked CD modules | colour-accurate error "
    "(grey = no error) | absolute error (black = no error); each error map renormalised to [0, 1].",
)
ex = experiment(FIGURE)
