"""The thesis's claims, judged with evidence: paired effects over replicate seeds and images, intervals, verdicts.

Claims are declared in ``experiments/registry.toml`` (read by :mod:`restoration.contract.registry`): pairs of
sides, each a figure optionally qualified (``fig08@pool2``), and the measures to compare
(:mod:`restoration.contract.measures`). In every pair the first side is expected to be better.

**Which runs.** Every completed run of a claim's figures counts (the figure's own runs and the replicate runs of
``make claims``, a sweep over seeds): :func:`select_arms` groups them by comparability (profile, precision,
image set; :class:`restoration.contract.payload.Comparability`), keeps the group with the most seeds that every
figure of the claim has, and within it the newest run per seed. Runs of one seed share initialisation, data order and
jitter on both sides, so the two sides pair seed by seed, and image by image on the held-out crops.

**The guard.** A claim whose sides share no such group is *not comparable* and is not judged: the verdict names
the difference ("fig05 bfloat16 vs fig06 float32", a profile changed by ``steps=500``, another image set, or
disjoint seeds). Figures with the same variant vocabulary (e.g. fig05 and fig06 both offer ``final`` and ``may``)
must also have run the same variant.

**The statistic** (:mod:`restoration_reports.evidence`): per seed, the mean over images of the paired difference,
oriented so that positive means the expected side is better; the effect is their mean over seeds with a 95 % t-interval
over seeds (a paired BCa bootstrap from 10 seeds).

**Verdicts.** Per voting measure: *held* (interval above 0), *did not hold* (below 0), *no practical difference*
(the whole interval within the measure's ±delta: 0.5 dB PSNR, 0.01 SSIM, ...), *inconclusive* (otherwise), and
*exploratory (1 seed)* with one seed: never held. A claim holds only if every pair holds on every voting measure,
and did not hold as soon as one pair did not hold on one voting measure (a claim is a conjunction)
(:func:`restoration_reports.evidence.combine`). Only non-redundant measures vote: PSNR, MSE and the normalised errors
are monotone in the same per-image MSE, so that family votes once, on PSNR per image (an MSE claim is judged in dB);
SSIM and the VGG score vote on their own; the rest are shown. An *on par* claim (``on_par`` tolerances) is a
TOST equivalence test at its tolerance: *on par* or *not shown on par*.

A run that stored no per-image scores (made before they existed) is judged on its summary means: one
difference per seed, images unknown.

The report never invents a number: every value shown comes from a run's stored payload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from restoration_reports import evidence
from restoration.contract import measures
from restoration.contract.payload import Payload
from restoration.contract.registry import Claim, Side

HELD, NOT_HELD, NO_DIFF, INCONCLUSIVE, EXPLORATORY = (
    evidence.HELD,
    evidence.NOT_HELD,
    evidence.NO_DIFF,
    evidence.INCONCLUSIVE,
    evidence.EXPLORATORY,
)
ON_PAR, NOT_ON_PAR = evidence.ON_PAR, evidence.NOT_ON_PAR
NOT_RUN, NOT_COMPARABLE, SHOWN = "not run", "not comparable", "shown"
#: the order in which the summary counts verdicts
ORDER = (HELD, NOT_HELD, NO_DIFF, ON_PAR, NOT_ON_PAR, INCONCLUSIVE, EXPLORATORY, NOT_COMPARABLE, NOT_RUN)
_PEAK = 255.0


@dataclass(frozen=True)
class ArmRun:
    """One completed run of a claim's figure: its id, seed and payload (summary, per-image scores,
    comparability)."""

    run_id: str
    payload: Payload

    @property
    def seed(self) -> int | None:
        return self.payload.seed

    @property
    def group(self) -> tuple[str, str, str]:
        c = self.payload.comparable
        return c.profile, c.precision, c.image_set


@dataclass(frozen=True)
class MeasureEffect:
    """One measure of one pair: the effect over seeds x images (positive: the expected side is better), its
    verdict (``"shown"`` for a measure that does not vote) and both sides' means."""

    measure: str
    votes: bool
    effect: evidence.Effect | None
    verdict: str
    better_mean: float | None = None
    worse_mean: float | None = None
    tolerance: float | None = None
    why: str = ""  # why there is no effect

    @property
    def delta(self) -> float | None:
        return self.tolerance if self.tolerance is not None else measures.get(self.measure).delta


