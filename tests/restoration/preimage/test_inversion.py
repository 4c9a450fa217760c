"""Optimisation inversion on tiny nets: schedules, jitter, no retracing, multi-layer objectives, L-BFGS,
logging/snapshots, divergence, recipes, the CLI, and that a shallow layer's pre-image is close to the image."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import linear_term

from restoration import preimage
from restoration import metrics
from restoration import priors
from restoration.preimage import recipes
from restoration.errors import DivergenceError, UnknownLayerError
from restoration.objectives.jitter import Jitter
from restoration.preimage import QUIET, Reporting, Schedule, feature_loss, invert, invert_layer
from restoration.preimage import InvertSettings as S
from restoration.nets import tiny_vgg


@pytest.fixture(scope="module")
def net():
    return tiny_vgg(seed=0, channels=(8, 8))


@pytest.fixture(scope="module")
def images():
    from restoration import data

    named = dict(data.embedded_images("all"))
    return np.stack([data.center_crop_resize(named[n], 24) for n in ("astronaut", "coffee")]).astype(np.float32)


def phi(net, images, layer):
    return net(tf.constant(net.preprocess(images)), layer).numpy()


# ----------------------------------------------------------------------------------------------------------
# schedule and jitter
# ----------------------------------------------------------------------------------------------------------


def test_learning_rate_schedule():
    s = Schedule(((0, 1e-2), (1000, 3e-3), (2000, 1e-3)))
    assert [s(i) for i in (0, 999, 1000, 1999, 2000, 3499)] == [1e-2, 1e-2, 3e-3, 3e-3, 1e-3, 1e-3]
    assert Schedule.of(0.5)(10**6) == 0.5
    for bad in (((5, 1e-2),), ((0, 1e-2), (0, 1e-3)), ((0, -1.0),)):
        with pytest.raises(ValueError):
            Schedule(bad)
    r = recipes.MV2016
    f = 80.0**2 / 6.0  # the recipe's B^2/alpha scaling
    assert [r.lr_at(i) for i in (0, 1000, 2000)] == pytest.approx([1e-2 * f, 3e-3 * f, 1e-3 * f])
    q = r.with_steps(350)
    assert q.lr_schedule[1][0] == 100 and q.lr_schedule[2][0] == 200 and q.jitter_off_steps == 75
    assert r.with_lr_scale(2.0).lr_at(0) == pytest.approx(2e-2 * f)
    short = r.with_steps(2).lr_schedule  # colliding boundaries merge, the later rate wins
    assert [s for s, _ in short] == [0, 1] and [v for _, v in short] == pytest.approx([1e-2 * f, 1e-3 * f])


def test_the_schedule_is_what_the_optimiser_uses(net, images):
    """Momentum-free steps on a linear energy: x moves by exactly -(sum of the scheduled lrs) * gradient."""
    logged = []
    c = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype(np.float32)
    x0 = np.zeros((1, 8, 8, 3), np.float32)
    res = invert(
        net,
        linear_term(c),
        S(optimizer="momentum", momentum=0.0, n_steps=6, lr=((0, 1.0), (3, 0.25))),
        x_init=x0,
        report=Reporting(log=lambda n, v, s: logged.append((n, v, s)), log_every=1, progress=False),
    )
    lrs = [(s, v) for n, v, s in logged if n == "lr"]
    assert lrs == [(1, 1.0), (2, 1.0), (3, 1.0), (4, 0.25), (5, 0.25), (6, 0.25)]
    np.testing.assert_allclose(res.x_bgr, x0 - (3 * 1.0 + 3 * 0.25) * c, rtol=1e-5, atol=1e-5)


def jitter_image(x, offsets, t_max):
    """The ``mirror`` rule's window for shifts ``offsets = (dy, dx)`` in ``[-t_max, t_max]``."""
    return Jitter("mirror", t_max).apply(x, tf.cast(offsets, tf.int32) + int(t_max))


def jitter_offsets(n_steps, t_max, off_steps=0, *, seed=0):
    return Jitter("mirror", t_max).starts(n_steps, off_steps, seed=seed) - np.int32(t_max)


