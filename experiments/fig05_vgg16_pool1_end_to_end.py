"""Fig. 5: VGG16 pool1 -> image with the three modules of Fig. 6 trained end to end, loss on the image only.

Same modules as Fig. 6 (thesis settings, frhrdr/deep_restoration ``vgg16_specs`` DC1-DC3): ``DC3: pool1 ->
conv1_2/lin`` (stride 2), ``DC2: conv1_2/lin -> conv1_1/lin``, ``DC1: conv1_1/lin -> image``, 5x5 kernels, 64
hidden channels. Here the chain is trained at once from true pool1 activations with an MSE loss only on the
reconstructed (normalised BGR) image; the intermediate modules get no target of their own. The thesis claims
the stacked version (Fig. 6) reconstructs better.

Reproduce::

    make reproduce-figure-5          # = .venv/bin/python -m experiments fig05 with quick
    .venv/bin/python -m experiments fig05 with thesis image_dir=/path/to/imagenet_subset   # GPU scale

``quick`` (default): embedded scikit-image photos, 32 px random crops, batch 16, 1000 Adam steps (lr 1e-3) of
the whole chain (the same number of updates per module, and about the same compute, as Fig. 6's quick run),
evaluated on the same 8 held-out 128 px crops. 2.5-4.5 min on 2 CPU cores (measured 2:27 from a fresh clone
on an idle machine, 4:24-4:41 with other jobs running).
``thesis``: 224 px images from ``image_dir``, batch 32, 3000 steps, Adam lr 3e-4 (hours on CPU; use a GPU).
A killed run resumes from its last checkpoint when re-run with the same config; a NaN/inf loss fails
the run and keeps the last finite checkpoint. A completed run marks its checkpoints finished, so
re-running a config that already completed trains afresh.
"""

from __future__ import annotations

from experiments import _trained_inversion
from restoration import tracking

NAME = "fig05"
ex = tracking.make_experiment(NAME)
_trained_inversion.attach(ex)  # config, quick and thesis named configs: see experiments/_trained_inversion.py


@ex.automain
def main(_run, _config):
    return _trained_inversion.run_figure(_run, _config, name=NAME, mode="end_to_end")