@dataclass(frozen=True)
class PairResult:
    better: Side
    worse: Side
    effects: tuple[MeasureEffect, ...]

    @property
    def voting(self) -> tuple[MeasureEffect, ...]:
        return tuple(e for e in self.effects if e.votes)


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    status: str
    sentence: str
    pairs: tuple[PairResult, ...] = ()
    reason: str = ""
    runs: dict = field(default_factory=dict)  # figure id -> [run id, ...] used, seed order
    seeds: tuple[int, ...] = ()
    n_images: int = 0
    group: tuple[str, str, str] = ("", "", "")  # profile, precision, image set of the runs judged

    @property
    def judged(self) -> bool:
        return self.status not in (NOT_RUN, NOT_COMPARABLE)


# ----------------------------------------------------------------------------------------------------------
# Numbers as text
# ----------------------------------------------------------------------------------------------------------


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


def _digits(measure: str) -> int:
    return 2 if measures.get(measure).unit == "dB" else 3


def effect_text(e: MeasureEffect) -> str:
    """``"+1.21 dB [+0.40, +2.02]"``; ``"+0.8 dB (1 seed)"``; ``"n/a (why)"``."""
    if e.effect is None:
        return f"n/a ({e.why})" if e.why else "n/a"
    d = _digits(e.measure)
    unit = measures.get(e.measure).unit
    u = f" {unit}" if unit else ""
    if e.effect.low is None:
        return f"{e.effect.mean:+.{d}f}{u} (1 seed)"
    return f"{e.effect.mean:+.{d}f}{u} [{e.effect.low:+.{d}f}, {e.effect.high:+.{d}f}]"


# ----------------------------------------------------------------------------------------------------------
# Choosing the runs
# ----------------------------------------------------------------------------------------------------------


def _describe_difference(claim: Claim, candidates: Mapping[str, Sequence[ArmRun]]) -> str:
    """``"fig05 bfloat16 vs fig06 float32"``: how the newest runs of the claim's figures differ."""
    newest = {f: candidates[f][0] for f in claim.figures if candidates.get(f)}
    figs = [f for f in claim.figures if f in newest]
    first = newest[figs[0]].payload.comparable
    parts = []
    for f in figs[1:]:
        other = newest[f].payload.comparable
        for name, a, b in first.differences(other):
            what = {"profile": "profile ", "precision": "", "image_set": "images ", "variant": "variant "}[name]
            parts.append(f"{figs[0]} {what}{a} vs {f} {what}{b}")
    if parts:
        return "; ".join(dict.fromkeys(parts))
    seeds = {f: sorted({r.seed for r in candidates[f] if r.seed is not None}) for f in figs}
    return "no seed in common: " + " vs ".join(
        f"{f} seeds {', '.join(map(str, s)) or 'not recorded'}" for f, s in seeds.items()
    )


def _variant_clash(claim: Claim, arms: Mapping[str, Mapping[int, ArmRun]]) -> str:
    """Sides of figures that offer the same variants but ran different ones."""
    seen: dict[str, tuple[str, str]] = {}
    for f in claim.figures:
        run = next(iter(arms[f].values()))
        c = run.payload.comparable
        if not c.variants or not c.variant:
            continue
        if c.variants in seen and seen[c.variants][1] != c.variant:
            other, variant = seen[c.variants]
            return f"{other} variant {variant} vs {f} variant {c.variant}"
        seen.setdefault(c.variants, (f, c.variant))
    return ""


def select_arms(claim: Claim, candidates: Mapping[str, Sequence[ArmRun]]) -> tuple[dict[str, dict[int, ArmRun]], str]:
    """``({figure: {seed: run}}, "")`` for the comparable group with the most common seeds (newest run per
    seed), or ``({}, why)`` when the claim's figures share no group (the guard). ``candidates`` are newest
    first."""
    groups: dict[tuple, dict[str, dict[int, ArmRun]]] = {}
    newest_group: dict[tuple, int] = {}
    for f in claim.figures:
        for rank, run in enumerate(candidates.get(f, ())):
            if run.seed is None:
                continue
            by_seed = groups.setdefault(run.group, {}).setdefault(f, {})
            by_seed.setdefault(run.seed, run)
            newest_group[run.group] = min(newest_group.get(run.group, rank), rank)
    best, best_key = None, None
    for key, by_fig in groups.items():
        if set(by_fig) != set(claim.figures):
            continue
        common = set.intersection(*(set(s) for s in by_fig.values()))
        if not common:
            continue
        score = (len(common), -newest_group[key])
        if best is None or score > best:
            best, best_key = score, key
    if best_key is None:
        return {}, _describe_difference(claim, candidates)
    by_fig = groups[best_key]
    common = sorted(set.intersection(*(set(s) for s in by_fig.values())))
    arms = {f: {s: by_fig[f][s] for s in common} for f in claim.figures}
    clash = _variant_clash(claim, arms)
    if clash:
        return {}, clash
    return arms, ""