def test_jitter_image_shifts_with_mirrored_borders():
    x = np.arange(2 * 7 * 9 * 3, dtype=np.float32).reshape(2, 7, 9, 3)
    out = jitter_image(tf.constant(x), tf.constant([2, -1]), 3).numpy()
    # output pixel (i, j) = input pixel (i + 2, j - 1) wherever that exists
    np.testing.assert_array_equal(out[:, :5, 1:], x[:, 2:, :8])
    np.testing.assert_array_equal(out[:, 5, 1:], x[:, 6, :8])  # mirrored row below the image
    np.testing.assert_array_equal(jitter_image(tf.constant(x), tf.constant([0, 0]), 3).numpy(), x)
    np.testing.assert_array_equal(jitter_image(tf.constant(x), tf.constant([1, 1]), 0).numpy(), x)


def test_jitter_offsets_are_bounded_varied_and_stop_near_the_end():
    off = jitter_offsets(400, 4, 50, seed=3)
    assert off.shape == (400, 2) and off.dtype == np.int32
    assert off.min() == -4 and off.max() == 4
    assert len({tuple(o) for o in off[:350]}) > 40
    assert np.all(off[350:] == 0) and np.any(off[340:350] != 0)
    assert np.all(jitter_offsets(10, 0) == 0)


def test_recipe_stage_tables_reproduce_the_thesis_alexnet_table():
    # frhrdr/deep_restoration utils/db_mv_comparison.py, get_jitter_and_mean_weight('alexnet', ...): the layer
    # list and the C / T per layer for M&V 2016 (our 'prob' is the thesis's 'softmax').
    layers = [
        "conv1/lin",
        "conv1/relu",
        "lrn1",
        "pool1",
        "conv2/lin",
        "conv2/relu",
        "lrn2",
        "pool2",
        "conv3/lin",
        "conv3/relu",
        "conv4/lin",
        "conv4/relu",
        "conv5/lin",
        "conv5/relu",
        "pool5",
        "fc6/lin",
        "fc6/relu",
        "fc7/lin",
        "fc7/relu",
        "fc8/lin",
        "fc8/relu",
        "prob",
    ]
    c = (300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 100, 100, 20, 20, 1, 1, 1, 1, 1, 1, 1, 1)
    t = (1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8)
    r = recipes.MV2016
    assert tuple(r.feature_weight_for(x) for x in layers) == c
    assert tuple(r.jitter_for(x) for x in layers) == t
    assert r.jitter_for("conv5_3", 64, 224) == 1 and r.jitter_for("pool5", 112, 224) == 4
    with pytest.raises(ValueError, match="recipe"):
        recipes.layer_stage("mixed5c")
    with pytest.raises(ValueError, match="mv2016"):
        recipes.get_recipe("nope")


# ----------------------------------------------------------------------------------------------------------
# compiled steps
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "lbfgs"])
def test_one_trace_per_run_despite_changing_lr_and_jitter(net, images, optimizer):
    obj = feature_loss("conv2_1", phi(net, images, "conv2_1")) + priors.tv()
    res = invert(
        net,
        obj,
        S(optimizer=optimizer, n_steps=25, jitter=2, jitter_off_steps=5, lr=((0, 1.0), (5, 0.5), (10, 0.1))),
        shape=images.shape[:3],
        report=QUIET,
    )
    assert res.trace_count == 1
    assert res.n_steps >= 1


def test_xla_compiled_step_gives_the_same_result(net, images):
    obj = feature_loss("conv1_2", phi(net, images, "conv1_2"))
    a = invert(net, obj, S(n_steps=5, lr=1.0, jitter=1, jit_compile=False), shape=images.shape[:3], report=QUIET)
    b = invert(net, obj, S(n_steps=5, lr=1.0, jitter=1, jit_compile=True), shape=images.shape[:3], report=QUIET)
    assert a.jit_compile is False and b.jit_compile is True and b.trace_count == 1
    np.testing.assert_allclose(a.x_bgr, b.x_bgr, rtol=1e-3, atol=1e-3)


# ----------------------------------------------------------------------------------------------------------
# objectives
# ----------------------------------------------------------------------------------------------------------


