"""Image and feature comparison measures: pure NumPy / scikit-image, no TensorFlow.

Every function takes the reference first and the estimate second (``image_true, image_test`` as in
``skimage.metrics``), options after ``*``, and checks its inputs once at the entry through the shared
helpers below, whose messages name the argument and the fix.

Images are RGB in ``[0, data_range]`` (``data_range=255`` for the usual 8-bit scale), ``(H, W)`` or
``(H, W, C)``; uint8 and float are both accepted and computed in float64. Reconstructions are *not*
clipped here: a pre-image that leaves the valid range is scored as it is.

Functions
---------
mse, psnr, ssim                      pixel fidelity (skimage definitions)
normalized_error                     Mahendran & Vedaldi's normalised reconstruction error
color_error_map, abs_error_map       the thesis's two error images, renormalised to [0, 1]
score_batch, summarize_scores        per-image scores of a batch and their means, for report summaries

Package ``restoration.metrics``: the image and feature measures (this module) and
:mod:`restoration.metrics.vgg_score` (the thesis's Gram-matrix VGG score, which needs a net).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from skimage import metrics as _skm

__all__ = [
    "mse",
    "psnr",
    "ssim",
    "normalized_error",
    "thesis_nmse",
    "gram_distance",
    "color_error_map",
    "abs_error_map",
    "score_batch",
    "summarize_scores",
    "SCORE_NAMES",
]

#: Names of the per-image scores that :func:`score_batch` returns, in report order.
SCORE_NAMES = ("mse", "psnr", "ssim", "nerr")


# ----------------------------------------------------------------------------------------------------------
# Shared input checks
# ----------------------------------------------------------------------------------------------------------


def _as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array after checking that it is numeric, non-empty and finite."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises for ragged nested lists
        raise ValueError(f"{name} could not be converted to an array ({exc}); pass a numpy array.") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} has dtype {arr.dtype}; pass a numeric numpy array (uint8 or float).")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass a non-empty array.")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite value(s); check the reconstruction for divergence "
            "before scoring it."
        )
    return arr


def _check_pair(a, b, name_a: str, name_b: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert two arrays with :func:`_as_float_array` and check that their shapes agree."""
    a = _as_float_array(a, name_a)
    b = _as_float_array(b, name_b)
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; pass arrays of the same shape "
            "(crop or resize the reconstruction to the image)."
        )
    return a, b


def _check_image_pair(image_true, image_test) -> tuple[np.ndarray, np.ndarray]:
    """Check an image pair: same shape, ``(H, W)`` or ``(H, W, C)``."""
    a, b = _check_pair(image_true, image_test, "image_true", "image_test")
    if a.ndim not in (2, 3):
        raise ValueError(
            f"image_true has shape {a.shape}; pass one image of shape (H, W) or (H, W, C) "
            "(for a batch (N, H, W, C) use score_batch)."
        )
    return a, b


def _check_data_range(data_range) -> float:
    """Check that ``data_range`` is a positive finite number."""
    try:
        value = float(data_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"data_range={data_range!r} is not a number; pass the value range of the images, e.g. 255.0 for [0, 255]."
        ) from exc
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"data_range={data_range!r} must be a positive finite number; pass e.g. 255.0 for [0, 255] "
            "images or 1.0 for [0, 1] images."
        )
    return value


# ----------------------------------------------------------------------------------------------------------
# Pixel fidelity
# ----------------------------------------------------------------------------------------------------------


def mse(a, b) -> float:
    r"""Mean squared error between two arrays of the same shape.

    .. math:: \mathrm{MSE}(a, b) = \frac{1}{n} \sum_{i=1}^{n} (a_i - b_i)^2

    where :math:`n` is the number of elements (pixels times channels for an image).

    Parameters
    ----------
    a, b : array_like
        Arrays of the same shape (any number of dimensions), uint8 or float.

    Returns
    -------
    float
        The mean of the squared element-wise differences, in squared units of the input
        (e.g. squared 8-bit grey levels for images in [0, 255]).

    References
    ----------
    Same definition as ``skimage.metrics.mean_squared_error``.
    """
    a, b = _check_pair(a, b, "a", "b")
    return float(np.mean((a - b) ** 2))


