"""bfloat16 and float32 give the same answer within stated tolerances on small inputs, per hot path; the switch is
a config value recorded in the run; a bad value is one line.

Tolerances: bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 % per operand), so a few layers of
3x3 convolutions over random weights land within about 2 % of float32 in relative L2 norm; optimisation and
training results, which average many such steps, within 5-10 %.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import experiment

from restoration import inversion, metrics, modules, nets, recipes, registry, tracking
from restoration.learned_priors import score_matching_loss


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def tiny():
    return nets.tiny_vgg(seed=0, channels=(8, 16, 16))


def test_net_in_bfloat16_returns_float32_activations_within_2_percent(tiny, rng):
    x = tf.constant(tiny.preprocess(rng.uniform(0, 255, (2, 32, 32, 3))), tf.float32)
    f32 = tiny.features(x, ["conv1_2/relu", "pool2", "conv3_3/lin"])
    bf = tiny.with_precision("bfloat16").features(x, ["conv1_2/relu", "pool2", "conv3_3/lin"])
    for k in f32:
        assert bf[k].dtype == tf.float32
        assert 1e-4 < rel(bf[k], f32[k]) < 2e-2, k  # really computed in bfloat16, and close
    assert tiny.precision == "float32"  # with_precision gives a new view; the net itself is unchanged
    assert tiny.with_precision("bfloat16").digest() != tiny.digest()  # module store / cell keys tell them apart
    assert rel(tiny.with_precision("bfloat16").forward_from("pool1", f32["conv1_2/relu"][:, ::2, ::2], "pool2"),
               tiny.forward_from("pool1", f32["conv1_2/relu"][:, ::2, ::2], "pool2")) < 2e-2
    with pytest.raises(ValueError, match=r"precision='float16': use 'float32' or 'bfloat16'"):
        nets.build("tiny_vgg", precision="float16")


def test_optimisation_inversion_reaches_the_same_feature_error(tiny, rng):
    img = rng.uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    errs = {}
    for pr in ("float32", "bfloat16"):
        res = inversion.invert_layer(tiny.with_precision(pr), img, "conv2_2", recipe=recipes.get_recipe("mv2016"),
                                     n_steps=60, progress=False)
        assert res.rgb.dtype == np.float32 and np.isfinite(res.rgb).all()
        # score both results with the float32 net
        x = tf.constant(tiny.preprocess(np.clip(res.rgb, 0, 255)))
        phi, phi0 = tiny(x, "conv2_2").numpy(), tiny(tf.constant(tiny.preprocess(img)), "conv2_2").numpy()
        errs[pr] = float(metrics.normalized_error(phi, phi0))
    assert errs["float32"] < 0.5  # it did optimise
    assert abs(errs["bfloat16"] - errs["float32"]) <= 0.10 * errs["float32"], errs


def test_inversion_module_in_bfloat16_keeps_float32_weights_and_trains_alike(tiny, rng):
    spec = modules.ModuleSpec("DC1", "DC", "pool1", "input", kernel=5, hidden=16)
    x = tf.constant(rng.normal(size=(4, 8, 8, 8)), tf.float32)
    y = tf.constant(rng.normal(size=(4, 16, 16, 3)), tf.float32)
    losses = {}
    for pr in ("float32", "bfloat16"):
        tiny_pr = tiny.with_precision(pr)
        stack = modules.InversionStack.for_net(tiny_pr, [spec], seed=0)
        assert stack.precision == pr and stack.sub(0, 1).precision == pr and stack.sub(0, 1).models[0].precision == pr
        model = stack.models[0]
        opt = keras.optimizers.Adam(1e-2)
        curve = []
        for _ in range(30):
            with tf.GradientTape() as tape:
                out = model(x, out_hw=(16, 16))
                loss = tf.reduce_mean(tf.square(out - y))
            grads = tape.gradient(loss, model.trainable_variables)
            assert out.dtype == tf.float32 and all(g.dtype == tf.float32 for g in grads)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            curve.append(float(loss))
        assert all(v.dtype == tf.float32 for v in model.trainable_variables)
        losses[pr] = curve
    assert losses["float32"][-1] < 0.8 * losses["float32"][0]
    assert abs(losses["bfloat16"][0] - losses["float32"][0]) < 2e-2 * losses["float32"][0]
    assert abs(losses["bfloat16"][-1] - losses["float32"][-1]) < 5e-2 * losses["float32"][-1]


def test_score_matching_loss_and_gradient_in_bfloat16(rng):
    W = tf.Variable(rng.normal(0, 1, (64, 20)).astype(np.float32))
    a = tf.Variable(rng.normal(0, 1, 64).astype(np.float32))
    z = tf.constant(rng.normal(size=(200, 20)).astype(np.float32))
    out = {}
    for pr in ("float32", "bfloat16"):
        with tf.GradientTape() as tape:
            loss = score_matching_loss(W, a, z, "student", precision=pr)
        out[pr] = (float(loss), [g.numpy() for g in tape.gradient(loss, [W, a])])
        assert loss.dtype == tf.float32
    assert abs(out["bfloat16"][0] - out["float32"][0]) < 1e-2 * abs(out["float32"][0])
    for g16, g32 in zip(out["bfloat16"][1], out["float32"][1]):
        assert rel(g16, g32) < 3e-2


TINY = dict(net="tiny_vgg", crop=16, batch_size=4, steps=4, eval_size=16, eval_per_image=1, log_every=1,
            eval_every=2, ckpt_every=2, rows=2)


def test_precision_is_a_recorded_config_value_of_every_experiment():
    ex = experiment(registry.load().figure("fig12_vgg16").module)
    run = ex.run(named_configs=["quick"], config_updates={**TINY, "precision": "bfloat16"})
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED" and rec.config["precision"] == "bfloat16"
    assert rec.info["provenance"]["changed"]["precision"] == "bfloat16"
    with pytest.raises(ValueError, match=r"precision='half'"):
        ex.run(named_configs=["quick"], config_updates={**TINY, "precision": "half"})
    # every experiment family has the key (tracking.make_experiment's, or the family's own default): bfloat16
    # where the net is the cost, float32 for prior training by score matching (benchmarks/README.md)
    expected = {"fig02": "bfloat16", "fig06": "bfloat16", "prior_compare": "bfloat16", "benchmark": "bfloat16",
                "loo_pool1": "bfloat16", "fig03_vgg16": "float32", "prior_full512": "float32", "prior_whitening": "float32"}
    for fig_id, precision in expected.items():
        ex = experiment(registry.load().figure(fig_id).module)
        cfg = ex.run(command_name="print_config", named_configs=["quick"]).config
        assert cfg["precision"] == precision, fig_id
