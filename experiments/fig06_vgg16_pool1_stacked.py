"""Fig. 6: VGG16 pool1 -> image with three modules trained separately, each on its own operation, then stacked.

Modules (thesis settings, frhrdr/deep_restoration ``vgg16_specs`` DC1-DC3; see ``restoration.modules``):
``DC3: pool1 -> conv1_2/lin`` (stride 2), ``DC2: conv1_2/lin -> conv1_1/lin``, ``DC1: conv1_1/lin -> image``,
5x5 kernels, 64 hidden channels, MSE loss on each module's true target. Each module is trained on true
activations of the net; the stack is evaluated by feeding held-out pool1 activations through all three.
Fig. 5 (``fig05_vgg16_pool1_end_to_end``) trains the same modules end to end; the thesis claims the stacked
version reconstructs better.

Reproduce::

    make reproduce-figure-6          # = .venv/bin/python -m experiments fig06 with quick
    .venv/bin/python -m experiments fig06 with thesis image_dir=/path/to/imagenet_subset   # GPU scale

``quick`` (default): embedded scikit-image photos, 32 px random crops, batch 16, 1000 Adam steps (lr 1e-3) per
module, evaluated on 8 held-out 128 px crops (chelsea, rocket). 2.5-6.5 min on 2 CPU cores, VGG features
included (measured 2:20 from a fresh clone on an idle machine, 6:21 with other jobs running).
``thesis``: 224 px images from ``image_dir``, batch 32, 3000 steps per module, Adam lr 3e-4 (hours on CPU; use
a GPU).
A killed run resumes from its last checkpoint when re-run with the same config; a NaN/inf loss fails
the run and keeps the last finite checkpoint. A completed run marks its checkpoints finished, so
re-running a config that already completed trains afresh.
"""

from __future__ import annotations

from experiments import _trained_inversion
from restoration import tracking

NAME = "fig06"
ex = tracking.make_experiment(NAME)
_trained_inversion.attach(ex)  # config, quick and thesis named configs: see experiments/_trained_inversion.py


@ex.automain
def main(_run, _config):
    return _trained_inversion.run_figure(_run, _config, name=NAME, mode="stacked")