def psnr(image_true, image_test, *, data_range: float = 255.0) -> float:
    r"""Peak signal-to-noise ratio of a reconstruction, in decibels.

    .. math:: \mathrm{PSNR} = 10 \log_{10} \frac{R^2}{\mathrm{MSE}(x_\mathrm{true}, x_\mathrm{test})}

    with :math:`R` = ``data_range``. Identical images give ``inf``.

    Parameters
    ----------
    image_true : array_like, shape (H, W) or (H, W, C)
        Reference image, values in ``[0, data_range]``.
    image_test : array_like, same shape as ``image_true``
        Reconstruction; values outside the range are scored as they are (not clipped).
    data_range : float, optional
        Peak-to-peak range of the image scale: 255 for [0, 255] images (default), 1 for [0, 1].

    Returns
    -------
    float
        PSNR in dB (higher is better).

    References
    ----------
    Same as ``skimage.metrics.peak_signal_noise_ratio`` with ``data_range`` given.
    """
    a, b = _check_image_pair(image_true, image_test)
    r = _check_data_range(data_range)
    err = float(np.mean((a - b) ** 2))
    if err == 0.0:
        return float("inf")
    return float(10.0 * np.log10(r * r / err))


def _ssim_win_size(shape: tuple[int, ...]) -> int:
    """Largest odd window <= 7 that fits the smaller spatial side (skimage's default is 7)."""
    side = min(shape[0], shape[1])
    if side < 3:
        raise ValueError(
            f"image_true has spatial size {shape[0]}x{shape[1]}; SSIM needs at least 3x3 pixels "
            "(pass larger images or score with psnr/mse instead)."
        )
    return min(7, side if side % 2 == 1 else side - 1)


def ssim(image_true, image_test, *, data_range: float = 255.0) -> float:
    r"""Mean structural similarity index of a reconstruction.

    .. math::
        \mathrm{SSIM}(x, y) = \frac{(2 \mu_x \mu_y + C_1)(2 \sigma_{xy} + C_2)}
                                   {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
        \quad C_1 = (0.01 R)^2,\ C_2 = (0.03 R)^2,

    with local means, variances and covariance over a uniform ``w x w`` window, averaged over the image and,
    for colour images, over channels (``channel_axis=-1``). :math:`R` = ``data_range``. The window is
    skimage's default ``w = 7``, shrunk to the largest odd size that fits images smaller than 7 pixels.

    Parameters
    ----------
    image_true : array_like, shape (H, W) or (H, W, C)
        Reference image, values in ``[0, data_range]``; ``H, W >= 3``.
    image_test : array_like, same shape as ``image_true``
        Reconstruction (not clipped).
    data_range : float, optional
        Peak-to-peak range of the image scale: 255 (default) or 1.

    Returns
    -------
    float
        Mean SSIM in [-1, 1] (1 = identical).

    References
    ----------
    Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error visibility to
    structural similarity", IEEE TIP 13(4), 2004. Computed by ``skimage.metrics.structural_similarity``.
    """
    a, b = _check_image_pair(image_true, image_test)
    r = _check_data_range(data_range)
    win = _ssim_win_size(a.shape)
    kwargs = {"channel_axis": -1} if a.ndim == 3 else {}
    return float(_skm.structural_similarity(a, b, data_range=r, win_size=win, **kwargs))


# ----------------------------------------------------------------------------------------------------------
# Feature-space error
# ----------------------------------------------------------------------------------------------------------


