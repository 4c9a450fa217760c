"""Shared test helpers: a tiny AlexNet in the ``bvlc_alexnet.npy`` format and Sacred experiment loading."""

import importlib

import numpy as np

ALEXNET_LAYERS = (("conv1", 11, 1), ("conv2", 5, 2), ("conv3", 3, 1), ("conv4", 3, 2), ("conv5", 3, 2))


def tiny_alexnet_npy(path, widths=(4, 8, 8, 8, 8), fc=(16, 16, 10), seed=0) -> dict:
    """Write a small file in the bvlc_alexnet.npy format to ``path`` and return its dict: layer -> [W, b], W of
    shape (kh, kw, c_in/groups, c_out); conv2/4/5 are 2-group convolutions (half the input channels); fc6 takes
    the 6x6 pool5 map of a 227 px input."""
    rng = np.random.default_rng(seed)
    d, c_in = {}, 3
    for (name, k, groups), c in zip(ALEXNET_LAYERS, widths):
        fan_in = k * k * c_in // groups
        d[name] = [
            rng.normal(0, np.sqrt(2 / fan_in), (k, k, c_in // groups, c)).astype(np.float32),
            rng.normal(0, 0.1, c).astype(np.float32),
        ]
        c_in = c
    n_in = 6 * 6 * c_in
    for name, n_out in zip(("fc6", "fc7", "fc8"), fc):
        d[name] = [
            rng.normal(0, np.sqrt(2 / n_in), (n_in, n_out)).astype(np.float32),
            rng.normal(0, 0.1, n_out).astype(np.float32),
        ]
        n_in = n_out
    np.save(path, d, allow_pickle=True)
    return d


def experiment(module_name):
    """The module's Sacred experiment, reloaded so its observer binds to this test's database."""
    return importlib.reload(importlib.import_module(module_name)).ex


def linear_term(c):
    """A prior term with energy sum(c * x): a constant gradient c, so each plain step of lr 1 moves x by exactly
    -c (the inversion tests' probe of what the optimiser does)."""
    import tensorflow as tf

    from restoration import priors

    class Linear(priors.Term):
        def __init__(self):
            super().__init__("linear", "input")
            self.c = tf.constant(c, tf.float32)

        def energy(self, t):
            return tf.reduce_sum(t * self.c, axis=[1, 2, 3])

    return Linear()
