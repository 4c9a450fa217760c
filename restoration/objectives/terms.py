r"""Objectives: differentiable per-image energies of an image or of one layer's activations, and their sums.

Every term of an optimisation pre-image (Mahendran & Vedaldi 2015, 2016) is a :class:`Term`: it names the
tensor it reads (``layer``: ``"input"`` for the image, or any layer name of a
:class:`restoration.nets.FeatureNet`), computes an *unweighted* per-image energy ``E(t) -> (N,)`` with
TensorFlow ops, and carries a weight and a log name. Terms compose like lucid objectives::

    loss = feature_loss("conv3_3", phi0) + 1e-5 * patch_prior + TotalVariation(beta=2)

``c * term`` scales a term's weight, ``term + term`` makes an :class:`Objective`; each term logs under its own
name. :class:`FeatureLoss` is M&V's normalised feature-matching term. The hand-made priors (alpha-norm, TV)
live in :mod:`restoration.priors`, the learned patch priors (ICA, FoE, CICA) in
:mod:`restoration.priors.learned`; all are ``Term`` s.

Conventions
-----------
* ``t`` has shape ``(N, H, W, C)`` (or ``(N, D)`` for fc layers); energies return shape ``(N,)``: one value per
  image, so a batch of independent pre-images is optimised at once (the total is their sum).
"""

from __future__ import annotations

import copy
from typing import Iterable, Mapping

import numpy as np
import tensorflow as tf

__all__ = ["Term", "Objective", "as_objective", "FeatureLoss", "feature_loss", "FeatureMSE"]


def _check_rank(t: tf.Tensor, name: str, ranks=(4,)) -> None:
    if t.shape.rank not in ranks:
        raise ValueError(
            f"{name} expects a tensor of rank {' or '.join(map(str, ranks))} "
            f"((N, H, W, C) for maps), got shape {t.shape}; add a batch axis with t[None]"
        )


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
            raise KeyError(
                f"term {self.name!r} reads layer {self.layer!r}, which the activations dict lacks (has {sorted(acts)})"
            )
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
            raise ValueError(
                f"two terms are named {t.name!r}; give one another name with term.named('...') "
                f"so that each logs under its own name"
            )
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
        for t in other.terms if isinstance(other, Objective) else [other]:
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
# the feature loss
# ----------------------------------------------------------------------------------------------------------


class FeatureLoss(Term):
    r"""Normalised feature reconstruction loss of M&V (2015 eq. (1); 2016 Sec. 3.3), per image.

    .. math:: E(\Phi) = \frac{\lVert \Phi - \Phi_0 \rVert_2^2}{\lVert \Phi_0 \rVert_2^2}

    Parameters
    ----------
    layer : str
        Layer name of the net (as the net resolves it).
    target : array_like, shape (N, ...)
        :math:`\Phi_0`, one target per image of the batch being optimised.
    """

    def __init__(self, layer: str, target, *, weight: float = 1.0, name: str | None = None):
        super().__init__(name or f"feat/{layer}", layer, weight)
        t = np.asarray(target, np.float32)
        if t.ndim < 2:
            raise ValueError(f"feature_loss target for {layer!r} must have a batch axis, shape (N, ...); got {t.shape}")
        norms = np.sum(t.reshape(t.shape[0], -1).astype(np.float64) ** 2, axis=1)
        if np.any(norms == 0):
            raise ValueError(
                f"the target features at {layer!r} are all zero for image(s) "
                f"{np.flatnonzero(norms == 0).tolist()}, so the normalised loss is undefined; "
                f"pick another layer (or the '/lin' pre-ReLU version) for these images"
            )
        self.target = t
        self._norm = norms.astype(np.float32)

    def energy(self, t):
        axes = list(range(1, len(self.target.shape)))
        return tf.reduce_sum(tf.square(t - self.target), axis=axes) / self._norm


def feature_loss(layer: str, phi0, weight: float = 1.0, *, name: str | None = None) -> FeatureLoss:
    """``feature_loss("conv3_3", phi0)``: the normalised feature loss at ``layer`` (see :class:`FeatureLoss`)."""
    return FeatureLoss(layer, phi0, weight=weight, name=name)


class FeatureMSE(Term):
    r"""The thesis code's feature loss: the *mean* squared error over a layer's elements, per image,
    :math:`\frac{1}{D}\lVert \Phi - \Phi_0 \rVert^2` (TF1's ``tf.losses.mean_squared_error``; its
    ``foe_inv_funcs.py`` inverts with it, and its prior weights 1e-6 ... 1e-3 are relative to it).
    Unlike :class:`FeatureLoss` it is not normalised by :math:`\lVert \Phi_0 \rVert^2`."""

    def __init__(self, layer: str, target, *, weight: float = 1.0, name: str | None = None):
        super().__init__(name or f"mse/{layer}", layer, weight)
        t = np.asarray(target, np.float32)
        if t.ndim < 2:
            raise ValueError(f"FeatureMSE target for {layer!r} must have a batch axis, shape (N, ...); got {t.shape}")
        self.target = t

    def energy(self, t):
        axes = list(range(1, len(self.target.shape)))
        return tf.reduce_mean(tf.square(t - self.target), axis=axes)