def normalized_error(x, x0, *, axis=None):
    r"""Mahendran & Vedaldi's normalised reconstruction error.

    .. math:: E(x, x_0) = \frac{\lVert x - x_0 \rVert_2^2}{\lVert x_0 \rVert_2^2}

    This is the normalisation Mahendran & Vedaldi (2015) use for the feature-matching loss
    :math:`\lVert \Phi(x) - \Phi_0 \rVert^2 / \lVert \Phi_0 \rVert^2` and for reporting how well a pre-image
    reproduces a representation, so values are comparable across layers of very different magnitude.
    Pass feature maps :math:`\Phi(x), \Phi_0` to score a representation, or images to score pixels.

    Note: the thesis's TF1 code divided by :math:`\sum x_0 \cdot x` (target times reconstruction) instead;
    that is not M&V's definition (it can be negative or zero) and is not used here.

    Parameters
    ----------
    x : array_like
        Reconstruction (features or image).
    x0 : array_like, same shape as ``x``
        Reference; must not be all zeros over the reduced axes.
    axis : None or int or tuple of int, optional
        Axes to reduce. ``None`` (default) gives one number for the whole array; e.g. ``axis=(1, 2, 3)`` on
        an ``(N, H, W, C)`` batch gives one error per sample.

    Returns
    -------
    float or numpy.ndarray
        The error (0 = perfect; 1 = as far from ``x0`` as the zero vector is).

    References
    ----------
    A. Mahendran, A. Vedaldi, "Understanding deep image representations by inverting them", CVPR 2015, eq. (1)
    and Sec. 2.
    """
    x, x0 = _check_pair(x, x0, "x", "x0")
    num = np.sum((x - x0) ** 2, axis=axis)
    den = np.sum(x0**2, axis=axis)
    if np.any(den == 0):
        raise ValueError(
            "x0 is all zeros over the reduced axes, so ||x0||^2 = 0 and the normalised error is undefined; "
            "pass a non-zero reference (e.g. a layer whose activations are not all dead) or use mse."
        )
    out = num / den
    return float(out) if np.ndim(out) == 0 else out


def thesis_nmse(x, x0, *, axis=None):
    r"""The thesis code's "NMSE": :math:`\sum (x_0 - x)^2 / \sum x_0 \cdot x` (its ``NormedMSELoss`` and the
    benchmark table in its ``notes``). Kept apart from :func:`normalized_error` (M&V's
    :math:`\lVert x_0 \rVert^2` denominator) so the thesis's numbers can be compared like for like; the
    denominator can be zero or negative for feature maps, which this refuses.

    ``axis`` as in :func:`normalized_error`.
    """
    x, x0 = _check_pair(x, x0, "x", "x0")
    num = np.sum((x0 - x) ** 2, axis=axis)
    den = np.sum(x0 * x, axis=axis)
    if np.any(den <= 0):
        raise ValueError(
            "sum(x0 * x) <= 0, so the thesis's NMSE is undefined here (it is meant for images in "
            "[0, 255]); use normalized_error (M&V's ||x0||^2 denominator) instead"
        )
    out = num / den
    return float(out) if np.ndim(out) == 0 else out


def gram_distance(maps0, maps) -> float:
    r"""The thesis's per-layer "VGG score" term: :math:`\lVert G(F_0) - G(F) \rVert_F^2 / \lVert G(F_0)
    \rVert_F^2` with :math:`G(F) = F F^\top`, ``F`` the ``(C, HW)`` matrix of one image's maps minus its global
    mean (``utils/rec_evaluation.py``). ``maps0``, ``maps``: ``(H, W, C)`` of one image at one layer."""
    a, b = _check_pair(maps0, maps, "maps0", "maps")
    if a.ndim != 3:
        raise ValueError(f"gram_distance takes one image's maps of shape (H, W, C), got {a.shape}")

    def gram(m):
        f = m.reshape(-1, m.shape[-1]).T  # (C, HW)
        f = f - f.mean()
        return f @ f.T

    g0, g = gram(a), gram(b)
    den = np.sum(g0**2)
    if den == 0:
        raise ValueError("the reference maps are constant, so their Gram matrix is zero; pick another layer")
    return float(np.sum((g0 - g) ** 2) / den)


# ----------------------------------------------------------------------------------------------------------
# Error images (thesis Fig. 5/6 style)
# ----------------------------------------------------------------------------------------------------------