def test_multi_layer_objective_feature_losses_and_priors_at_several_layers(net, images):
    obj = (
        300 * feature_loss("conv2_2", phi(net, images, "conv2_2"))
        + 150 * feature_loss("conv1_1", phi(net, images, "conv1_1"))
        + priors.AlphaNorm(2.0, 50.0, layer="conv1_2", name="l2@conv1_2")
        + priors.TotalVariation(2.0, 50.0, layer="conv2_1", name="tv@conv2_1")
        + priors.tv()
    )
    logged = {}
    res = invert(
        net,
        obj,
        S(n_steps=200, lr=((0, 5.0), (80, 1.0))),
        shape=images.shape[:3],
        report=Reporting(
            log=lambda n, v, s: logged.setdefault(n, []).append(v), log_every=20, log_prefix="run/", progress=False
        ),
    )
    assert set(res.feature_errors) == {"conv2_2", "conv1_1"}
    for name in ("feat/conv2_2", "feat/conv1_1", "l2@conv1_2", "tv@conv2_1", "tv2", "total", "lr"):
        assert f"run/{name}" in logged, name
    assert set(res.terms) == {"feat/conv2_2", "feat/conv1_1", "l2@conv1_2", "tv@conv2_1", "tv2"}
    for layer in ("conv2_2", "conv1_1"):
        first = logged[f"run/feat/{layer}"][0] / (300.0 if layer == "conv2_2" else 150.0)
        assert res.feature_errors[layer].mean() < 0.5 * first, layer
    assert res.history["total"][1][-1] < res.history["total"][1][0]


def test_shallow_layer_pre_image_is_close_to_the_image(images):
    """M&V 2016 recipe (300 steps) from conv1_1 of a 16-channel tiny net: measured pixel error 0.024 and SSIM
    0.85 (a random start is at error ~1); the TV prior keeps the feature error at a few percent."""
    net = tiny_vgg(seed=0, channels=(16, 16))
    res = invert_layer(net, images, "conv1_1", recipe="mv2016", n_steps=300, report=QUIET)
    err = metrics.normalized_error(np.clip(res.rgb, 0, 255), images)
    ssim = np.mean([metrics.ssim(a, np.clip(b, 0, 255)) for a, b in zip(images, res.rgb)])
    assert res.feature_errors["conv1_1/relu"].max() < 0.08
    assert err < 0.04 and ssim > 0.8, (err, ssim)


def test_lbfgs_lowers_the_error_and_respects_the_pixel_box(net, images):
    init = np.random.default_rng(0).normal(0, 1, images.shape).astype(np.float32)
    target = phi(net, images, "conv1_2")
    start = preimage.FeatureLoss("conv1_2", target).energy(net(tf.constant(init), "conv1_2")).numpy()
    logged = []
    res = invert(
        net,
        300 * feature_loss("conv1_2", target) + priors.tv(),
        S(optimizer="lbfgs", n_steps=60, clip=True),
        x_init=init,
        report=Reporting(log=lambda n, v, s: logged.append((n, s)), log_every=10, progress=False),
    )
    assert res.optimizer == "lbfgs" and res.n_evals >= res.n_steps
    assert res.feature_errors["conv1_2"].max() < 0.1 * start.min()
    lo = -np.asarray(net.mean_bgr)
    assert np.all(res.x_bgr >= lo - 1e-3) and np.all(res.x_bgr <= 255 + lo + 1e-3)
    assert ("feat/conv1_2", 10) in logged and ("total", 60) in logged


def test_snapshots_and_callback_at_chosen_steps(net, images):
    seen = []
    res = invert_layer(
        net,
        images,
        "conv1_1",
        n_steps=12,
        report=Reporting(
            snapshot_steps=(4, 8), callback=lambda step, rgb: seen.append((step, rgb.shape)), progress=False
        ),
    )
    assert seen == [(4, images.shape), (8, images.shape)]
    assert set(res.snapshots) == {4, 8, 12}
    np.testing.assert_allclose(res.snapshots[12], res.rgb)