# ----------------------------------------------------------------------------------------------------------
# The statistic
# ----------------------------------------------------------------------------------------------------------


def _per_image(payload: Payload, side: Side, measure: str) -> tuple[list[str], np.ndarray] | None:
    """Per-image values of ``measure`` on ``side``; PSNR derived from MSE when only MSE is stored."""
    got = payload.image_scores(side.key(measure))
    if got is None and measure == "psnr_mean":
        mse = payload.image_scores(side.key("mse_mean"))
        if mse is not None:
            with np.errstate(divide="ignore"):
                return mse[0], 10 * np.log10(_PEAK**2 / np.asarray(mse[1], np.float64))
    if got is None:
        return None
    return got[0], np.asarray(got[1], np.float64)


def _summary_value(payload: Payload, side: Side, measure: str) -> float | None:
    v = payload.value(side.key(measure))
    if v is None and measure == "psnr_mean":
        mse = payload.value(side.key("mse_mean"))
        if mse is not None and mse > 0:
            return float(10 * math.log10(_PEAK**2 / mse))
    return v


def paired_differences(
    better: Mapping[int, ArmRun], worse: Mapping[int, ArmRun], b: Side, w: Side, measure: str
) -> tuple[np.ndarray, str]:
    """``(d (seeds, images), "")`` of ``measure`` oriented so that positive favours ``b``; images paired by id
    (those every run scored). Without per-image scores on either side: one summary difference per seed,
    ``(seeds, 1)``, and the note "summary means". ``(empty, why)`` when there is nothing to compare."""
    m = measures.get(measure)
    seeds = sorted(set(better) & set(worse))
    rows = [(_per_image(better[s].payload, b, measure), _per_image(worse[s].payload, w, measure)) for s in seeds]
    if rows and all(x is not None and y is not None for x, y in rows):
        common = set(rows[0][0][0])
        for x, y in rows:
            common &= set(x[0]) & set(y[0])
        ids = sorted(common)
        if not ids:
            return np.empty((0, 0)), "the two sides scored no image in common"
        d = np.array([[m.oriented(dict(zip(*x))[i], dict(zip(*y))[i]) for i in ids] for x, y in rows])
        return np.where(np.isfinite(d), d, np.nan), ""
    values = [
        (_summary_value(better[s].payload, b, measure), _summary_value(worse[s].payload, w, measure)) for s in seeds
    ]
    if not values or any(x is None or y is None for x, y in values):
        return np.empty((0, 0)), f"no {measures.label(measure, unit=False, short=True)} stored"
    return np.array([[m.oriented(x, y)] for x, y in values]), "summary means"


def _side_mean(runs: Mapping[int, ArmRun], side: Side, measure: str) -> float | None:
    vals = [_summary_value(r.payload, side, measure) for r in runs.values()]
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def measure_effect(claim: Claim, arms, b: Side, w: Side, measure: str, votes: bool) -> MeasureEffect:
    """The effect of one measure of one pair, and its verdict."""
    tol = claim.tolerance(measure)
    means = (_side_mean(arms[b.figure], b, measure), _side_mean(arms[w.figure], w, measure))
    try:
        d, note = paired_differences(arms[b.figure], arms[w.figure], b, w, measure)
    except ValueError as e:
        return MeasureEffect(measure, votes, None, SHOWN, *means, tol, str(e))
    if d.size == 0:
        return MeasureEffect(measure, votes, None, SHOWN, *means, tol, note)
    try:
        if tol is not None and votes:
            status, effect = evidence.equivalent(d, tol)
        else:
            effect = evidence.paired_effect(d)
            delta = measures.get(measure).delta
            status = evidence.verdict(effect, delta) if votes and delta is not None else SHOWN
    except ValueError as e:
        return MeasureEffect(measure, votes, None, SHOWN, *means, tol, str(e))
    if note == "summary means":
        effect = evidence.Effect(
            effect.mean, effect.low, effect.high, effect.n_seeds, 0, effect.method + ", summary means", effect.level
        )
    return MeasureEffect(measure, votes, effect, status, *means, tol, note)


def claim_measures(claim: Claim) -> tuple[list[str], list[str]]:
    """``(voting, shown)``: the measures that decide (one per family, judged on its voter) and the others."""
    voting = measures.voters(claim.measures)
    shown = [m for m in claim.measures if m not in voting]
    return voting, shown


