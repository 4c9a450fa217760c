"""restoration.metrics against external references.

Where each expected number comes from is said next to it: skimage.metrics (the reference implementation the
docstrings cite) or a value worked out by hand in the comment.
"""

import numpy as np
import pytest
from skimage import metrics as skm

from restoration import metrics


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(16, 16, 3)).astype(np.uint8)
    b = np.clip(a + rng.normal(0.0, 12.0, a.shape), 0, 255)
    return a, b


# ---- references: skimage.metrics --------------------------------------------------------------------------


def test_mse_matches_skimage(pair):
    a, b = pair
    assert metrics.mse(a, b) == pytest.approx(skm.mean_squared_error(a.astype(float), b), rel=1e-12)


def test_psnr_matches_skimage(pair):
    a, b = pair
    ref = skm.peak_signal_noise_ratio(a.astype(float), b, data_range=255)
    assert metrics.psnr(a, b) == pytest.approx(ref, rel=1e-12)
    ref1 = skm.peak_signal_noise_ratio(a / 255.0, b / 255.0, data_range=1.0)
    assert metrics.psnr(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(ref1, rel=1e-12)


def test_ssim_matches_skimage_default_window(pair):
    a, b = pair
    ref = skm.structural_similarity(a.astype(float), b, data_range=255, channel_axis=-1)  # win_size 7
    assert metrics.ssim(a, b) == pytest.approx(ref, rel=1e-12)


def test_ssim_small_image_uses_largest_valid_odd_window(pair):
    a, b = pair
    a5, b5 = a[:5, :6].astype(float), b[:5, :6]
    ref = skm.structural_similarity(a5, b5, data_range=255, channel_axis=-1, win_size=5)
    assert metrics.ssim(a5, b5) == pytest.approx(ref, rel=1e-12)
    a4, b4 = a[:4, :4].astype(float), b[:4, :4]
    ref4 = skm.structural_similarity(a4, b4, data_range=255, channel_axis=-1, win_size=3)
    assert metrics.ssim(a4, b4) == pytest.approx(ref4, rel=1e-12)


def test_ssim_grey_image_matches_skimage(pair):
    a, b = pair
    ref = skm.structural_similarity(a[..., 0].astype(float), b[..., 0], data_range=255)
    assert metrics.ssim(a[..., 0], b[..., 0]) == pytest.approx(ref, rel=1e-12)


# ---- references: worked by hand ---------------------------------------------------------------------------


def test_psnr_hand_value():
    a = np.zeros((4, 4, 3))
    # constant error 5 -> MSE 25 -> PSNR = 20 log10(255 / 5) = 20 log10(51) = 34.151403521...
    assert metrics.psnr(a, a + 5) == pytest.approx(34.15140352195873, abs=1e-9)
    assert metrics.mse(a, a + 5) == 25.0
    assert metrics.psnr(a, a) == float("inf")
    assert metrics.ssim(a + 7, a + 7) == pytest.approx(1.0)


def test_normalized_error_is_mahendran_vedaldi():
    x0 = np.array([3.0, 4.0])  # ||x0||^2 = 25
    assert metrics.normalized_error(np.zeros(2), x0) == pytest.approx(1.0)  # ||0 - x0||^2 / 25
    assert metrics.normalized_error(np.array([3.0, 0.0]), x0) == pytest.approx(16 / 25)
    # Not the thesis's sum(x0 * x) denominator, which would give 16 / 9 here.
    assert metrics.normalized_error(np.array([3.0, 0.0]), x0) != pytest.approx(16 / 9)
    batch = np.stack([x0, 2 * x0])  # second sample: ||x0 - 2x0||^2 / ||2x0||^2 = 25 / 100
    per = metrics.normalized_error(batch * np.array([[0.0], [1.0]]), batch, axis=1)
    np.testing.assert_allclose(per, [1.0, 0.0])
    np.testing.assert_allclose(metrics.normalized_error(np.stack([x0, x0]), batch, axis=1), [0.0, 0.25])


def test_color_error_map_hand_value():
    true = np.array([[[10.0, 20.0, 30.0]]])
    test = np.array([[[20.0, 20.0, 20.0]]])
    # d = true - test = [-10, 0, 10]; (d - min) / (max - min) = [0, 0.5, 1]
    np.testing.assert_allclose(metrics.color_error_map(true, test), [[[0.0, 0.5, 1.0]]])
    np.testing.assert_allclose(metrics.color_error_map(true, true), np.full((1, 1, 3), 0.5))


def test_abs_error_map_hand_value():
    true = np.array([[[10.0, 20.0, 30.0]], [[0.0, 0.0, 0.0]]])
    test = np.array([[[20.0, 20.0, 20.0]], [[5.0, 0.0, 0.0]]])
    # |d| = [[10, 0, 10], [5, 0, 0]], max 10
    np.testing.assert_allclose(metrics.abs_error_map(true, test), [[[1.0, 0.0, 1.0]], [[0.5, 0.0, 0.0]]])
    np.testing.assert_array_equal(metrics.abs_error_map(true, true), np.zeros_like(true))


def test_score_batch_and_summary(pair):
    a, b = pair
    scores = metrics.score_batch(np.stack([a, a]), np.stack([b, a + 0.0]))
    assert set(scores) == set(metrics.SCORE_NAMES)
    assert scores["psnr"][0] == pytest.approx(metrics.psnr(a, b))
    assert scores["psnr"][1] == float("inf")
    assert scores["ssim"][1] == pytest.approx(1.0)
    summary = metrics.summarize_scores({k: v[:1] for k, v in scores.items()})
    assert summary == {f"{k}_mean": pytest.approx(float(v[0])) for k, v in scores.items()}


# ---- input checks name the argument and the fix -----------------------------------------------------------


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3))), ["image_test", "shape", "same shape"]),
        (lambda: metrics.psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), np.nan)), ["image_test", "NaN"]),
        (lambda: metrics.psnr(np.zeros((4, 4)), np.zeros((4, 4)), data_range=0), ["data_range", "positive"]),
        (lambda: metrics.ssim(np.zeros((2, 2, 3)), np.zeros((2, 2, 3))), ["3x3"]),
        (lambda: metrics.ssim(np.zeros((1, 4, 4, 3)), np.zeros((1, 4, 4, 3))), ["image_true", "score_batch"]),
        (lambda: metrics.normalized_error(np.ones(3), np.zeros(3)), ["x0", "zero"]),
        (lambda: metrics.mse(np.array(["a"]), np.array(["b"])), ["a", "numeric"]),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_thesis_nmse_is_its_own_formula_not_mv():
    from restoration.metrics import normalized_error, thesis_nmse

    rng = np.random.default_rng(0)
    x0 = rng.uniform(0, 255, (4, 5, 3))
    x = np.clip(x0 + rng.normal(0, 20, x0.shape), 0, 255)
    assert thesis_nmse(x, x0) == pytest.approx(np.sum((x0 - x) ** 2) / np.sum(x0 * x), rel=1e-12)
    assert thesis_nmse(x, x0) != pytest.approx(normalized_error(x, x0), rel=1e-3)
    with pytest.raises(ValueError, match="thesis's NMSE is undefined"):
        thesis_nmse(-x0, x0)


