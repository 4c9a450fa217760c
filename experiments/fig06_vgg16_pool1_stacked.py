"""Fig. 6: VGG16 pool1 -> image, three modules trained separately, each on its own operation, then stacked.

Default variant ``final`` (the thesis code's final ``vgg16_specs`` DC1-DC3): ``DC3: pool1 -> conv1_2/lin``
(undoes the 2x2/2 pool), ``DC2: conv1_2/lin -> conv1_1/lin``, ``DC1: conv1_1/lin -> image``, 5x5 kernels, 64
hidden channels. Variant ``may`` is the stack that made the May 10 figure (``stack_l123_dc_cd_cd``: /relu
targets, DC then CD, CD). Fig. 5 trains the same modules end to end; the thesis found stacking better.

Reproduce::

    make reproduce-figure-6                          # = .venv/bin/python -m restoration_experiments fig06 with quick
    .venv/bin/python -m restoration_experiments fig06 with may   # the May variant
    .venv/bin/python -m restoration_experiments fig06 with thesis image_dir=/path/to/imagenet_subset   # GPU scale

``quick``: embedded scikit-image photos, 32 px random crops of the photos and of copies scaled to 1/2, 1/4, 1/8,
with flips, batch 16, 1000 Adam steps per module (lr 1e-3, decayed to 0 along a half cosine over the last 500:
config ``lr_decay=0.5``, which the thesis code does not have), evaluated on 8 held-out 128 px crops (chelsea,
rocket); measured 3 min 51 s a run, two runs side by side on 2 CPU cores (27.20 dB, mean of seeds 0-4;
per-seed SD 1.62 dB, see benchmarks/seed_noise.md), seconds when the module store already holds
the modules. ``thesis``: 224 px images from ``image_dir``, batch 32, 3000 steps per module, Adam 3e-4 constant
(``lr_decay=0``).
"""

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment

FIGURE = TrainedInversionFigure(
    id="fig06",
    net="vgg16",
    mode="stacked",
    variants={
        "final": {"pool1": Chain("pool1", "DC", "lin", 5, 64, label="final thesis spec: /lin targets, DC x3")},
        "may": {
            "pool1": Chain(
                "pool1",
                ("DC", "CD", "CD"),
                "relu",
                5,
                64,
                label="May spec stack_l123_dc_cd_cd: /relu targets, DC then CD, CD",
            )
        },
    },
    what="Three modules invert VGG16's first block (conv1_1, conv1_2, pool1), one operation each.",
    thesis_note="Thesis settings (frhrdr/deep_restoration vgg16_specs, DC1-DC3): 5x5 kernels, 64 hidden channels, "
    "Adam 3e-4, batch 32, 3000 steps per module on 224 px ImageNet images.",
)
ex = experiment(FIGURE)
