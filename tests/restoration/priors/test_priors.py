"""Energy terms: each prior's value and gradient on small inputs against an independent numpy computation
(gradients by central differences in float64), composition (``c * term + term``), and the lucid-style property
that a few optimiser steps lower every term."""

import numpy as np
import pytest
import tensorflow as tf

from restoration import priors
from restoration.preimage import QUIET, FeatureLoss, InvertSettings, invert
from restoration.nets import tiny_vgg

SHAPE = (2, 5, 6, 3)
MEAN = np.array([104.00699, 116.66877, 122.67892])


# ----------------------------------------------------------------------------------------------------------
# numpy references (float64), written from the formulas in the docstrings / M&V 2016 Sec. 3.3
# ----------------------------------------------------------------------------------------------------------


def np_alpha(x, alpha=6.0, B=80.0):
    n, h, w, _ = x.shape
    out = np.zeros(n)
    for i in range(n):
        for u in range(h):
            for v in range(w):
                out[i] += np.sqrt(np.sum(x[i, u, v] ** 2)) ** alpha
    return out / (h * w * B**alpha)


def np_tv(x, beta=2.0, B=80.0, eps=1e-8):
    n, h, w, _ = x.shape
    V = B / 6.5
    out = np.zeros(n)
    for i in range(n):
        for u in range(h - 1):
            for v in range(w - 1):
                s = np.sum((x[i, u, v + 1] - x[i, u, v]) ** 2 + (x[i, u + 1, v] - x[i, u, v]) ** 2)
                out[i] += s if beta == 2 else (s + eps) ** (beta / 2)
    return out / (h * w * V**beta)


def np_softrange(x, low=-MEAN, high=255 - MEAN):
    n, h, w, _ = x.shape
    over = np.maximum(x - high, 0) + np.maximum(low - x, 0)
    return np.sum(over**2, axis=(1, 2, 3)) / (h * w)


def np_feature(x, target):
    d = (x - target).reshape(len(x), -1)
    return np.sum(d**2, axis=1) / np.sum(target.reshape(len(x), -1) ** 2, axis=1)


def numeric_grad(f, x, h=1e-4):
    """Central differences of sum(f(x)) in float64."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (np.sum(f(xp)) - np.sum(f(xm))) / (2 * h)
    return g


def tf_value_and_grad(term, x):
    xt = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        e = term.energy(xt)
        total = tf.reduce_sum(e)
    return e.numpy().astype(np.float64), tape.gradient(total, xt).numpy().astype(np.float64)


rng0 = np.random.default_rng(0)
X = rng0.normal(0, 60, SHAPE)  # pixel-scale values, like a mean-subtracted image
X_OUT = rng0.uniform(-180, 180, SHAPE)  # many values outside the valid pixel box
TARGET = rng0.normal(0, 1, SHAPE)

CASES = {
    "alpha6": (priors.AlphaNorm(6.0, 80.0), lambda x: np_alpha(x, 6.0), X),
    "alpha2_B10": (priors.AlphaNorm(2.0, 10.0), lambda x: np_alpha(x, 2.0, 10.0), X),
    "tv2": (priors.TotalVariation(2.0, 80.0), lambda x: np_tv(x, 2.0), X),
    "tv1": (priors.TotalVariation(1.0, 80.0), lambda x: np_tv(x, 1.0), X),
    "softrange": (priors.SoftRange(), np_softrange, X_OUT),
    "feature": (FeatureLoss("conv1_1", TARGET), lambda x: np_feature(x, TARGET), X / 60.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_value_and_gradient_match_numpy(case):
    term, ref, x = CASES[case]
    value, grad = tf_value_and_grad(term, x)
    np.testing.assert_allclose(value, ref(x), rtol=1e-4, err_msg=f"{case} value")
    assert value.shape == (SHAPE[0],)
    num = numeric_grad(ref, x, h=1e-3 * max(1.0, float(np.abs(x).mean())))
    scale = np.abs(num).max()
    np.testing.assert_allclose(grad, num, rtol=2e-3, atol=2e-3 * scale, err_msg=f"{case} gradient")


def test_alpha_norm_of_a_pixel_of_norm_B_is_one():
    # M&V 2016's normalisation: a pixel whose colour vector has norm B scores exactly 1
    x = np.zeros((1, 4, 4, 3))
    x[..., 0] = 80.0
    value, _ = tf_value_and_grad(priors.AlphaNorm(6.0, 80.0), x)
    assert value[0] == pytest.approx(1.0, rel=1e-5)


def test_tv_of_a_constant_image_is_zero():
    x = np.full((1, 6, 6, 3), 17.0)
    value, grad = tf_value_and_grad(priors.TotalVariation(2.0), x)
    assert value[0] == 0.0 and np.all(grad == 0)


def test_composition_weights_names_and_logging():
    a, t = priors.alpha_norm(), priors.tv()
    obj = 1e-3 * a + 2 * t
    assert isinstance(obj, priors.Objective)
    assert obj.names == ("alpha6", "tv2")
    assert [term.weight for term in obj] == [pytest.approx(1e-3), 2.0]
    assert a.weight == 1.0  # scaling copies
    x = tf.constant(X, tf.float32)
    total, values = obj({"input": x})
    np.testing.assert_allclose(values["alpha6"].numpy(), 1e-3 * np_alpha(X), rtol=1e-4)
    np.testing.assert_allclose(total.numpy(), 1e-3 * np_alpha(X) + 2 * np_tv(X), rtol=1e-4)
    assert sum([a, t]).names == ("alpha6", "tv2")
    with pytest.raises(ValueError, match="two terms are named 'tv2'"):
        _ = t + priors.tv()
    assert (t + priors.tv().named("tv2_b")).names == ("tv2", "tv2_b")
    with pytest.raises(KeyError, match="conv9"):
        priors.AlphaNorm(layer="conv9")({"input": x})


def test_a_prior_on_a_feature_map_reads_that_layer():
    net = tiny_vgg()
    x = tf.constant(np.random.default_rng(1).normal(0, 30, (1, 8, 8, 3)), tf.float32)
    acts = net.features(x, ["conv1_2"])
    term = priors.AlphaNorm(2.0, 1.0, layer="conv1_2")
    np.testing.assert_allclose(
        term(acts).numpy(), np_alpha(acts["conv1_2"].numpy().astype(np.float64), 2.0, 1.0), rtol=1e-4
    )


@pytest.mark.parametrize("case", ["alpha6", "tv2", "tv1", "softrange"])
def test_a_few_adam_steps_lower_every_image_prior(case):
    term = CASES[case][0]
    x0 = X_OUT.astype(np.float32)
    before = term.energy(tf.constant(x0)).numpy().sum()
    res = invert(tiny_vgg(), term, InvertSettings(n_steps=15, lr=1.0), x_init=x0, report=QUIET)
    assert res.trace_count == 1
    after = term.energy(tf.constant(res.x_bgr)).numpy().sum()
    assert after < 0.9 * before, (case, before, after)
