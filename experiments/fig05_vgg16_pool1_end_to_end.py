"""Fig. 5: VGG16 pool1 -> image with the three modules of Fig. 6 trained end to end, loss on the image only.

Same modules and variants as Fig. 6 (``final``: /lin targets, DC x3; ``may``: /relu, DC-CD-CD). The chain is
trained at once from true pool1 activations with an MSE loss only on the reconstructed (normalised BGR)
image; the intermediate modules get no target of their own. The thesis found the stacked version (Fig. 6)
better.

Reproduce::

    make reproduce-figure-5          # = .venv/bin/python -m restoration_experiments fig05 with quick
    .venv/bin/python -m restoration_experiments fig05 with thesis image_dir=/path/to/imagenet_subset   # GPU scale

``quick``: embedded photos, 32 px crops, batch 16, 1000 Adam steps (lr 1e-3, decayed to 0 along a half cosine over
the last 500: config ``lr_decay=0.5``, which the thesis code does not have) of the whole chain (the same number of
updates per module, and about the same compute, as Fig. 6), the same 8 held-out 128 px crops; measured
4 min 10 s a run, two runs side by side on 2 CPU cores (29.01 dB, mean of seeds 0-4; per-seed SD 1.45 dB, see
benchmarks/seed_noise.md). ``thesis``: 224 px images from ``image_dir``, batch 32, 3000 steps, Adam 3e-4 constant
(``lr_decay=0``).
"""

from restoration_experiments._trained_inversion import TrainedInversionFigure, experiment
from restoration_experiments.fig06_vgg16_pool1_stacked import FIGURE as FIG06

FIGURE = TrainedInversionFigure(
    id="fig05",
    net="vgg16",
    mode="end_to_end",
    variants=FIG06.variants,
    what="The three modules of Fig. 6 invert VGG16's first block, trained as one network.",
    thesis_note=FIG06.thesis_note,
)
ex = experiment(FIGURE)
