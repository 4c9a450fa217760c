"""The thesis's "VGG score" of a reconstruction: the mean over conv{1..5}_1/relu of the normalised Gram-matrix
distance (:func:`restoration.metrics.gram_distance`) between the original's and the reconstruction's maps, on
the top-left 224 x 224 crop (``utils/rec_evaluation.py``).

The thesis used VGG19; this project has VGG16 weights only (HED's trunk), so the score here is a VGG16 score
and is labelled so wherever it is reported.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from restoration.metrics import gram_distance

__all__ = ["VGG_SCORE_LAYERS", "vgg_score"]

VGG_SCORE_LAYERS = ("conv1_1/relu", "conv2_1/relu", "conv3_1/relu", "conv4_1/relu", "conv5_1/relu")


def vgg_score(
    net, images_true, images_test, *, layers: Sequence[str] = VGG_SCORE_LAYERS, crop: int = 224
) -> np.ndarray:
    """Per-image score ``(N,)`` of RGB images in [0, 255] (``(N, H, W, 3)``); lower is better, 0 = same Gram
    matrices at every layer. Layers the net lacks (a tiny test net) are an error naming them."""
    a = np.asarray(images_true, np.float32)[:, :crop, :crop]
    b = np.asarray(images_test, np.float32)[:, :crop, :crop]
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"images_true {a.shape} and images_test {b.shape} must be equal (N, H, W, 3) batches")
    fa = net.features(tf.constant(net.preprocess(a)), list(layers))
    fb = net.features(tf.constant(net.preprocess(b)), list(layers))
    out = np.zeros(len(a))
    for layer in layers:
        m0, m = fa[layer].numpy(), fb[layer].numpy()
        out += np.array([gram_distance(m0[i], m[i]) for i in range(len(a))])
    return out / len(layers)