def test_divergence_names_step_and_term(net, images):
    class Bad(priors.Term):
        def energy(self, t):
            return tf.math.log(tf.reduce_sum(t, axis=(1, 2, 3)) * 0.0 - 1.0)

    with pytest.raises(DivergenceError, match=r"step 0.*'bad'") as info:
        invert(
            net,
            feature_loss("conv1_1", phi(net, images, "conv1_1")) + Bad("bad"),
            S(n_steps=5),
            shape=images.shape[:3],
            report=QUIET,
        )
    assert info.value.result.shape == images.shape


def test_bad_arguments_fail_with_clear_messages(net, images):
    with pytest.raises(UnknownLayerError, match="conv9_9"):
        invert(net, feature_loss("conv9_9", np.ones((1, 2))), S(n_steps=1), shape=(1, 8, 8), report=QUIET)
    with pytest.raises(ValueError, match="optimizer"):
        invert(net, priors.tv(), S(optimizer="sgd"), shape=(1, 8, 8), report=QUIET)
    with pytest.raises(ValueError, match="x_init"):
        invert(net, priors.tv(), S(n_steps=1), report=QUIET)
    with pytest.raises(ValueError, match="all zero"):
        feature_loss("conv1_1", np.zeros((1, 4, 4, 2)))


def test_mv2015_recipe_runs_and_lowers_the_loss(net, images):
    res = invert_layer(net, images[:1], "conv1_1", recipe="mv2015", n_steps=40, report=QUIET)
    assert res.optimizer == "momentum" and set(res.terms) == {"feat/conv1_1/relu", "alpha6", "tv2"}
    vals = res.history["feat/conv1_1/relu"][1]
    assert vals[-1] < vals[0]


def test_sweep_tables_and_optimizer_comparison(net, images):
    sweep = preimage.sweep_layers(net, images, ["conv1_1", "pool2"], image_names=["a", "b"], n_steps=6, report=QUIET)
    from restoration_reports.tables import preimage as inversion_tables

    table = inversion_tables.sweep_table(sweep, "t")
    assert [r[0] for r in table.rows] == ["conv1_1", "pool2"] and len(table.columns) == len(table.rows[0])
    assert set(sweep.scores["pool2"]) == {"feat_err", "nerr", "ssim", "psnr"}
    fig = inversion_tables.sweep_figure(sweep)
    assert len(fig.axes) == 2 * 3
    cmp = preimage.compare_optimizers(net, images, "conv1_2", n_steps=5, report=QUIET)
    assert set(cmp) == {"adam", "lbfgs"}
    assert inversion_tables.comparison_table(cmp, "conv1_2", "c").rows[1][0] == "lbfgs"


def test_cli_invert_prints_error_and_terms(tmp_path, capsys, monkeypatch, images):
    from skimage import io as skio

    from restoration import cli
    from restoration import nets

    monkeypatch.setattr(nets, "build", lambda name, weights=None, **kw: tiny_vgg(channels=(8, 8)))
    src = tmp_path / "in.png"
    skio.imsave(src, images[0].astype(np.uint8), check_contrast=False)
    out = tmp_path / "out" / "rec.png"
    args = cli.build_parser().parse_args(
        [
            "invert",
            "--net",
            "vgg16",
            "--layer",
            "conv1_2",
            "--image",
            str(src),
            "--steps",
            "20",
            "--size",
            "24",
            "--out",
            str(out),
        ]
    )
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "normalised feature error" in text and "feat/conv1_2/relu" in text and "tv2" in text
    assert skio.imread(out).shape == (24, 24, 3)


def test_momentum_is_reset_when_the_rate_changes_if_the_recipe_says_so(net):
    """Linear energy, constant gradient c: an independent loop of m <- mu m - lr c (m zeroed at each rate
    change) predicts where x ends."""
    c = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype(np.float32)
    x0 = np.zeros((1, 8, 8, 3), np.float32)
    sched = ((0, 1.0), (3, 0.25), (5, 0.1))
    for reset in (False, True):
        res = invert(
            net,
            linear_term(c),
            S(optimizer="momentum", momentum=0.9, n_steps=7, lr=sched, reset_momentum=reset),
            x_init=x0,
            report=QUIET,
        )
        m, x, last = 0.0, 0.0, None
        for i in range(7):
            lr = [v for s, v in sched if i >= s][-1]
            if reset and last is not None and lr != last:
                m = 0.0
            m, last = 0.9 * m - lr, lr
            x += m
        np.testing.assert_allclose(res.x_bgr, x * c, rtol=1e-5, atol=1e-5)


