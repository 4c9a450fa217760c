"""Jitter for optimisation inversion: the net sees a randomly shifted copy of the pre-image at each step.

Three rules, all expressed as "pad the pre-image, then cut a window of the net's input size at a random start":

``mirror`` (this project's first rule)
    Pad ``T`` on every side with mirrored borders; the window starts at ``0 .. 2T`` per axis (shifts in
    ``[-T, T]``, ``2T + 1`` positions). Neutral (no-jitter) start: ``T``.
``thesis`` (frhrdr/deep_restoration ``net_inversion.train_pre_featmap``, the "new jitter")
    Pad ``T // 2`` zeros before and ``T - T // 2`` after (zeros of the *raw* image, i.e. black: the thesis's
    pre-image is RGB in [0, 255]); the window starts at ``0 .. T`` (``T + 1`` positions, shifts in
    ``[-T // 2, T - T // 2]``). Neutral start: ``T // 2`` (the thesis feeds the un-padded image then).
``authors`` (Mahendran & Vedaldi's MATLAB code, aravindhm/nnpreimage ``layers/JitterLayer.m`` and
    ``core/dagnnpreimage.m``)
    The optimised image is a *canvas* ``T - 1`` pixels larger than the net's input; the window starts at
    ``0 .. T - 1`` (``T`` positions, no padding); the result is the centred window (start ``(T - 1) // 2``), and
    the image priors see the whole canvas. ``T = max(round(stride / 4), 1)`` with ``stride`` the layer's
    cumulative stride (``get_preimage_opts.m``); ``T = 1`` is no jitter.

:class:`Jitter` holds the rule and ``T``; :meth:`Jitter.starts` draws the per-step window starts, and
:meth:`Jitter.apply` cuts the window in TensorFlow (starts are a tensor, so a compiled step does not retrace).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

import dataclasses

import numpy as np

__all__ = ["Jitter", "RULES", "authors_amount"]

RULES = ("mirror", "thesis", "authors")


def authors_amount(stride: int) -> int:
    """The authors' jitter amount for a layer of cumulative ``stride``: ``max(round(stride / 4), 1)``
    (MATLAB's ``round`` rounds halves away from zero, so stride 2 gives 1 and stride 6 gives 2)."""
    return max(int(np.floor(stride / 4 + 0.5)), 1)


@dataclasses.dataclass(frozen=True)
class Jitter:
    """A jitter rule and its amount ``t`` (pixels; see the module docstring for what ``t`` means per rule)."""

    rule: str = "mirror"
    t: int = 0

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"jitter rule must be one of {RULES}, got {self.rule!r}")
        if isinstance(self.t, bool) or int(self.t) != self.t or self.t < 0:
            raise ValueError(f"jitter amount must be an int >= 0, got {self.t!r}")
        object.__setattr__(self, "t", int(self.t))

    @property
    def active(self) -> bool:
        """Whether any shift happens (``authors`` with ``t <= 1`` has one position: none)."""
        return self.t > (1 if self.rule == "authors" else 0)

    @property
    def canvas_extra(self) -> int:
        """Pixels by which the optimised canvas exceeds the net's input (``authors``: ``t - 1``)."""
        return self.t - 1 if self.rule == "authors" and self.active else 0

    @property
    def pads(self) -> tuple[int, int]:
        """``(before, after)`` padding of the canvas on each spatial axis."""
        if not self.active:
            return 0, 0
        if self.rule == "mirror":
            return self.t, self.t
        if self.rule == "thesis":
            return self.t // 2, self.t - self.t // 2
        return 0, 0

    @property
    def n_positions(self) -> int:
        """Window starts per axis."""
        if not self.active:
            return 1
        return {"mirror": 2 * self.t + 1, "thesis": self.t + 1, "authors": self.t}[self.rule]

    @property
    def neutral(self) -> int:
        """The start that shows the pre-image unshifted (for the final, jitter-free evaluation)."""
        if not self.active:
            return 0
        return {"mirror": self.t, "thesis": self.t // 2, "authors": (self.t - 1) // 2}[self.rule]

    def starts(self, n_steps: int, off_steps: int = 0, *, seed: int = 0) -> np.ndarray:
        """Per-step window starts ``(n_steps, 2)`` int32, uniform over the positions; the neutral start for the
        last ``off_steps`` steps (M&V stop jittering near the end)."""
        if off_steps < 0:
            raise ValueError(f"off_steps must be >= 0, got {off_steps}")
        out = np.random.default_rng(seed).integers(0, self.n_positions, size=(n_steps, 2)).astype(np.int32)
        out[max(n_steps - off_steps, 0) :] = self.neutral
        return out

    def apply(self, x: "tf.Tensor", start: "tf.Tensor", fill=None) -> "tf.Tensor":
        """The window the net sees: ``x`` (N, H + extra, W + extra, C) padded per the rule, cut to
        ``(N, H, W, C)`` at ``start = (y, x)``. ``fill`` (per channel) is the ``thesis`` rule's padding value in
        ``x``'s units (black: minus the mean in preprocessed BGR); default 0."""
        import tensorflow as tf  # here, not at import: recipes (plain data) import this module

        if not self.active:
            return x
        before, after = self.pads
        if self.rule == "mirror":
            x = tf.pad(x, [[0, 0], [before, after], [before, after], [0, 0]], mode="SYMMETRIC")
        elif self.rule == "thesis":
            if fill is None:
                x = tf.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
            else:
                f = tf.constant(np.asarray(fill, np.float32).reshape(1, 1, 1, -1))
                x = tf.pad(x - f, [[0, 0], [before, after], [before, after], [0, 0]]) + f
        shape = tf.shape(x)
        out = self.window(shape[1]), self.window(shape[2])
        st = tf.cast(start, tf.int32)
        return tf.slice(x, tf.stack([0, st[0], st[1], 0]), tf.stack([shape[0], out[0], out[1], shape[3]]))

    def window(self, padded: int):
        """Window side for a padded side of ``padded`` pixels."""
        before, after = self.pads
        return padded - before - after - self.canvas_extra

    def centre(self, x):
        """The net-sized centre of an ``authors`` canvas (numpy or tensor); other rules: ``x`` itself."""
        e = self.canvas_extra
        if not e:
            return x
        s = (self.t - 1) // 2
        return x[:, s : s + x.shape[1] - e, s : s + x.shape[2] - e]

    def embed(self, x: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
        """A net-sized image placed at the centre of a canvas (``authors``): zeros around it (the authors'
        ``initialImage``: zero = the mean colour after mean subtraction), or ``background``'s border."""
        e = self.canvas_extra
        if not e:
            return x
        n, h, w, c = x.shape
        out = np.zeros((n, h + e, w + e, c), np.float32) if background is None else np.array(background, np.float32)
        s = (self.t - 1) // 2
        out[:, s : s + h, s : s + w] = x
        return out
