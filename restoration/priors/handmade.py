r"""Hand-made priors of Mahendran & Vedaldi: the alpha-norm (bounded range), total variation and a soft pixel
range, as :class:`restoration.objectives.Term` s (``Term``, ``Objective`` and ``as_objective`` are re-exported
here for older imports). The learned patch priors (ICA, FoE, CICA) are in :mod:`restoration.priors.learned`.

Conventions
-----------
* ``t`` has shape ``(N, H, W, C)`` (or ``(N, D)`` for fc layers); energies return shape ``(N,)``: one value per
  image, so a batch of independent pre-images is optimised at once (the total is their sum).
* Image-space priors act on the preprocessed image (BGR minus the ImageNet mean, pixel units), which is what
  M&V's normalisation constants (``B = 80``) are expressed in.

References
----------
A. Mahendran, A. Vedaldi, "Understanding deep image representations by inverting them", CVPR 2015, Sec. 3.
A. Mahendran, A. Vedaldi, "Visualizing deep convolutional neural networks using natural pre-images",
IJCV 120(3), 2016, Sec. 3.3 (bounded range, bounded variation and their normalisation).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from restoration.objectives import Objective, Term, _check_rank, as_objective  # noqa: F401  (re-exported)

__all__ = [
    "Term",
    "Objective",
    "as_objective",
    "AlphaNorm",
    "TotalVariation",
    "SoftRange",
    "alpha_norm",
    "tv",
    "soft_range",
    "MV_B",
    "MV_V_RATIO",
]

MV_B = 80.0
"""M&V 2016's typical pixel magnitude ``B`` (mean-subtracted images lie roughly in ``[-B, B]``)."""

MV_V_RATIO = 6.5
"""M&V 2016's ratio ``B / V``: the typical local variation is ``V = B / 6.5``."""


# ----------------------------------------------------------------------------------------------------------
# hand-crafted image priors of Mahendran & Vedaldi
# ----------------------------------------------------------------------------------------------------------


class AlphaNorm(Term):
    r"""Bounded-range prior (M&V 2016, Sec. 3.3): the per-pixel colour norm to the power :math:`\alpha`.

    .. math:: R_\alpha(x) = \frac{1}{H W B^\alpha} \sum_{u,v} \Big(\sum_k x_{uvk}^2\Big)^{\alpha/2}

    A pixel whose colour vector has norm ``B = 80`` (the typical magnitude of a mean-subtracted pixel)
    scores 1; natural photos score more, since the 6th power is dominated by their extreme pixels (measured on
    the embedded photos at 224 px: 64, 47 and 2.7 for astronaut, coffee and chelsea; their TV: 16, 10, 4.4).
    ``normalise=False`` drops the ``1/(HW B^alpha)`` factor (then use ``B`` only as documentation; the CVPR
    2015 recipe puts its constant into the weight).

    Parameters
    ----------
    alpha : float
        Exponent (M&V use 6).
    B : float
        Range constant ``B``.
    layer : str
        ``"input"`` (default) or a layer name (then ``k`` runs over channels).
    """

    def __init__(
        self,
        alpha: float = 6.0,
        B: float = MV_B,
        *,
        layer: str = "input",
        weight: float = 1.0,
        normalise: bool = True,
        name: str | None = None,
    ):
        if alpha <= 0 or B <= 0:
            raise ValueError(f"AlphaNorm needs alpha > 0 and B > 0, got alpha={alpha}, B={B}")
        super().__init__(name or f"alpha{alpha:g}", layer, weight)
        self.alpha, self.B, self.normalise = float(alpha), float(B), bool(normalise)

    def energy(self, t):
        _check_rank(t, "AlphaNorm", (4,))
        sq = tf.reduce_sum(tf.square(t), axis=-1)  # (N, H, W)
        e = tf.reduce_sum(tf.pow(sq, self.alpha / 2.0), axis=(1, 2))
        if self.normalise:
            hw = tf.cast(tf.shape(t)[1] * tf.shape(t)[2], tf.float32)
            e = e / (hw * self.B**self.alpha)
        return e