def test_mv2015_follows_the_authors_code_and_the_thesis_vgg16_table_is_offered():
    r = recipes.get_recipe("mv2015")
    assert r.n_steps == 400 and r.lr_schedule == ((0, 4e-3), (100, 4e-4), (300, 4e-5)) and r.reset_momentum
    assert [r.tv_weight_for(la) for la in ("conv1_1", "conv2_2", "conv3_1", "conv5_3", "fc6")] == [
        0.5,
        0.5,
        5.0,
        5.0,
        50.0,
    ]
    t = recipes.get_recipe("mv2016_thesis_vgg16")
    assert [t.feature_weight_for(la) for la in ("conv4_3/relu", "pool4", "conv5_1", "conv5_2", "pool5")] == [
        300.0,
        100.0,
        100.0,
        20.0,
        1.0,
    ]
    assert [
        t.jitter_for(la) for la in ("conv2_2", "pool2", "conv3_1", "pool3", "conv4_3", "pool4", "conv5_3", "pool5")
    ] == [0, 1, 1, 2, 2, 4, 4, 8]
    assert recipes.get_recipe("mv2016").feature_weight_for("conv4_3") == 100.0  # the default is unchanged


# ----------------------------------------------------------------------------------------------------------
# issue 9, corrections 1-3: jitter rules, the pixel ball, starting from the target
# ----------------------------------------------------------------------------------------------------------


def test_jitter_rules_positions_padding_and_the_authors_amount():
    from restoration.objectives.jitter import Jitter, authors_amount

    x = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3) + 1.0
    # thesis: T // 2 zeros before, T - T // 2 after, T + 1 starts; start T // 2 is the image itself
    j = Jitter("thesis", 3)
    assert j.n_positions == 4 and j.pads == (1, 2) and j.neutral == 1
    starts = j.starts(4000, 0, seed=1)
    assert starts.min() == 0 and starts.max() == 3
    pad = np.pad(x, [(0, 0), (1, 2), (1, 2), (0, 0)])
    for s in [(0, 0), (3, 2), (1, 1)]:
        np.testing.assert_array_equal(
            j.apply(tf.constant(x), tf.constant(s)).numpy(), pad[:, s[0] : s[0] + 6, s[1] : s[1] + 6]
        )
    np.testing.assert_array_equal(j.apply(tf.constant(x), tf.constant([1, 1])).numpy(), x)
    # the thesis pads black: with fill = -mean the border is -mean, not the mean colour
    black = j.apply(tf.constant(x), tf.constant([0, 0]), fill=[-10.0, -20.0, -30.0]).numpy()
    np.testing.assert_array_equal(black[0, 0, 0], [-10.0, -20.0, -30.0])
    np.testing.assert_array_equal(black[:, 1:, 1:], x[:, :5, :5])
    # authors: a canvas T - 1 larger, T starts, no padding; the centre is the result
    a = Jitter("authors", 4)
    assert a.canvas_extra == 3 and a.n_positions == 4 and a.neutral == 1 and a.pads == (0, 0)
    canvas = np.arange(1 * 9 * 9 * 1, dtype=np.float32).reshape(1, 9, 9, 1)
    np.testing.assert_array_equal(a.apply(tf.constant(canvas), tf.constant([3, 0])).numpy(), canvas[:, 3:9, 0:6])
    np.testing.assert_array_equal(a.centre(canvas), canvas[:, 1:7, 1:7])
    np.testing.assert_array_equal(a.centre(a.embed(x)), x)
    assert not Jitter("authors", 1).active and Jitter("authors", 1).n_positions == 1
    # get_preimage_opts.m: T = max(round(stride / 4), 1); MATLAB rounds halves away from zero
    assert [authors_amount(s) for s in (1, 2, 4, 6, 8, 16, 32)] == [1, 1, 1, 2, 2, 4, 8]
    with pytest.raises(ValueError, match="jitter rule"):
        Jitter("random", 2)


