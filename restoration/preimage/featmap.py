"""Feature-map inversion: optimise a layer's activations (the net cut there) so that a deeper layer matches, with
or without a learned prior on the map; then project the map to an image.

The thesis's ``featmap_inv`` (July 27 plan: "isolate even smaller subproblem: invert single conv block ...
visualize reconstructed feature maps with and without prior"): the mean squared error at ``conv{m}/lin`` of
the map ``h`` at ``conv{t}/lin`` pushed through the rest of the net (:meth:`FeatureNet.forward_from`), plus
``weight x prior(h)``; Adam at lr 1.0, from the MSE-only result. To see a map as a picture, :func:`to_image`
inverts the net from the image to ``conv{t}/lin`` onto it (mean squared error only, the thesis's phase 1).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf

from restoration.errors import DivergenceError
from restoration.objectives import Term
from restoration.optim.progress import progress

__all__ = ["MapInversion", "MapResult", "invert_map", "grey_start", "map_error"]


@dataclasses.dataclass(frozen=True)
class MapInversion:
    steps: int = 10_000
    lr: float = 1.0
    log_every: int = 50
    progress: bool = True


@dataclasses.dataclass
class MapResult:
    """``h`` the optimised map ``(N, h, w, C)``, ``history`` name -> (steps, values), wall time."""

    h: np.ndarray
    history: dict
    wall_s: float


def grey_start(net, layer: str, n: int, size: int, seed: int = 0) -> np.ndarray:
    """The map of a flat grey image (114.8 in RGB) plus small noise: a start that knows nothing of the target."""
    rgb = np.full((n, size, size, 3), 114.8, np.float32)
    h = net(tf.constant(net.preprocess(rgb)), layer).numpy()
    rng = np.random.default_rng(seed)
    return (h + rng.normal(0.0, 0.1 * (np.std(h) + 1e-3), h.shape)).astype(np.float32)


def map_error(h, h_true) -> np.ndarray:
    """Normalised error ``||h - h0||^2 / ||h0||^2`` per map."""
    h, t = np.asarray(h, np.float64), np.asarray(h_true, np.float64)
    ax = tuple(range(1, h.ndim))
    return np.sum((h - t) ** 2, axis=ax) / np.sum(t**2, axis=ax)


def invert_map(
    net,
    start_layer: str,
    loss_layer: str,
    target,
    h0,
    prior: Term | None = None,
    settings: MapInversion = MapInversion(),
    *,
    log=None,
    log_prefix: str = "",
) -> MapResult:
    """Minimise ``mean((phi_loss(h) - target)^2) + prior(h)`` over the map ``h`` at ``start_layer``."""
    import keras

    start_layer, loss_layer = net.resolve(start_layer), net.resolve(loss_layer)
    if prior is not None and prior.layer != start_layer:
        raise ValueError(
            f"the prior {prior.name!r} reads {prior.layer!r}, but the map being optimised is {start_layer!r}"
        )
    target = tf.constant(np.asarray(target, np.float32))
    h = tf.Variable(np.asarray(h0, np.float32))
    opt = keras.optimizers.Adam(learning_rate=settings.lr)
    opt.build([h])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = net.forward_from(start_layer, h, loss_layer)
            mse = tf.reduce_mean(tf.square(out - target), axis=[1, 2, 3])
            total = tf.reduce_sum(mse)
            p = tf.zeros_like(mse) if prior is None else prior({start_layer: h})
            total = total + tf.reduce_sum(p)
        g = tape.gradient(total, h)
        ok = tf.logical_and(tf.math.is_finite(total), tf.reduce_all(tf.math.is_finite(g)))
        if ok:
            opt.apply_gradients([(g, h)])
        return tf.reduce_mean(mse), tf.reduce_mean(p), ok

    history: dict = {}
    t0 = time.perf_counter()
    for i in progress(
        range(1, settings.steps + 1), desc=f"map {start_layer}", enabled=settings.progress, mininterval=2.0, leave=False
    ):
        mse, p, ok = step()
        if not bool(ok):
            raise DivergenceError(
                f"feature-map inversion at {start_layer} diverged at step {i} (mse {float(mse)!r}, "
                f"prior {float(p)!r}); lower the learning rate or the prior weight"
            )
        if i % settings.log_every == 0 or i == settings.steps:
            for name, v in (("mse", float(mse)), ("prior", float(p))):
                s, vals = history.setdefault(name, ([], []))
                s.append(i)
                vals.append(v)
                if log is not None:
                    log(f"{log_prefix}{name}", v, i)
    return MapResult(h.numpy(), history, time.perf_counter() - t0)
