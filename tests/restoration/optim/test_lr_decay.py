"""``TrainSettings.lr_decay``: the cosine decay of the learning rate over the last part of training.

The factor is pinned to its formula, the Keras schedule the optimiser gets is checked against ``lr_at`` at every
step, and on a tiny noisy problem (Adam on ``mean((w - batch)^2)`` with noisy batches, where a constant rate leaves
``w`` jittering around the optimum) the decayed run ends several times closer to the optimum.
"""

import math

import numpy as np
import pytest

from restoration.optim import Objective, TrainSettings, _learning_rate, run_loop
from restoration.optim.schedule import decay_factor, decay_start


def test_decay_factor_is_one_then_a_half_cosine_towards_zero():
    # 10 steps, the last half decayed: updates 5..9 are the 1st..5th of 5 decayed ones
    assert decay_start(10, 0.5) == 5
    f = [decay_factor(i, 10, 0.5) for i in range(12)]
    assert f[:5] == [1.0] * 5
    assert f[5:10] == pytest.approx([0.5 * (1 + math.cos(math.pi * k / 6)) for k in range(1, 6)])
    assert f[7] == pytest.approx(0.5)  # the middle of the decay
    assert 0 < f[9] < 0.07 and f[10] == f[11] == f[9]  # the last update still moves; later steps keep its rate
    assert [decay_factor(i, 10, 0.0) for i in range(12)] == [1.0] * 12
    assert decay_factor(0, 10, 1.0) < 1.0  # decay=1: from the first update


@pytest.mark.parametrize("schedule", [(), ((0, 1e-2), (3, 1e-3))])
def test_the_optimiser_gets_the_rate_lr_at_says(schedule):
    import tensorflow as tf

    s = TrainSettings(steps=10, lr=1e-2, lr_schedule=schedule, lr_decay=0.6, progress=False)
    keras_rate = _learning_rate(s)
    got = [float(keras_rate(tf.constant(i, tf.int64))) for i in range(12)]
    assert got == pytest.approx([s.lr_at(i) for i in range(12)], rel=1e-5)
    assert s.lr_at(9) < 0.1 * s.lr_at(3) and "cosine decay to 0 over the last 60%" in s.describe()
    assert TrainSettings(steps=10, lr=1e-2, lr_decay=0.0).lr_at(9) == 1e-2  # the default: the thesis's constant rate


def test_bad_lr_decay_is_refused_naming_it():
    for bad in (-0.1, 1.5, "half", True):
        with pytest.raises(ValueError, match="lr_decay"):
            TrainSettings(lr_decay=bad)


def _noisy_mean(lr_decay: float) -> float:
    """Adam (lr 0.1, 200 steps) on mean((w - batch)^2), batches = 1 + noise: how far the final w is from 1."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    data = (1.0 + rng.normal(0, 1.0, size=(200, 4, 8))).astype(np.float32)
    w = tf.Variable(tf.zeros([8]))
    obj = Objective("mean", lambda b: [tf.reduce_mean(tf.square(w - b))], [w], ["mse"], [1.0])
    run_loop(obj, lambda step: data[step], TrainSettings(steps=200, lr=0.1, lr_decay=lr_decay, progress=False))
    return float(np.sqrt(np.mean((w.numpy() - 1.0) ** 2)))


def test_decay_ends_closer_to_the_optimum_than_a_constant_rate_on_a_noisy_problem():
    constant, decayed = _noisy_mean(0.0), _noisy_mean(0.5)
    assert decayed < constant / 2.5, (constant, decayed)  # measured: 0.146 constant, 0.041 decayed