def test_gram_distance_matches_a_loop_written_gram():
    from restoration.metrics import gram_distance

    rng = np.random.default_rng(1)
    m0, m = rng.normal(size=(6, 5, 4)), rng.normal(size=(6, 5, 4))

    def gram(maps):
        C = maps.shape[-1]
        mu = maps.mean()
        return np.array(
            [
                [sum((maps[h, w, i] - mu) * (maps[h, w, j] - mu) for h in range(6) for w in range(5)) for j in range(C)]
                for i in range(C)
            ]
        )

    g0, g = gram(m0), gram(m)
    assert gram_distance(m0, m) == pytest.approx(np.sum((g0 - g) ** 2) / np.sum(g0**2), rel=1e-10)
    assert gram_distance(m0, m0) == 0.0
    assert gram_distance(m0, m0 + 3.0) == pytest.approx(0.0, abs=1e-20)  # the global mean is removed


def test_vgg_score_is_zero_for_the_original_and_grows_with_noise():
    from restoration import nets
    from restoration.metrics.vgg_score import vgg_score

    net = nets.tiny_vgg()
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    layers = ("conv1_1/relu", "conv2_1/relu", "conv3_1/relu")
    assert np.allclose(vgg_score(net, x, x, layers=layers), 0.0)
    small = vgg_score(net, x, np.clip(x + rng.normal(0, 5, x.shape), 0, 255), layers=layers)
    large = vgg_score(net, x, np.clip(x + rng.normal(0, 60, x.shape), 0, 255), layers=layers)
    assert np.all(small < large)
