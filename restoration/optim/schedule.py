"""The one learning-rate schedule: piecewise constant, ``((0, lr0), (s1, lr1), ...)`` = ``lr_i`` from step ``s_i`` on,
optionally with a cosine decay to zero over the last part of training (:func:`decay_factor`,
``TrainSettings.lr_decay``).

Used by the training loop (:class:`restoration.optim.TrainSettings`), the optimisation pre-images
(:func:`restoration.preimage.invert`), the M&V recipes (:mod:`restoration.preimage.recipes`) and the experiments'
config checks, so the rule (first entry at step 0, steps strictly increasing, rates positive and finite) and its
evaluation live here only.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Piecewise-constant learning rate: ``((0, 1e-2), (1000, 3e-3), (2000, 1e-3))`` = value from that step."""

    points: tuple[tuple[int, float], ...]

    def __post_init__(self):
        try:
            pts = tuple((int(s), float(v)) for s, v in self.points)
        except (TypeError, ValueError):
            raise ValueError(
                f"a learning-rate schedule is ((step, lr), ...), e.g. ((0, 1e-3), (500, 3e-4)); got {self.points!r}"
            ) from None
        if not pts or pts[0][0] != 0:
            raise ValueError(f"a learning-rate schedule must start at step 0, got {self.points!r}")
        if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
            raise ValueError(f"schedule steps must increase strictly, got {self.points!r}")
        if any(not (v > 0 and math.isfinite(v)) for _, v in pts):
            raise ValueError(f"learning rates must be positive, got {self.points!r}")
        object.__setattr__(self, "points", pts)

    @classmethod
    def of(cls, lr) -> "Schedule":
        """A schedule from a rate, a ``((step, lr), ...)`` sequence or a schedule."""
        if isinstance(lr, Schedule):
            return lr
        if isinstance(lr, (int, float)):
            return cls(((0, float(lr)),))
        return cls(tuple(lr))

    def __call__(self, step: int) -> float:
        """The rate of the update at ``step`` (0-based)."""
        value = self.points[0][1]
        for start, v in self.points:
            if step >= start:
                value = v
        return value

    def compressed(self, factor: float) -> "Schedule":
        """Boundaries scaled by ``factor`` and rounded (quick profiles); boundaries that collide keep the later
        rate."""
        merged: dict[int, float] = {}
        for s, lr in self.points:
            merged[int(round(s * factor))] = lr
        return Schedule(tuple(sorted(merged.items())))

    def scaled(self, factor: float) -> "Schedule":
        """Every rate multiplied by ``factor``."""
        return Schedule(tuple((s, lr * factor) for s, lr in self.points))

    def describe(self) -> str:
        return ", ".join(f"{v:g} from step {s}" if s else f"{v:g}" for s, v in self.points)

    def keras(self, *, steps: int | None = None, decay: float = 0.0):
        """The schedule as Keras takes it: a float when constant, else ``PiecewiseConstantDecay`` on the
        optimiser's own step count (so a resumed run continues where it stopped). With ``decay`` > 0 the rate is
        multiplied by :func:`decay_factor` ``(step, steps, decay)`` (a Keras schedule on the same step count)."""
        if decay and not steps:
            raise ValueError(f"a decaying schedule needs the total steps; got steps={steps!r}, decay={decay!r}")
        if len(self.points) == 1:  # a constant rate (Keras needs a boundary for a schedule)
            base = self.points[0][1]
        else:
            import keras

            bounds = [s for s, _ in self.points[1:]]
            values = [v for _, v in self.points]
            # PiecewiseConstantDecay uses lr[i] for step <= boundary[i]; our steps are "from step s on", i.e. > s - 1
            base = keras.optimizers.schedules.PiecewiseConstantDecay([b - 1 for b in bounds], values)
        return _keras_decayed(base, steps, decay) if decay else base


def decay_start(steps: int, decay: float) -> int:
    """The first update (0-based) whose rate is decayed: the last ``round(decay * steps)`` updates are."""
    check_decay(decay)
    return steps - int(round(decay * steps))


def decay_factor(step: int, steps: int, decay: float) -> float:
    """The factor on the rate of the update at ``step`` (0-based) of ``steps``: 1 before :func:`decay_start`, then a
    half cosine from 1 towards 0 over the remaining updates, ``0.5 * (1 + cos(pi * k / (n + 1)))`` for the k-th
    (1-based) of the ``n`` decayed updates, so the last update still moves (by ~(pi/2n)^2 of the rate) and the
    factor stays at its last value after ``steps`` (a run resumed with more steps). ``decay=0``: always 1."""
    start = decay_start(steps, decay)
    n = steps - start
    if n <= 0 or step < start:
        return 1.0
    k = min(step - start + 1, n)
    return 0.5 * (1.0 + math.cos(math.pi * k / (n + 1)))


def check_decay(decay) -> float:
    """``decay`` (the fraction of the steps over which the rate decays) checked: a number in [0, 1]."""
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay <= 1:
        raise ValueError(
            f"lr_decay is the fraction of the steps, at the end, over which the learning rate decays to zero: a "
            f"number in [0, 1] (0 = none, e.g. 0.5 = the second half), got {decay!r}"
        )
    return float(decay)


def _keras_decayed(base, steps: int, decay: float):
    """``base`` (a rate or a Keras schedule) times :func:`decay_factor` on the optimiser's step count."""
    import keras
    import tensorflow as tf

    start, n = decay_start(steps, decay), steps - decay_start(steps, decay)

    class CosineTail(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            rate = base(step) if callable(base) else tf.constant(base, tf.float32)
            k = tf.clip_by_value(tf.cast(step, tf.float32) - float(start) + 1.0, 0.0, float(n))
            factor = tf.where(k > 0, 0.5 * (1.0 + tf.cos(math.pi * k / float(n + 1))), 1.0)
            return tf.cast(rate, tf.float32) * factor

        def get_config(self):
            return {"steps": steps, "decay": decay}

    return CosineTail()