def test_the_authors_jitter_amount_comes_from_the_layers_cumulative_stride():
    from restoration import nets

    vgg = nets.vgg16(weights=None, seed=0)
    r = recipes.get_recipe("mv2016_authors_jitter")
    assert [vgg.stride(la) for la in ("conv1_2", "pool1", "conv3_3", "pool3", "conv5_3", "pool5")] == [
        1,
        2,
        4,
        8,
        16,
        32,
    ]
    assert [r.jitter_amount(vgg, la, 64) for la in ("conv1_2", "pool1", "conv3_3", "pool3", "conv5_3", "pool5")] == [
        1,
        1,
        1,
        2,
        4,
        8,
    ]
    # the default recipe keeps the thesis's depth table, applied by the thesis's rule
    assert recipes.MV2016.jitter_rule == "thesis" and recipes.MV2016.jitter_amount(vgg, "conv5_3", 224) == 4


@pytest.mark.parametrize("rule", ["thesis", "authors", "mirror"])
def test_inversion_under_each_jitter_rule_returns_net_sized_images(net, images, rule):
    obj = 300 * feature_loss("conv1_2", phi(net, images, "conv1_2")) + priors.tv()
    res = invert(
        net,
        obj,
        S(n_steps=6, lr=1.0, jitter=3, jitter_rule=rule, jitter_off_steps=2),
        shape=images.shape[:3],
        report=QUIET,
    )
    assert res.rgb.shape == images.shape and res.x_bgr.shape == images.shape
    assert res.trace_count == 1
    # a start given at the net's size sits at the canvas centre and comes back unchanged after zero steps' worth
    x0 = net.preprocess(images)
    still = invert(net, obj, S(n_steps=1, lr=1e-9, jitter=3, jitter_rule=rule), x_init=x0, report=QUIET)
    np.testing.assert_allclose(still.x_bgr, x0, atol=1e-3)


def test_the_pixel_ball_bounds_every_colour_vector_at_2B(net, images):
    r = recipes.MV2016
    assert r.pixel_constraint == "ball" and r.ball_radius == 160.0
    obj = feature_loss("conv1_2", phi(net, images, "conv1_2"))
    # a huge Adam step throws pixels far out; the ball brings each colour vector back to norm <= 160
    res = invert(net, obj, S(n_steps=3, lr=500.0, ball=160.0), shape=images.shape[:3], report=QUIET)
    norms = np.linalg.norm(res.x_bgr, axis=-1)
    assert norms.max() <= 160.0 * (1 + 1e-5) and norms.max() > 150.0
    # the clip option keeps each channel in [0, 255] instead
    clipped = invert(net, obj, S(n_steps=3, lr=500.0, clip=True), shape=images.shape[:3], report=QUIET)
    assert (
        clipped.rgb.min() >= -1e-3
        and clipped.rgb.max() <= 255 + 1e-3
        and np.linalg.norm(clipped.x_bgr, axis=-1).max() > 160.0
    )
    with pytest.raises(ValueError, match="pixel_constraint"):
        r.replace(pixel_constraint="sphere")


def test_init_target_starts_from_the_image_and_random_does_not(net, images):
    x0 = net.preprocess(images)
    ball = x0 * np.minimum(160.0 / np.maximum(np.linalg.norm(x0, axis=-1, keepdims=True), 1e-12), 1.0)
    t = invert_layer(net, images, "conv1_2", recipe="mv2016_target", n_steps=1, lr=1e-9, report=QUIET)
    np.testing.assert_allclose(t.x_bgr, ball, atol=1e-3)  # the image, projected onto the ball
    rnd = invert_layer(net, images, "conv1_2", recipe="mv2016", n_steps=1, lr=1e-9, report=QUIET)
    assert np.abs(rnd.x_bgr).max() < 10.0
    with pytest.raises(ValueError, match="init"):
        recipes.MV2016.replace(init="zeros")
