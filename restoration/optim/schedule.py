"""The one learning-rate schedule: piecewise constant, ``((0, lr0), (s1, lr1), ...)`` = ``lr_i`` from step ``s_i`` on.

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

    def keras(self):
        """The schedule as Keras takes it: a float when constant, else ``PiecewiseConstantDecay`` on the
        optimiser's own step count (so a resumed run continues where it stopped)."""
        if len(self.points) == 1:  # a constant rate (Keras needs a boundary for a schedule)
            return self.points[0][1]
        import keras

        bounds = [s for s, _ in self.points[1:]]
        values = [v for _, v in self.points]
        # PiecewiseConstantDecay uses lr[i] for step <= boundary[i]; our steps are "from step s on", i.e. > s - 1
        return keras.optimizers.schedules.PiecewiseConstantDecay([b - 1 for b in bounds], values)
