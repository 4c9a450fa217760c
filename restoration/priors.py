r"""Energy terms: differentiable scalars of an image or of one layer's activations (priors and losses).

Every term of an optimisation pre-image (Mahendran & Vedaldi 2015, 2016) is a :class:`Term`: it names the
tensor it reads (``layer``: ``"input"`` for the image, or any layer name of a
:class:`restoration.nets.FeatureNet`), computes an *unweighted* per-image energy ``E(t) -> (N,)`` with
TensorFlow ops, and carries a weight and a log name. Terms compose like lucid objectives::

    loss = feature_loss("conv3_3", phi0) + 1e-5 * some_prior + TotalVariation(beta=2)

``c * term`` scales a term's weight, ``term + term`` makes an :class:`Objective`; each term logs under its own
name. A learned prior (ICA, FoE, ... from a later issue) is a subclass that implements :meth:`Term.energy`
on patches of the image or of a feature map; nothing else changes.

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

import copy
from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf

MV_B = 80.0
"""M&V 2016's typical pixel magnitude ``B`` (mean-subtracted images lie roughly in ``[-B, B]``)."""

MV_V_RATIO = 6.5
"""M&V 2016's ratio ``B / V``: the typical local variation is ``V = B / 6.5``."""


def _check_rank(t: tf.Tensor, name: str, ranks=(4,)) -> None:
    if t.shape.rank not in ranks:
        raise ValueError(f"{name} expects a tensor of rank {' or '.join(map(str, ranks))} "
                         f"((N, H, W, C) for maps), got shape {t.shape}; add a batch axis with t[None]")


class Term:
    """A weighted energy of one tensor (the image or a layer's activations).

    Subclasses implement :meth:`energy`; ``weight * energy`` is what the optimiser minimises.

    Parameters
    ----------
    name : str
        Log name (metrics appear as ``<name>``); must be unique within an :class:`Objective`.
    layer : str
        ``"input"`` (the preprocessed image) or a layer name of the net being inverted.
    weight : float
        Multiplier of the energy in the total objective.
    """

    def __init__(self, name: str, layer: str = "input", weight: float = 1.0):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a term needs a non-empty string name, got {name!r}")
        self.name = name
        self.layer = layer
        self.weight = float(weight)

    # the one method a prior implements ------------------------------------------------------------------
    def energy(self, t: tf.Tensor) -> tf.Tensor:
        """Unweighted energy of ``t`` (shape ``(N, ...)``) per image: a float32 tensor of shape ``(N,)``."""
        raise NotImplementedError

    # composition ---------------------------------------------------------------------------------------
    def __call__(self, acts: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Weighted per-image energy ``(N,)`` given a dict of activations that contains ``self.layer``."""
        if self.layer not in acts:
            raise KeyError(f"term {self.name!r} reads layer {self.layer!r}, which the activations dict "
                           f"lacks (has {sorted(acts)})")
        return self.weight * self.energy(acts[self.layer])

    def __mul__(self, c) -> "Term":
        if not isinstance(c, (int, float, np.floating, np.integer)):
            return NotImplemented
        out = copy.copy(self)
        out.weight = self.weight * float(c)
        return out

    __rmul__ = __mul__

    def __add__(self, other) -> "Objective":
        return Objective([self]) + other

    def __radd__(self, other) -> "Objective":
        if other == 0:  # sum([...]) starts at 0
            return Objective([self])
        return Objective([self]) + other

    def named(self, name: str) -> "Term":
        """A copy logging under ``name``."""
        out = copy.copy(self)
        out.name = name
        return out

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, layer={self.layer!r}, weight={self.weight:g})"


class Objective:
    """A sum of :class:`Term` s; ``objective(acts) -> (total (N,), {name: weighted term (N,)})``."""

    def __init__(self, terms: Iterable[Term]):
        self.terms: list[Term] = []
        for t in terms:
            self._append(t)

    def _append(self, t: Term) -> None:
        if not isinstance(t, Term):
            raise TypeError(f"an Objective is a sum of Terms; got {type(t).__name__} {t!r}")
        if any(u.name == t.name for u in self.terms):
            raise ValueError(f"two terms are named {t.name!r}; give one another name with term.named('...') "
                             f"so that each logs under its own name")
        self.terms.append(t)

    @property
    def layers(self) -> tuple[str, ...]:
        """Layers the terms read (``"input"`` included when an image prior is present), first-use order."""
        return tuple(dict.fromkeys(t.layer for t in self.terms))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.terms)

    def __call__(self, acts: Mapping[str, tf.Tensor]):
        values = {t.name: t(acts) for t in self.terms}
        total = tf.add_n(list(values.values()))
        return total, values

    def __add__(self, other) -> "Objective":
        out = Objective(self.terms)
        for t in (other.terms if isinstance(other, Objective) else [other]):
            out._append(t)
        return out

    def __radd__(self, other) -> "Objective":
        if other == 0:
            return Objective(self.terms)
        return Objective([other]) + self

    def __mul__(self, c) -> "Objective":
        return Objective([t * c for t in self.terms])

    __rmul__ = __mul__

    def __iter__(self):
        return iter(self.terms)

    def __len__(self):
        return len(self.terms)

    def __repr__(self):
        return " + ".join(f"{t.weight:g}*{t.name}" for t in self.terms)


def as_objective(x) -> Objective:
    """A :class:`Term`, :class:`Objective` or iterable of terms as an Objective."""
    if isinstance(x, Objective):
        return x
    if isinstance(x, Term):
        return Objective([x])
    return Objective(list(x))


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

    def __init__(self, alpha: float = 6.0, B: float = MV_B, *, layer: str = "input", weight: float = 1.0,
                 normalise: bool = True, name: str | None = None):
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
            e = e / (hw * self.B ** self.alpha)
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

    def __init__(self, beta: float = 2.0, B: float = MV_B, *, v_ratio: float = MV_V_RATIO, layer: str = "input",
                 weight: float = 1.0, normalise: bool = True, eps: float = 1e-8, name: str | None = None):
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
            e = e / (hw * self.V ** self.beta)
        return e


class SoftRange(Term):
    r"""Soft box constraint: a quadratic penalty on values outside ``[low, high]`` (per channel).

    .. math:: R(x) = \frac{1}{HW} \sum_{u,v,k} \big(\max(0, x_{uvk} - h_k)^2 + \max(0, l_k - x_{uvk})^2\big)

    The default box is the valid pixel range of a preprocessed image, ``[-mean_bgr, 255 - mean_bgr]``; the
    inverter's ``clip=True`` is the hard version (projection after each step, bounds for L-BFGS-B).
    """

    def __init__(self, low=None, high=None, *, mean_bgr=(104.00699, 116.66877, 122.67892), layer: str = "input",
                 weight: float = 1.0, name: str = "softrange"):
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