def judge(
    claim: Claim, candidates: Mapping[str, Sequence[ArmRun]], reasons: Mapping[str, str] | None = None
) -> Verdict:
    """Judge ``claim`` on the completed runs of its figures (figure id -> runs, newest first); ``reasons``
    (figure id -> why it has no completed run) fill the "not run" verdict."""
    reasons = reasons or {}
    missing = [f for f in claim.figures if not candidates.get(f)]
    if missing:
        grouped: dict[str, list[str]] = {}
        for f in missing:
            grouped.setdefault(reasons.get(f) or "no completed run yet", []).append(f)
        why = "; ".join(f"{', '.join(figs)}: {reason}" for reason, figs in grouped.items())
        return Verdict(claim, NOT_RUN, f"“{claim.statement}”: not run ({why}).", reason=why)
    arms, why = select_arms(claim, candidates)
    if not arms:
        return Verdict(claim, NOT_COMPARABLE, f"“{claim.statement}”: not comparable ({why}); not judged.", reason=why)
    voting, shown = claim_measures(claim)
    pairs = tuple(
        PairResult(
            b,
            w,
            tuple(measure_effect(claim, arms, b, w, m, True) for m in voting)
            + tuple(measure_effect(claim, arms, b, w, m, False) for m in shown),
        )
        for b, w in claim.pairs
    )
    seeds = tuple(sorted(next(iter(arms.values()))))
    runs = {f: [arms[f][s].run_id for s in seeds] for f in claim.figures}
    group = next(iter(next(iter(arms.values())).values())).group
    decided = [e for p in pairs for e in p.voting if e.effect is not None]
    if not decided:
        why = "; ".join(dict.fromkeys(e.why for p in pairs for e in p.voting if e.why)) or "nothing to compare"
        return Verdict(claim, NOT_RUN, f"“{claim.statement}”: not run ({why}).", pairs, why, runs, seeds, group=group)
    n_images = max(e.effect.n_images for e in decided)
    status = _combine(claim, [e.verdict for p in pairs for e in p.voting])
    return Verdict(
        claim,
        status,
        _sentence(claim, status, pairs, seeds, n_images),
        pairs,
        runs=runs,
        seeds=seeds,
        n_images=n_images,
        group=group,
    )


def _combine(claim: Claim, verdicts: list[str]) -> str:
    if any(v == SHOWN for v in verdicts):  # a voting measure without a number: the claim is open
        verdicts = [INCONCLUSIVE if v == SHOWN else v for v in verdicts]
    if claim.on_par:
        if any(v == EXPLORATORY for v in verdicts):
            return EXPLORATORY
        return ON_PAR if all(v == ON_PAR for v in verdicts) else NOT_ON_PAR
    return evidence.combine(verdicts)


def _sentence(claim: Claim, status: str, pairs, seeds, n_images) -> str:
    n = (
        f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} x {n_images} images"
        if n_images
        else f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}, summary means"
    )
    parts = []
    for p in pairs:
        parts.append(
            f"{p.better} vs {p.worse}: "
            + "; ".join(
                f"{measures.label(e.measure, unit=False, short=True)} {effect_text(e)}"
                + (f" {e.verdict}" if e.votes else "")
                for e in p.effects
            )
        )
    return f"“{claim.statement}”: {status} ({n}; 95 % intervals): {' | '.join(parts)}."


def counts(verdicts: Sequence[Verdict]) -> list[tuple[str, int]]:
    """``[(verdict, how many), ...]`` in :data:`ORDER`, only those that occur."""
    tally = {s: 0 for s in ORDER}
    for v in verdicts:
        tally[v.status] = tally.get(v.status, 0) + 1
    return [(s, n) for s, n in tally.items() if n]


def pair_numbers(pair: PairResult) -> str:
    """``"PSNR +1.21 dB [+0.40, +2.02] held · SSIM +0.012 [...] inconclusive · norm. error +0.004 [...]"``."""
    return " · ".join(
        f"{measures.label(e.measure, unit=False, short=True)} {effect_text(e)}" + (f" {e.verdict}" if e.votes else "")
        for e in pair.effects
    )


def frame(verdicts: Sequence[Verdict]):
    """The verdicts as a ``pandas.DataFrame``, one row per claim: its id, verdict, seeds x images, the runs'
    group and each pair's voting effects as text (what the report's claims table shows)."""
    import pandas as pd

    rows = []
    for v in verdicts:
        effects = "; ".join(
            f"{p.better.figure} vs {p.worse.figure}: " + ", ".join(f"{e.measure} {effect_text(e)}" for e in p.voting)
            for p in v.pairs
        )
        rows.append(
            {
                "claim": v.claim.id,
                "verdict": v.status,
                "seeds": len(v.seeds),
                "images": v.n_images,
                "precision": v.group[1],
                "effects": effects or v.reason,
                "statement": v.claim.statement,
            }
        )
    return pd.DataFrame(rows, columns=["claim", "verdict", "seeds", "images", "precision", "effects", "statement"])
