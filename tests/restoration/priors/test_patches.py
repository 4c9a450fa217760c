"""Patch extraction, the raw store, each normalisation switch against numpy, whitening to identity."""

import itertools

import numpy as np
import pytest

from restoration.priors import patches as P


def _maps(seed=0, n=3, h=9, w=8, c=3):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, h, w, c)).astype(np.float32)
    # correlated channels, a non-zero mean and unequal scales, like real maps
    mix = np.array([[1.0, 0.5, 0.2], [0.0, 2.0, 0.3], [0.0, 0.0, 0.7]], np.float32)[:c, :c]
    return base @ mix + np.arange(1, c + 1, dtype=np.float32) * 3.0


def test_extract_patches_layout_is_channel_major_row_major():
    maps = _maps()
    p = P.extract_patches(maps, 2, 3)
    n, h, w, c = maps.shape
    assert p.shape == (n * (h - 1) * (w - 2), c, 6)
    # the window of image 1 at (4, 5)
    k = 1 * (h - 1) * (w - 2) + 4 * (w - 2) + 5
    for ch in range(c):
        np.testing.assert_array_equal(p[k, ch], maps[1, 4:6, 5:8, ch].reshape(-1))


def test_random_patches_are_windows_of_the_maps():
    maps = _maps()
    p = P.random_patches(maps, 3, 3, 50, np.random.default_rng(1))
    every = P.extract_patches(maps, 3, 3)
    for q in p:
        assert np.any(np.all(np.isclose(every, q[None]), axis=(1, 2)))


def _store(tmp_path, maps, ph=2, pw=2, name="s"):
    x = P.extract_patches(maps, ph, pw)
    spec = P.PatchSpec("input", maps.shape[-1], ph, pw)
    store = P.PatchStore.create(tmp_path / name, spec, len(x))
    store.write(0, x)
    store.flush()
    return P.PatchStore(tmp_path / name), x


@pytest.mark.parametrize("mean,sdev", list(itertools.product(P.MEAN_MODES, P.SDEV_MODES)))
def test_each_switch_matches_numpy(tmp_path, mean, sdev):
    store, x = _store(tmp_path, _maps())
    norm = P.Normalisation(mean, sdev, rescale=7.0)
    stats = P.patch_stats(store.chunks(13), norm, lambda: store.chunks(13))  # streaming, odd chunk size
    x64 = x.astype(np.float64)
    # numpy, written out independently
    centred = {
        "dataset_channel": x64 - x64.mean(axis=(0, 2))[None, :, None],
        "dataset_feature": x64 - x64.mean(axis=0)[None],
        "sample_channel": x64 - x64.mean(axis=2)[:, :, None],
        "sample_feature": x64 - x64.reshape(len(x), -1).mean(axis=1)[:, None, None],
        "none": x64,
    }[mean]
    n = len(x)
    expected = {
        "dataset_channel": centred / np.sqrt((centred**2).sum(axis=0).mean(axis=1) / (n - 1))[None, :, None],
        "dataset_feature": centred / np.sqrt((centred**2).sum(axis=0) / (n - 1))[None],
        "sample": centred / np.sqrt((centred**2).reshape(n, -1).mean(axis=1) + P.SAMPLE_EPS)[:, None, None],
        "rescale": centred / 7.0,
        "none": centred,
    }[sdev]
    np.testing.assert_allclose(P.normalise(x, norm, stats), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats.mean_feature, x64.mean(axis=0), rtol=1e-10)


@pytest.mark.parametrize(
    "method,n_drop,channelwise",
    [("pca", 0, False), ("pca", 2, False), ("zca", 0, False), ("pca", 0, True), ("zca", 0, True)],
)
def test_whitened_patches_have_identity_covariance(tmp_path, method, n_drop, channelwise):
    store, x = _store(tmp_path, _maps(n=20, h=16, w=16))
    wh = P.fit_whitening(
        store, P.Normalisation("dataset_feature", "none"), method, n_drop, channelwise=channelwise, chunk=101
    )
    z = wh.apply(x).astype(np.float64)
    if channelwise:
        assert z.shape == (len(x), 3, 4)
        covs = [z[:, c].T @ z[:, c] / (len(z) - 1) for c in range(3)]
    else:
        assert z.shape == (len(x), 12 - n_drop)
        covs = [z.T @ z / (len(z) - 1)]
    for cov in covs:  # tolerance: float32 output of a float64 fit
        np.testing.assert_allclose(cov, np.eye(len(cov)), atol=1e-4)
    # colour() inverts the whitening on the kept subspace (exactly when nothing is dropped)
    if n_drop == 0:
        np.testing.assert_allclose(wh.colour(z), P.normalise(x, wh.norm, wh.stats), atol=1e-3)


def test_whitening_saves_and_loads(tmp_path):
    store, x = _store(tmp_path, _maps())
    with pytest.raises(ValueError, match="per-sample mean, which removes one per channel"):
        P.fit_whitening(store, P.Normalisation("sample_channel", "dataset_channel"), "pca", 1)
    wh = P.fit_whitening(store, P.Normalisation("sample_channel", "dataset_channel"), "pca", 3)
    wh.save(tmp_path / "w.npz")
    back = P.Whitening.load(tmp_path / "w.npz")
    np.testing.assert_array_equal(back.apply(x), wh.apply(x))
    assert back.spec == wh.spec and back.norm == wh.norm


def test_bad_inputs_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="Normalisation.mean"):
        P.Normalisation("global")
    with pytest.raises(ValueError, match="does not fit"):
        P.extract_patches(np.zeros((1, 4, 4, 1)), 5, 5)
    with pytest.raises(FileNotFoundError, match="no patch store"):
        P.PatchStore(tmp_path / "nothing")
    store, _ = _store(tmp_path, _maps(n=1, h=3, w=3))
    with pytest.raises(ValueError, match="n_drop"):
        P.fit_whitening(store, P.Normalisation(), "pca", 12)


def test_auto_rank_keeps_the_dimensions_the_patches_span(tmp_path):
    maps = _maps(n=20, h=16, w=16)
    maps[..., 2] = 0.0  # a dead channel, as in real nets
    store, x = _store(tmp_path, maps)
    wh = P.fit_whitening(store, P.Normalisation("dataset_feature", "none"), "pca", None)
    assert wh.d == 8
    z = wh.apply(x).astype(np.float64)
    np.testing.assert_allclose(z.T @ z / (len(z) - 1), np.eye(8), atol=1e-4)
