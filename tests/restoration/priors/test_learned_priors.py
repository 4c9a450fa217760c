"""Learned priors: score matching against numpy, the conv energy against the explicit patch pipeline, ICA on a
synthetic mixture, a trained prior on natural vs shuffled patches, storage, misuse, and the samplers."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from restoration.priors import learned as L
from restoration.priors import patches as P
from restoration.priors import training as T
from restoration.priors import sampling


# ----------------------------------------------------------------------------------------------------------
# score matching against numpy
# ----------------------------------------------------------------------------------------------------------


def np_score_matching(W, a, z, expert):
    """Hyvärinen 2005 eq. (4) written out with loops over components, float64."""
    W = np.asarray(W, np.float64)
    if W.ndim == 2:
        W, a, z = W[None], np.asarray(a)[None], np.asarray(z)[:, None, :]
    total = 0.0
    for c in range(W.shape[0]):
        Wn = W[c] / np.linalg.norm(W[c], axis=1, keepdims=True)
        alpha = np.log1p(np.exp(a[c].astype(np.float64)))
        s = z[:, c].astype(np.float64) @ Wn.T
        if expert == "student":
            g, dg = -2 * s / (s**2 + 2), (2 * s**2 - 4) / (s**2 + 2) ** 2
        else:
            g, dg = -np.tanh(s), -(1 - np.tanh(s) ** 2)
        K = len(Wn)
        total += sum(alpha[k] * dg[:, k].mean() for k in range(K))
        total += 0.5 * sum(
            alpha[j] * alpha[k] * (Wn[j] @ Wn[k]) * np.mean(g[:, j] * g[:, k]) for j in range(K) for k in range(K)
        )
    return total


@pytest.mark.parametrize("expert,channelwise", itertools.product(L.EXPERTS, [False, True]))
def test_score_matching_loss_and_gradient_match_numpy(expert, channelwise):
    rng = np.random.default_rng(0)
    shape = (2, 5, 3) if channelwise else (5, 3)  # overcomplete: 5 components in 3 dims
    W = rng.normal(size=shape)
    a = rng.normal(size=shape[:-1])
    z = rng.normal(size=(40, 2, 3) if channelwise else (40, 3)) * 1.5
    Wt, at = tf.Variable(W, dtype=tf.float64), tf.Variable(a, dtype=tf.float64)
    with tf.GradientTape() as tape:
        J = L.score_matching_loss(Wt, at, tf.constant(z), expert)
    gW, ga = tape.gradient(J, [Wt, at])
    assert float(J) == pytest.approx(np_score_matching(W, a, z, expert), rel=1e-10)
    h = 1e-6  # central differences of the numpy reference
    for arr, grad in ((W, gW.numpy()), (a, ga.numpy())):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            up, dn = arr.copy(), arr.copy()
            up[idx] += h
            dn[idx] -= h
            args_up = (up, a) if arr is W else (W, up)
            args_dn = (dn, a) if arr is W else (W, dn)
            num[idx] = (np_score_matching(*args_up, z, expert) - np_score_matching(*args_dn, z, expert)) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------------------------------------
# the energy as one convolution equals the explicit pipeline
# ----------------------------------------------------------------------------------------------------------


def _maps(seed=0, n=2, h=11, w=10, c=3):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(c, c)) + 2 * np.eye(c)
    return (rng.normal(size=(n, h, w, c)) @ mix + 5.0).astype(np.float32)


def _random_prior(tmp_path, norm, *, channelwise=False, expert="student", K=7, ph=3, pw=2, n_drop=None):
    maps = _maps()
    spec = P.PatchSpec("input", maps.shape[-1], ph, pw)
    x = P.extract_patches(maps, ph, pw)
    store = P.PatchStore.create(tmp_path / "s", spec, len(x))
    store.write(0, x)
    drop = (
        (3 if norm.mean == "sample_channel" else 1 if norm.mean == "sample_feature" else 0)
        if n_drop is None
        else n_drop
    )
    if channelwise and norm.mean == "sample_channel":
        drop = 1
    wh = P.fit_whitening(store, norm, "pca", drop, channelwise=channelwise)
    rng = np.random.default_rng(1)
    d = wh.d
    W = rng.normal(size=(3, K, d) if channelwise else (K, d))
    a = rng.normal(size=W.shape[:-1])
    ps = L.PriorSpec("test", spec, K, expert, channelwise)
    return L.PriorParams(ps, wh, W, a), maps, x


NORMS = [P.Normalisation(m, s, 4.0) for m, s in itertools.product(P.MEAN_MODES, P.SDEV_MODES)]


@pytest.mark.parametrize("norm", NORMS, ids=lambda n: f"{n.mean}-{n.sdev}")
@pytest.mark.parametrize("expert", L.EXPERTS)
def test_conv_energy_equals_the_patch_pipeline(tmp_path, norm, expert):
    params, maps, x = _random_prior(tmp_path, norm, expert=expert)
    term = L.PatchPrior(params)
    got = term.patch_energies(tf.constant(maps)).numpy().reshape(-1)
    np.testing.assert_allclose(got, L.energy_np(params, x), rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(
        term.energy(tf.constant(maps)).numpy(), L.energy_np(params, x).reshape(2, -1).mean(axis=1), rtol=2e-4
    )


@pytest.mark.parametrize(
    "norm",
    [
        P.Normalisation("dataset_channel", "dataset_feature"),
        P.Normalisation("sample_channel", "sample"),
        P.Normalisation("none", "rescale", 3.0),
    ],
    ids=lambda n: f"{n.mean}-{n.sdev}",
)
def test_channelwise_energy_equals_the_patch_pipeline(tmp_path, norm):
    params, maps, x = _random_prior(tmp_path, norm, channelwise=True, expert="logistic", K=4)
    got = L.PatchPrior(params).patch_energies(tf.constant(maps)).numpy().reshape(-1)
    np.testing.assert_allclose(got, L.energy_np(params, x), rtol=2e-4, atol=2e-4)


def test_a_prior_on_another_layer_or_size_is_an_error_that_says_so(tmp_path):
    params, maps, _ = _random_prior(tmp_path, P.Normalisation())
    with pytest.raises(ValueError, match=r"trained on 3x2x3 patches of 'input'.*cannot score layer 'conv1_1/lin'"):
        L.PatchPrior(params, layer="conv1_1/lin")
    with pytest.raises(ValueError, match="models 3x2x3 patches"):
        L.PatchPrior(params).energy(tf.zeros((1, 8, 8, 5)))


def test_saved_prior_loads_with_its_whitening_and_run(tmp_path):
    params, maps, x = _random_prior(tmp_path, P.Normalisation("dataset_feature", "dataset_channel"))
    params.run_id = 42
    L.save_prior(params, tmp_path / "runs")
    back = L.load_prior("test", tmp_path / "runs")
    assert back.run_id == 42 and back.spec == params.spec
    np.testing.assert_allclose(L.energy_np(back, x), L.energy_np(params, x))
    with pytest.raises(FileNotFoundError, match="no trained prior 'full512'.*train it first"):
        L.load_prior("full512", tmp_path / "runs")


# ----------------------------------------------------------------------------------------------------------
# training: ICA recovers sources; a trained prior prefers natural patches
# ----------------------------------------------------------------------------------------------------------


def amari_distance(M):
    """Amari et al. (1996) index of a (near-)permutation matrix, normalised to [0, 1]; 0 = perfect."""
    A = np.abs(M)
    n = len(A)
    rows = (A / A.max(axis=1, keepdims=True)).sum(axis=1) - 1
    cols = (A / A.max(axis=0, keepdims=True)).sum(axis=0) - 1
    return (rows.sum() + cols.sum()) / (2 * n * (n - 1))


def _store_of(tmp_path, name, x):
    spec = P.PatchSpec("input", x.shape[1], 1, x.shape[2])
    st = P.PatchStore.create(tmp_path / name, spec, len(x))
    st.write(0, x)
    return st


def test_ica_by_score_matching_recovers_a_synthetic_mixture(tmp_path):
    """4 Laplace sources, a random mixing matrix: the learned unmixing (filters composed with the whitening)
    times the mixing is a scaled permutation. Bound: Amari distance < 0.05 (a random matrix scores ~0.5)."""
    rng = np.random.default_rng(0)
    d, n = 4, 20_000
    A = rng.normal(size=(d, d))
    s = rng.laplace(size=(n + 500, d))
    x = (s @ A.T).astype(np.float32)[:, :, None].transpose(0, 2, 1)  # (n, C=1, P=4)
    train, val = _store_of(tmp_path, "tr", x[:n]), _store_of(tmp_path, "va", x[n:])
    spec = L.PriorSpec("ica", train.spec, d, "logistic")
    cfg = T.PriorTraining(
        n_train=n,
        n_val=500,
        batch=250,
        steps=3000,
        norm=P.Normalisation("dataset_feature"),
        n_drop=0,
        log_every=500,
        eval_every=1000,
        ckpt_every=3000,
        progress=False,
    )
    params, res = T.train_prior_on_stores(spec, train, val, cfg)
    unmix = params.analysis_filters().reshape(d, d)
    assert amari_distance(unmix @ A) < 0.05
    assert amari_distance(rng.normal(size=(d, d))) > 0.2


def test_a_trained_image_prior_gives_natural_patches_lower_energy_than_shuffled_ones(tmp_path):
    from restoration import data

    photos = dict(data.embedded_images("all"))
    train_imgs = np.stack(
        [data.center_crop_resize(photos[k], 64) for k in ("astronaut", "coffee", "stereo_motorcycle")]
    )
    val_imgs = np.stack([data.center_crop_resize(photos[k], 64) for k in ("chelsea", "rocket")])
    to_maps = lambda imgs: lambda i: imgs[i : i + 1].astype(np.float32) - 120.0  # noqa: E731
    spec = L.PriorSpec("foe_small", P.PatchSpec("input", 3, 4, 4), 60, "student")
    cfg = T.PriorTraining(
        n_train=6000, n_val=400, steps=600, log_every=100, eval_every=300, ckpt_every=600, progress=False
    )
    logged = []
    params, res = T.train_prior(
        spec,
        to_maps(train_imgs),
        3,
        to_maps(val_imgs),
        2,
        cfg,
        work_dir=tmp_path,
        log=lambda k, v, s: logged.append((k, s)),
    )
    assert ("score_matching/heldout_loss", 600) in logged
    real = P.extract_patches(to_maps(val_imgs)(0), 4, 4, stride=3)
    rng = np.random.default_rng(0)
    shuffled = real.reshape(len(real), 3, 16)[:, :, rng.permutation(16)]  # same pixels, order destroyed
    e_real, e_shuf = L.energy_np(params, real), L.energy_np(params, shuffled)
    assert e_real.mean() < 0.8 * e_shuf.mean()
    assert np.mean(e_real < e_shuf) > 0.7


# ----------------------------------------------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------------------------------------------


def _orthogonal_ica(d=3, alpha=2.0):
    """Logistic ICA with orthonormal filters and alpha = 2: each w_k^T z is logistic(0, 1/2), variance pi^2/12."""
    spec = L.PriorSpec("ortho", P.PatchSpec("input", 1, 1, d), d, "logistic")
    stats = P.PatchStats(1, np.zeros(1), np.zeros((1, d)), np.ones(1), np.ones((1, d)))
    wh = P.Whitening(spec.patch, P.Normalisation("none"), stats, "pca", np.eye(d), np.eye(d), np.ones(d))
    Q = np.linalg.qr(np.random.default_rng(3).normal(size=(d, d)))[0]
    a = np.full(d, np.log(np.expm1(alpha)))  # softplus(a) = alpha
    return L.PriorParams(spec, wh, Q, a), Q


@pytest.mark.parametrize("method", ["mala", "hmc"])
def test_samplers_draw_from_a_known_density_and_report_acceptance(method):
    params, Q = _orthogonal_ica()
    if method == "mala":
        res = sampling.mala(params, n=4000, steps=300, step_size=0.5, seed=0)
    else:
        res = sampling.hmc(params, n=4000, steps=60, step_size=0.3, leapfrog=8, seed=0)
    assert 0.5 < res.accept_rate <= 1.0 and len(res.accept_trace) == res.steps
    proj = res.z @ Q.T
    np.testing.assert_allclose(proj.var(axis=0), np.pi**2 / 12, rtol=0.1)  # 4000 chains: s.e. ~2.3%
    assert sampling.to_patches(params, res.z).shape == (4000, 1, 3)


def test_energy_gradient_of_the_sampler_matches_tensorflow(tmp_path):
    params, maps, x = _random_prior(tmp_path, P.Normalisation("dataset_feature"), K=5)
    z = np.random.default_rng(0).normal(size=(6, params.whitening.d))
    E, G = sampling.energy_and_grad(params, z)
    zt = tf.Variable(z)
    with tf.GradientTape() as tape:
        s = tf.matmul(zt, tf.constant(params.W_unit.T))
        e = tf.reduce_sum(L.rho(s, "student") * params.alpha, axis=1)
    np.testing.assert_allclose(E, e.numpy(), rtol=1e-10)
    np.testing.assert_allclose(G, tape.gradient(e, zt).numpy(), rtol=1e-8)


def test_a_map_optimised_through_the_cut_net_matches_the_deeper_layer():
    from restoration import nets
    from restoration.preimage.featmap import MapInversion, grey_start, invert_map, map_error

    net = nets.tiny_vgg()
    x = tf.constant(net.preprocess(np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)))
    h_true, target = net(x, "conv1_2/lin").numpy(), net(x, "conv2_1/lin").numpy()
    np.testing.assert_allclose(
        net.forward_from("conv1_2/lin", h_true, "conv2_1/lin").numpy(), target, rtol=1e-5, atol=1e-5
    )
    h0 = grey_start(net, "conv1_2/lin", 1, 16)
    res = invert_map(
        net,
        "conv1_2/lin",
        "conv2_1/lin",
        target,
        h0,
        None,
        MapInversion(steps=300, lr=2.0, log_every=100, progress=False),
    )
    # the block (ReLU, 2x2 pool, conv) is far from invertible: the deeper layer is matched, the map only roughly
    mse = res.history["mse"][1]
    assert res.history["mse"][0] == [100, 200, 300] and mse[-1] < 0.5 * mse[0]
    assert map_error(res.h, h_true)[0] < 1.1 * map_error(h0, h_true)[0]
    assert map_error(h_true, h_true)[0] == 0


def test_sample_sdev_keeps_float32_precision_on_pixel_scale_windows(tmp_path):
    """Windows around 100 with small variation: the window RMS is taken after centring, not as E[x^2] - E[x]^2."""
    params, _, _ = _random_prior(tmp_path, P.Normalisation("sample_channel", "sample"))
    rng = np.random.default_rng(5)
    maps = (100.0 + rng.normal(0, 0.05, (1, 11, 10, 3))).astype(np.float32)
    got = L.PatchPrior(params).patch_energies(tf.constant(maps)).numpy().reshape(-1)
    np.testing.assert_allclose(got, L.energy_np(params, P.extract_patches(maps, 3, 2)), rtol=2e-3, atol=2e-3)


def test_misfit_settings_fail_naming_the_fix(tmp_path):
    params, _, _ = _random_prior(tmp_path, P.Normalisation())
    with pytest.raises(ValueError, match="needs 3x2 windows but 'input' is only 2x8"):
        L.PatchPrior(params).energy(tf.zeros((1, 2, 8, 3)))
    store = P.PatchStore.create(tmp_path / "z", P.PatchSpec("input", 1, 1, 4), 50)
    store.write(0, np.random.default_rng(0).normal(size=(50, 1, 4)).astype(np.float32))
    with pytest.raises(ValueError, match="ZCA whitening keeps every dimension"):
        P.fit_whitening(store, P.Normalisation("dataset_feature"), "zca", 1)
    ortho, _ = _orthogonal_ica()
    with pytest.raises(ValueError, match="leapfrog >= 1"):
        sampling.hmc(ortho, leapfrog=0)
    assert sampling.mala(ortho, n=64, steps=2, z0=np.zeros((3, 3))).z.shape == (3, 3)


def test_the_thesis_schedule_compresses_without_losing_its_last_rates():
    assert T.thesis_schedule(25_000) == T.THESIS_SCHEDULE
    s = T.thesis_schedule(10)
    assert s[0] == (0, 1.0) and s[-1][1] == 3e-5 and [a for a, _ in s] == sorted({a for a, _ in s})