def color_error_map(image_true, image_test) -> np.ndarray:
    r"""Signed, colour-accurate difference image renormalised to [0, 1] over the whole image.

    .. math:: d = x_\mathrm{true} - x_\mathrm{test}, \qquad
              M = \frac{d - \min d}{\max d - \min d}

    with min and max over all pixels *and* channels, so the relative colour of the error is kept: a pixel
    whose reconstruction lacks red shows up red-ish, one with too much red shows cyan-ish, and a uniform
    error shows as uniform grey. If :math:`d` is constant the map is 0.5 everywhere.

    Parameters
    ----------
    image_true, image_test : array_like, shape (H, W) or (H, W, C)
        Reference and reconstruction on the same scale (any range; callers usually clip the
        reconstruction to the display range first, as the thesis did).

    Returns
    -------
    numpy.ndarray, float64, same shape, values in [0, 1]

    References
    ----------
    The third column of the thesis's reconstruction plots (image | reconstruction | signed difference |
    absolute difference), frhrdr/deep_restoration ``LayerInversion.visualize``.
    """
    a, b = _check_image_pair(image_true, image_test)
    d = a - b
    lo, hi = float(d.min()), float(d.max())
    if hi == lo:
        return np.full_like(d, 0.5)
    return (d - lo) / (hi - lo)


def abs_error_map(image_true, image_test) -> np.ndarray:
    r"""Absolute difference image renormalised to [0, 1] by its maximum.

    .. math:: M = \frac{|x_\mathrm{true} - x_\mathrm{test}|}{\max |x_\mathrm{true} - x_\mathrm{test}|}

    with the maximum over all pixels and channels, so black means exact and the brightest pixel is the
    worst; channels keep their own magnitude (a red pixel = error only in red). Identical images give zeros.

    Parameters
    ----------
    image_true, image_test : array_like, shape (H, W) or (H, W, C)
        Reference and reconstruction on the same scale.

    Returns
    -------
    numpy.ndarray, float64, same shape, values in [0, 1]

    References
    ----------
    The fourth column of the thesis's reconstruction plots, frhrdr/deep_restoration
    ``LayerInversion.visualize``.
    """
    a, b = _check_image_pair(image_true, image_test)
    d = np.abs(a - b)
    peak = float(d.max())
    if peak == 0.0:
        return np.zeros_like(d)
    return d / peak


# ----------------------------------------------------------------------------------------------------------
# Batches and summaries
# ----------------------------------------------------------------------------------------------------------


def score_batch(images_true, images_test, *, data_range: float = 255.0) -> dict[str, np.ndarray]:
    r"""Per-image MSE, PSNR, SSIM and normalised error of a batch of reconstructions.

    Parameters
    ----------
    images_true : array_like, shape (N, H, W, C) or (N, H, W)
        Reference images in ``[0, data_range]``.
    images_test : array_like, same shape
        Reconstructions (not clipped; clip before calling to score what is shown).
    data_range : float, optional
        255 (default) or 1.

    Returns
    -------
    dict of str to numpy.ndarray, shape (N,)
        ``{"mse": ..., "psnr": ..., "ssim": ..., "nerr": ...}`` where ``nerr`` is
        :func:`normalized_error` of each image in pixel space.
    """
    a, b = _check_pair(images_true, images_test, "images_true", "images_test")
    if a.ndim not in (3, 4):
        raise ValueError(
            f"images_true has shape {a.shape}; pass a batch of shape (N, H, W, C) or (N, H, W) "
            "(add a leading axis for a single image)."
        )
    r = _check_data_range(data_range)
    out = {name: np.empty(a.shape[0]) for name in SCORE_NAMES}
    for i in range(a.shape[0]):
        out["mse"][i] = mse(a[i], b[i])
        out["psnr"][i] = psnr(a[i], b[i], data_range=r)
        out["ssim"][i] = ssim(a[i], b[i], data_range=r)
        out["nerr"][i] = normalized_error(b[i], a[i])
    return out


def summarize_scores(scores: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Means of per-image scores under ``<name>_mean`` keys, the summary format reports compare.

    Parameters
    ----------
    scores : mapping of str to array_like
        E.g. the output of :func:`score_batch`.

    Returns
    -------
    dict of str to float
        ``{"mse_mean": ..., "psnr_mean": ..., "ssim_mean": ..., "nerr_mean": ...}``. A PSNR of ``inf``
        (a perfect image) makes ``psnr_mean`` ``inf``; JSON writers should be told to allow it or the caller
        should cap it.
    """
    summary = {}
    for name, values in scores.items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.size == 0:
            raise ValueError(f"scores[{name!r}] is empty; score at least one image before summarising.")
        summary[f"{name}_mean"] = float(np.mean(arr))
    return summary
