"""The thesis's benchmark table: every reconstruction method from every depth, three metrics, one image set.

For each net (VGG16 always; AlexNet when ``bvlc_alexnet.npy`` is given) and each depth conv1 ... conv5 (the
last convolution of the block, pre-ReLU), every method reconstructs the evaluation images: M&V 2016 from noise
and from the image itself (the thesis's benchmark runs), trained inverters stacked and merged, M&V with each
learned image prior in place of TV (our form), and the thesis's own FoE procedure (``foe_thesis:full512``: feature
MSE alone, then MSE plus the prior at the thesis's per-layer weight; the row the thesis's FoE numbers stand
beside). Scored by MSE, the thesis's NMSE and the VGG (Gram) score, clipped and min-max rescaled;
the AlexNet table puts the thesis's own numbers beside ours. Finished cells are stored in the run and reused by
later runs with the same configuration (body: ``experiments/_benchmark.py``).

Reproduce::

    make reproduce-benchmark                                    # quick: VGG16 (+ AlexNet if its weights exist)
    make reproduce-benchmark ARGS='alexnet_weights=/data/bvlc_alexnet.npy'
    .venv/bin/python -m restoration_experiments benchmark with thesis image_dir=/data/imagenet_val   # the ten ids

``quick``: the two embedded held-out photos at 64 px (AlexNet 99 px), depths 1-5, M&V 200 steps per cell,
trained modules 300 steps each on the embedded training photos (64 px crops, batch 4; AlexNet 99), merged fine-tuning
100 steps per depth, the full512 prior (trained first by ``make reproduce-benchmark`` when missing) in M&V and in
the thesis's two phases, whose step counts shrink by the same 200 / 3500 (VGG16 571 + 857, AlexNet 286 + 286).
``thesis``: 224 px (AlexNet 227), ten images, the recipes' 3500 steps, 3000 steps per module, batch 32, the two
phases at the thesis's full counts (AlexNet 5000 + 5000, VGG16 10,000 + 15,000).
"""

from restoration_experiments._benchmark import run_benchmark
from restoration import tracking
from restoration.optim.schedule import Schedule
from restoration.stacks.training import MERGED_SCHEDULE

ex = tracking.make_experiment("benchmark")

QUICK = dict(
    profile="quick",
    nets=["vgg16", "alexnet"],  # AlexNet runs when its weights file exists, else it is named and skipped
    vgg16_weights="hed",
    alexnet_weights="default",  # "default": $ALEXNET_WEIGHTS or weights/bvlc_alexnet.npy
    depths=[1, 2, 3, 4, 5],  # conv blocks; the last conv of each
    targets="lin",  # "lin" (pre-ReLU, the thesis's) or "relu"
    methods=[
        "mv2016",
        "mv2016_target",
        "trained_stacked",
        "trained_merged",
        "prior:full512",
        "foe_thesis:full512",
    ],  # prior:<p>: M&V 2016 with p in place of TV; foe_thesis:<p>: the thesis's 2 phases
    image_dir=None,  # None: the embedded held-out photos; a folder: the thesis's ten ids
    n_images=2,
    size={"vgg16": 64, "alexnet": 99, "tiny_vgg": 32},
    steps=200,  # M&V steps per cell (None: the recipe's 3500); the two phases of
    # foe_thesis scale the thesis's counts by the same steps / 3500
    lr_scale=1.0,  # M&V's rates and the two phases' rate
    weight_scale=30.0,  # learned prior weight, as prior_compare
    # 64 px crops (the evaluation size), batch 4: the same pixels per step as 32 px x 16, but the block-4/5
    # modules train on the 8x8 / 4x4 maps they invert at test time. With 32 px x 16 (2x2 conv5 maps) the
    # conv4/conv5 stacks saturated (MSE 6209 / 9697 stacked); with 64 px x 4 they reach 3262 / 2880 (merged
    # 2186 / 2285), measured on the two held-out photos.
    crop={"vgg16": 64, "alexnet": 99, "tiny_vgg": 16},
    batch_size=4,
    module_steps=300,
    lr=1e-3,
    finetune_steps=100,  # per depth; the conv5 chain (17 modules) costs 1.3 s a step here
    finetune_lr_schedule=[list(p) for p in Schedule(MERGED_SCHEDULE).compressed(100 / 3000).points],  # 0/33/67
    score_net="vgg16",  # the VGG score's net ("tiny_vgg" in tests; always float32)
    precision="auto",  # the methods' nets and modules: bfloat16 where measured faster here
    score_layers=None,  # None: conv1_1 ... conv5_1 (/relu)
    reuse=True,  # take finished cells of earlier runs with the same configuration
    grid_image=0,
    seed=0,
    progress=True,
)
THESIS = dict(
    profile="thesis",
    size={"vgg16": 224, "alexnet": 227, "tiny_vgg": 32},
    n_images=10,
    steps=None,
    crop={"vgg16": 224, "alexnet": 227, "tiny_vgg": 32},
    batch_size=32,
    module_steps=3000,
    lr=3e-4,
    finetune_steps=3000,
    finetune_lr_schedule=[list(p) for p in MERGED_SCHEDULE],
    methods=[
        "mv2016",
        "mv2016_target",
        "trained_stacked",
        "trained_merged",
        "prior:full512",
        "prior:full512_logistic",
        "prior:full1024",
        "prior:cica_image",
        "foe_thesis:full512",
    ],
)

ex.add_config(QUICK)
ex.add_named_config("quick", {"profile": "quick"})
ex.add_named_config("thesis", THESIS)


@ex.main
def main(_run, _config):
    return run_benchmark(_run, _config)
