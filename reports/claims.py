"""The thesis's claims, judged on the latest completed runs: verdicts with the numbers of both sides.

Claims are declared in ``experiments/registry.toml`` (read by :mod:`restoration.registry`): pairs of sides, each
a figure optionally qualified (``fig08@pool2``), and the measures to compare (:mod:`restoration.measures`). In
every pair the first side is expected to be better. :func:`judge` compares each pair on each measure and
gives a verdict:

* **held**: the expected side won every comparison;
* **held in part**: it won some and lost others;
* **did not hold**: it lost every comparison;
* an **on par** claim (``on_par`` tolerances) counts a comparison as won when the two values lie within the
  measure's tolerance;
* **not run**: a figure it needs has no completed run (the reason says why: e.g. "needs AlexNet weights"), or
  the run stored none of the measures.

The report never invents a number: every value shown comes from a run's stored summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from restoration import measures
from restoration.registry import Claim, Side

HELD, PART, NOT_HELD, NOT_RUN = "held", "held in part", "did not hold", "not run"


@dataclass(frozen=True)
class Comparison:
    """One measure of one pair: the two values and whether the expected side won (``None``: a value is missing)."""

    measure: str
    better_value: float | None
    worse_value: float | None
    tolerance: float | None = None   # an "on par" claim: won when the two lie within it

    @property
    def won(self) -> bool | None:
        if self.better_value is None or self.worse_value is None:
            return None
        if self.tolerance is not None:
            return abs(self.better_value - self.worse_value) <= self.tolerance
        return measures.get(self.measure).beats(self.better_value, self.worse_value)


@dataclass(frozen=True)
class PairResult:
    better: Side
    worse: Side
    comparisons: tuple[Comparison, ...]

    def won_on(self) -> list[str]:
        return [c.measure for c in self.comparisons if c.won is True]

    def lost_on(self) -> list[str]:
        return [c.measure for c in self.comparisons if c.won is False]


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    status: str
    sentence: str
    pairs: tuple[PairResult, ...] = ()
    reason: str = ""
    runs: dict = field(default_factory=dict)   # figure id -> run id used

    @property
    def wins(self) -> int:
        return sum(len(p.won_on()) for p in self.pairs)

    @property
    def compared(self) -> int:
        return sum(len(p.won_on()) + len(p.lost_on()) for p in self.pairs)


def non_finite_text(v: float) -> str | None:
    """How the report writes an infinite or NaN number ("∞", "−∞", "NaN"); None for a finite one."""
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if math.isnan(v):
        return "NaN"
    return None


def fmt(value: float | None) -> str:
    """A number for running text: four significant digits, no exponent for ordinary magnitudes."""
    if value is None:
        return "n/a"
    v = float(value)
    if non_finite_text(v):
        return non_finite_text(v)
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def value_text(measure: str, value: float | None) -> str:
    unit = measures.get(measure).unit
    return fmt(value) + (f" {unit}" if unit and value is not None else "")


def _number(summary: Mapping | None, key: str) -> float | None:
    if not summary:
        return None
    v = summary.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        return None
    return float(v)


def _listing(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def judge(claim: Claim, summaries: Mapping[str, Mapping | None], reasons: Mapping[str, str] | None = None,
          run_ids: Mapping[str, str] | None = None) -> Verdict:
    """Judge ``claim`` on the summaries of the latest completed runs (figure id -> summary dict or None).

    ``reasons`` (figure id -> why it has no completed run) fill the "not run" verdict.
    """
    reasons = reasons or {}
    runs = {f: (run_ids or {}).get(f) for f in claim.figures}
    missing = [f for f in claim.figures if not summaries.get(f)]
    if missing:
        grouped: dict[str, list[str]] = {}
        for f in missing:
            grouped.setdefault(reasons.get(f) or "no completed run yet", []).append(f)
        why = "; ".join(f"{', '.join(figs)}: {reason}" for reason, figs in grouped.items())
        return Verdict(claim, NOT_RUN, f"“{claim.statement}”: not run ({why}).", reason=why, runs=runs)
    pairs = []
    for better, worse in claim.pairs:
        comps = tuple(Comparison(m, _number(summaries[better.figure], better.key(m)),
                                 _number(summaries[worse.figure], worse.key(m)), claim.tolerance(m))
                      for m in claim.measures)
        pairs.append(PairResult(better, worse, comps))
    pairs = tuple(pairs)
    compared = [c for p in pairs for c in p.comparisons if c.won is not None]
    if not compared:
        why = "the runs stored none of " + ", ".join(str(b) + "/" + str(w) for b, w in claim.pairs) + \
              " for " + ", ".join(claim.measures)
        return Verdict(claim, NOT_RUN, f"“{claim.statement}”: not run ({why}).", pairs, why, runs)
    won = sum(c.won for c in compared)
    status = HELD if won == len(compared) else NOT_HELD if won == 0 else PART
    parts = []
    for p in pairs:
        numbers = "; ".join(f"{measures.label(c.measure, unit=False)} {value_text(c.measure, c.better_value)} vs "
                            f"{value_text(c.measure, c.worse_value)}" for c in p.comparisons if c.won is not None)
        parts.append(f"{p.better} vs {p.worse}: {numbers}")
    lead = {HELD: f"held on all {len(compared)} comparisons",
            NOT_HELD: f"did not hold: the expected better side lost all {len(compared)} comparisons",
            PART: f"held in part ({won} of {len(compared)} comparisons)"}[status]
    return Verdict(claim, status, f"“{claim.statement}” {lead}: {' | '.join(parts)}.", pairs, runs=runs)


def side_labels(pair: PairResult, *, short: bool = False) -> tuple[str, str]:
    """Which measures each side of a pair won, as text."""
    def names(keys):
        return _listing([measures.label(k, unit=False, short=short) for k in keys]) if keys else "none"
    return names(pair.won_on()), names(pair.lost_on())


def pair_numbers(pair: PairResult) -> str:
    """``"PSNR 17.15 vs 16.62 dB · SSIM 0.3859 vs 0.3113"``: both sides' values, measure by measure."""
    parts = []
    for c in pair.comparisons:
        unit = measures.get(c.measure).unit
        parts.append(f"{measures.label(c.measure, unit=False, short=True)} {fmt(c.better_value)} vs "
                     f"{fmt(c.worse_value)}{' ' + unit if unit else ''}")
    return " · ".join(parts)
