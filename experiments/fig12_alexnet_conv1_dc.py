"""Fig. 12: AlexNet's first layer (conv1 + ReLU) inverted by one deconv-conv (DC) module.

``DC1: conv1/relu -> image``: the first operation, an 11x11/4 VALID deconvolution, has the
stride (55 -> 227 px), then an 11x11 convolution, 96 hidden channels; see Fig. 11 (:func:`conv1_figure`).
Needs ``bvlc_alexnet.npy``.

Reproduce::

    make reproduce-figure-12         # = .venv/bin/python -m restoration_experiments fig12 with quick
    .venv/bin/python -m restoration_experiments fig12 with thesis thesis_5x5 image_dir=/path/to/images

Variant ``thesis_5x5``: the thesis's April-May module, 5x5 kernels and a 5x5/4 up-sampling, Adam 1e-4,
batch 10; why it matters for "DC/DD beat CD" is in Fig. 11's docstring.
"""

from restoration_experiments.fig11_alexnet_conv1_cd import conv1_experiment, conv1_figure

FIGURE = conv1_figure("fig12", "DC")
ex = conv1_experiment(FIGURE)
