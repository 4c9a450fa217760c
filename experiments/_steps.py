"""Steps every family body shares: the run's metric log that keeps its curves for the run's own loss figure, the
payload's parts as a family gathers them, and the run's end (payload stored, checkpoints released)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from restoration import tracking


@dataclass
class CurveLog:
    """``log(name, value, step)``: to the run's metrics (Sacred) and into ``curves`` (``{name: (steps, values)}``),
    so the run draws its own loss figure and the report draws none for it. :meth:`prefixed` gives a view that
    writes every name under a prefix into the same curves (one stack of several)."""

    run_log: Callable[[str, float, int], None]
    curves: dict[str, tuple[list, list]] = field(default_factory=dict)
    prefix: str = ""

    def __call__(self, name: str, value: float, step: int) -> None:
        name = self.prefix + name
        self.run_log(name, value, step)
        steps, values = self.curves.setdefault(name, ([], []))
        steps.append(step)
        values.append(value)

    def prefixed(self, prefix: str) -> CurveLog:
        return CurveLog(self.run_log, self.curves, self.prefix + prefix)

    def get(self, name: str) -> tuple[list, list]:
        return self.curves.get(name, ([], []))


def curve_log(_run) -> CurveLog:
    """The run's :class:`CurveLog`."""
    return CurveLog(tracking.metric_logger(_run))


@dataclass
class PayloadParts:
    """What a family's steps add to the payload, in the order they add it: figures, tables, the summary and the
    per-image scores."""

    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)


def finish(_run, payload, checkpoints: Path | str | None = None) -> None:
    """The run's end: the payload stored with the run, and its checkpoint folder marked complete once the run
    ends COMPLETED with its whole record stored (until then the folder stays resumable)."""
    tracking.set_report(_run, payload)
    if checkpoints is not None:
        tracking.complete_on_success(_run, checkpoints)