class TotalVariation(Term):
    r"""Bounded-variation prior (M&V 2015 eq. (5); 2016 Sec. 3.3), the "TV^beta" norm.

    .. math:: R_{V^\beta}(x) = \frac{1}{H W V^\beta} \sum_{u<H-1, v<W-1}
              \Big(\sum_k (x_{u,v+1,k} - x_{uvk})^2 + (x_{u+1,v,k} - x_{uvk})^2\Big)^{\beta/2},
              \qquad V = B / 6.5

    Finite differences are taken on the ``(H-1) x (W-1)`` region where both exist; ``HW`` in the normaliser is
    the full image size, as in the paper. For ``beta < 2`` a small ``eps`` is added inside the power so the
    gradient at flat regions is finite.

    Parameters
    ----------
    beta : float
        Exponent (M&V use 2; note 1 in the 2016 paper: for beta=2 this is the quadratic variation).
    B : float
        Range constant; ``V = B / v_ratio``.
    """

    def __init__(
        self,
        beta: float = 2.0,
        B: float = MV_B,
        *,
        v_ratio: float = MV_V_RATIO,
        layer: str = "input",
        weight: float = 1.0,
        normalise: bool = True,
        eps: float = 1e-8,
        name: str | None = None,
    ):
        if beta <= 0 or B <= 0 or v_ratio <= 0:
            raise ValueError(f"TotalVariation needs beta, B, v_ratio > 0, got {beta}, {B}, {v_ratio}")
        super().__init__(name or f"tv{beta:g}", layer, weight)
        self.beta, self.B, self.V = float(beta), float(B), float(B) / float(v_ratio)
        self.normalise, self.eps = bool(normalise), float(eps)

    def energy(self, t):
        _check_rank(t, "TotalVariation", (4,))
        dx = t[:, :-1, 1:, :] - t[:, :-1, :-1, :]
        dy = t[:, 1:, :-1, :] - t[:, :-1, :-1, :]
        sq = tf.reduce_sum(tf.square(dx) + tf.square(dy), axis=-1)
        if self.beta != 2.0:
            sq = tf.pow(sq + self.eps, self.beta / 2.0)
        e = tf.reduce_sum(sq, axis=(1, 2))
        if self.normalise:
            hw = tf.cast(tf.shape(t)[1] * tf.shape(t)[2], tf.float32)
            e = e / (hw * self.V**self.beta)
        return e


class SoftRange(Term):
    r"""Soft box constraint: a quadratic penalty on values outside ``[low, high]`` (per channel).

    .. math:: R(x) = \frac{1}{HW} \sum_{u,v,k} \big(\max(0, x_{uvk} - h_k)^2 + \max(0, l_k - x_{uvk})^2\big)

    The default box is the valid pixel range of a preprocessed image, ``[-mean_bgr, 255 - mean_bgr]``; the
    inverter's ``clip=True`` is the hard version (projection after each step, bounds for L-BFGS-B).
    """

    def __init__(
        self,
        low=None,
        high=None,
        *,
        mean_bgr=(104.00699, 116.66877, 122.67892),
        layer: str = "input",
        weight: float = 1.0,
        name: str = "softrange",
    ):
        super().__init__(name, layer, weight)
        mean = np.asarray(mean_bgr, np.float32)
        self.low = np.broadcast_to(np.asarray(-mean if low is None else low, np.float32), (3,)).copy()
        self.high = np.broadcast_to(np.asarray(255.0 - mean if high is None else high, np.float32), (3,)).copy()
        if np.any(self.low >= self.high):
            raise ValueError(f"SoftRange needs low < high, got low={self.low}, high={self.high}")

    def energy(self, t):
        _check_rank(t, "SoftRange", (4,))
        over = tf.nn.relu(t - self.high) + tf.nn.relu(self.low - t)
        hw = tf.cast(tf.shape(t)[1] * tf.shape(t)[2], tf.float32)
        return tf.reduce_sum(tf.square(over), axis=(1, 2, 3)) / hw


def alpha_norm(alpha: float = 6.0, B: float = MV_B, **kw) -> AlphaNorm:
    """Shorthand for :class:`AlphaNorm` (``tv`` and ``alpha_norm`` read like the paper's equation)."""
    return AlphaNorm(alpha, B, **kw)


def tv(beta: float = 2.0, B: float = MV_B, **kw) -> TotalVariation:
    """Shorthand for :class:`TotalVariation`."""
    return TotalVariation(beta, B, **kw)


def soft_range(**kw) -> SoftRange:
    """Shorthand for :class:`SoftRange`."""
    return SoftRange(**kw)
