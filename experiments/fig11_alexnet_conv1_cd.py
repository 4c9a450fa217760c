"""Fig. 11: AlexNet's first layer (conv1 + ReLU) inverted by one conv-deconv (CD) module.

``CD1: conv1/relu -> image``: a conv (11x11, 96 hidden) then the deconvolution with the stride, which undoes
conv1's 11x11/4 VALID window exactly (55 -> 227 px). Figs. 11-13 differ only in the module kind (this file
declares all three through :func:`conv1_figure`); the thesis found DC and DD give fewer artefacts than CD
(May 3). The VGG16 analogue is ``fig11_vgg16``. Needs ``bvlc_alexnet.npy``.

Reproduce::

    make reproduce-figure-11         # = .venv/bin/python -m restoration_experiments fig11 with quick
    .venv/bin/python -m restoration_experiments fig11 with thesis thesis_5x5 image_dir=/path/to/images

``quick``: embedded photos, 67 px crops, batch 16, 1000 Adam steps (lr 1e-3), the two held-out photos at
227 px. ``thesis``: 227 px images, batch 32, 3000 steps, Adam 3e-4.

Variants (config key ``variant``; a named config each)
-----------------------------------------------------
``cd`` (the default; ``dc``, ``dd`` in Figs. 12-13): 11x11 kernels, the up-sampling is conv1's own 11x11/4
window. This is the setting of the runs behind the May 3 comparison in the thesis repository
(frhrdr/deep_restoration, commits 690dfa1 and 960dd14 of May 2-4, 2017: ``logs/layer_inversion/alexnet/
l1_cd/run2``, ``l1_dc/run2``, ``l1_dd/run1``: 11x11 kernels, an 11x11/4 SAME deconvolution at 224 px, Adam
3e-4, batch 32, 3000 steps, the BGR-normalised image as target), so it stays the default.

``thesis_5x5``: the thesis's first AlexNet conv1 modules (April 25 - May 1, 2017;
``old/alexnet_layer_1_inversion_model.py`` and the first ``layer_inversion.py`` DC run, README "run1: 5x5
conv 5x5 deconv"): 5x5 kernels, a 5x5/4 up-sampling transposed convolution (its footprint centred on conv1's
11x11 window, :attr:`restoration.stacks.ModuleSpec.up_offset`), 96 hidden, trained with Adam lr 1e-4 and
batch 10. Its named config sets those two training numbers too, so put it after the profile
(``with thesis thesis_5x5``; a later named config wins); ``with variant=thesis_5x5`` changes only the modules.
The difference matters for the claim "DC/DD beat CD": with a 5x5 kernel at stride 4 most output pixels of the
transposed convolution receive one input pixel per axis and a few receive two, so a CD module, whose *last*
operation it is, paints a 4-px grid that nothing after it can smooth, while DC/DD follow it with a 5x5
convolution; with 11x11 at stride 4 every output pixel receives two or three. The repository holds 5x5 runs of
CD (``alexnet_inversion_layer_1/run1``, ``run7``) and DC (``l1_dc/run1``) but none of DD: ``thesis_5x5`` DD is
the same numbers applied to the third kind.
"""

import dataclasses

from restoration_experiments._trained_inversion import Chain, TrainedInversionFigure, experiment
from restoration_experiments.fig04_alexnet_pool1_stacked import ALEXNET_QUICK, ALEXNET_THESIS

KIND_WORDS = {
    "CD": ("conv-deconv", "the second operation (the deconvolution) has the stride"),
    "DC": ("deconv-conv", "the first operation (the deconvolution) has the stride"),
    "DD": ("deconv-deconv", "the first operation (the deconvolution) has the stride"),
}

#: The thesis's April-May 5x5 AlexNet conv1 modules: variant name, kernels, training numbers (see the docstring).
THESIS_5X5 = "thesis_5x5"
THESIS_5X5_KERNEL = 5
THESIS_5X5_TRAINING = {"lr": 1e-4, "batch_size": 10}


@dataclasses.dataclass(frozen=True)
class UpKernelChain(Chain):
    """A :class:`Chain` whose modules' up-sampling transposed convolution has kernel ``up_kernel`` instead of
    the inverted operation's own (:attr:`restoration.stacks.ModuleSpec.up_kernel`)."""

    up_kernel: int | None = None

    def specs(self, net):
        return [dataclasses.replace(s, up_kernel=self.up_kernel) for s in super().specs(net)]


def conv1_figure(fig_id: str, kind: str) -> TrainedInversionFigure:
    """Figs. 11-13: one ``kind`` module from AlexNet's conv1/relu to the image (11x11 kernels, 96 hidden), and
    the thesis's 5x5 variant."""
    if kind not in KIND_WORDS:
        raise ValueError(f"module kind {kind!r}: figs. 11-13 compare {sorted(KIND_WORDS)}")
    word, stride = KIND_WORDS[kind]
    k = THESIS_5X5_KERNEL
    return TrainedInversionFigure(
        id=fig_id,
        net="alexnet",
        mode="stacked",
        variants={
            kind.lower(): {
                "conv1/relu": Chain(
                    "conv1/relu",
                    kind,
                    "relu",
                    11,
                    96,
                    points=("conv1/relu", "input"),
                    label=f"one {kind} module, 11x11, 96 hidden",
                )
            },
            THESIS_5X5: {
                "conv1/relu": UpKernelChain(
                    "conv1/relu",
                    kind,
                    "relu",
                    k,
                    96,
                    points=("conv1/relu", "input"),
                    up_kernel=k,
                    label=f"the thesis's April-May module: one {kind} module, {k}x{k}, 96 hidden, {k}x{k}/4 "
                    f"up-sampling, Adam lr {THESIS_5X5_TRAINING['lr']:g}, batch "
                    f"{THESIS_5X5_TRAINING['batch_size']} (with its named config)",
                )
            },
        },
        what=f"One {kind} module inverts AlexNet's conv1 and its ReLU; {stride}.",
        thesis_note="The May 3 comparison (thesis repository, runs l1_cd/run2, l1_dc/run2, l1_dd/run1 of May 2-4) "
        "inverted the first layer of an older TF AlexNet at 224 px with 11x11 kernels and an 11x11/4 "
        "SAME deconvolution (Adam 3e-4, batch 32); here the Caffe AlexNet's 227 px geometry is undone "
        "exactly (11x11/4 VALID), as in the thesis's final alexnet_specs DC1. Variant thesis_5x5 is "
        "the earlier April-May setting (old/alexnet_layer_1_inversion_model.py): 5x5 kernels, a "
        "5x5/4 deconvolution, Adam 1e-4, batch 10.",
        quick=ALEXNET_QUICK,
        thesis=ALEXNET_THESIS,
    )


def conv1_experiment(fig: TrainedInversionFigure):
    """The Sacred experiment of one of Figs. 11-13: :func:`experiment`, with the ``thesis_5x5`` named config
    setting the thesis's training numbers as well as the variant (``experiment`` gives each variant a named
    config that sets only ``variant``)."""
    ex = experiment(fig)
    del ex.named_configs[THESIS_5X5]
    ex.add_named_config(THESIS_5X5, {"variant": THESIS_5X5, **THESIS_5X5_TRAINING})
    return ex


FIGURE = conv1_figure("fig11", "CD")
ex = conv1_experiment(FIGURE)
