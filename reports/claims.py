"""The thesis's claims, judged with evidence: paired effects over replicate seeds and images, intervals, verdicts.

Claims are declared in ``experiments/registry.toml`` (read by :mod:`restoration.contract.registry`): pairs of
sides, each a figure optionally qualified (``fig08@pool2``), and the measures to compare
(:mod:`restoration.contract.measures`). In every pair the first side is expected to be better.

**Which runs.** Only current runs count: made by the code that runs now (their code digest,
:mod:`restoration.code_digest`) and having loaded no prior or stored module made by other code; the report says
how many were left out and why (:func:`current_runs`). Of those, the figure's own runs and the replicate runs of
``make claims`` (a sweep over seeds) all count: :func:`select_arms` groups them by comparability (profile,
precision, image set; :class:`restoration.contract.payload.Comparability`), keeps the group with the most seeds
that every figure of the claim has, and within it the newest run per seed. Runs of one seed share
initialisation, data order and jitter on both sides, so the two sides pair seed by seed, and image by image on
the held-out crops.

**The guard.** A claim whose sides share no such group is *not comparable* and is not judged: the verdict names
the difference ("fig05 bfloat16 vs fig06 float32", a profile changed by ``steps=500``, another image set, or
disjoint seeds). Figures with the same variant vocabulary (e.g. fig05 and fig06 both offer ``final`` and ``may``)
must also have run the same variant.

**The statistic and the verdict** (:mod:`restoration_reports.evidence`, where the tests and their assumptions
are written down): per seed, the mean over images of the paired difference, oriented so that positive means the
expected side is better; the effect is their mean over seeds with a t-interval over seeds. A claim is judged at
the largest *look* (3, 5, 8 or 12 seeds) its stored seeds reach, at the level that keeps its error at 5 % over
all looks (about 98.5 % intervals; TOST intervals for *on par* at about 97 %): *held* when every pair and voting
measure is above the claim's minimum effect (an intersection-union test), *did not hold* when one is below it
(Bonferroni over them), *no practical difference* when all lie within ±delta (0.5 dB PSNR, 0.01 SSIM, ...),
else *inconclusive*, with the number of seeds that would likely decide it; under 3 seeds *exploratory*. Across
claims, Benjamini-Hochberg on the claims' p-values (:func:`across`): a q-value beside each verdict.

**Which measures vote.** PSNR, MSE and the normalised error are monotone in the same per-image MSE, so that
family votes once: on per-image PSNR when the claim names PSNR, and on the thesis's own estimand, the mean MSE
over images compared as a ratio in dB (``mse_db``), when it names MSE alone. The thesis NMSE is not monotone in
the MSE and votes on its own; SSIM and the VGG score too; the rest are shown. A perfect image (infinite PSNR) is
capped at :data:`PSNR_CAP` dB and counted in the note.

A run that stored no per-image scores (made before they existed) is judged on its summary means: one
difference per seed, images unknown.

The report never invents a number: every value shown comes from a run's stored payload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
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
#: a perfect image's PSNR (MSE 0): capped here, and the claim says how many were; 100 dB is an MSE of 6.5e-6,
#: far beyond any reconstruction here (best about 40 dB), so a cap changes no verdict's sign
PSNR_CAP = 100.0


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
    why: str = ""  # why there is no effect, or a note on it (summary means, capped perfect images)
    tests: evidence.OneSided | None = None  # a voting measure's one-sided tests
    min_effect: float = 0.0  # the least effect the claim asserts on this measure

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
    decision: evidence.Decision | None = None  # the claim's test at its look (None: not judged or exploratory)
    stored: int = 0  # seeds stored (the look uses the first ``len(seeds)`` of them)
    more_seeds: int | None = None  # an undecided claim: the look at which it would likely be decided
    left_out: tuple[tuple[str, int], ...] = ()  # runs not counted: (why, how many)
    caveat: str = ""  # what the interval does not cover (e.g. a prior's own training randomness)

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


def _capped(values) -> tuple[np.ndarray, int]:
    """PSNR values with a perfect image (infinite PSNR: MSE 0) at :data:`PSNR_CAP` dB; and how many were capped."""
    v = np.asarray(values, np.float64)
    perfect = np.isposinf(v)
    return np.where(perfect, PSNR_CAP, v), int(perfect.sum())


def _per_image(payload: Payload, side: Side, measure: str) -> tuple[list[str], np.ndarray] | None:
    """Per-image values of ``measure`` on ``side``; PSNR derived from MSE where it is missing (a stored payload
    writes an infinite PSNR as null, so a perfect image comes back through its MSE of 0: +inf, capped later)."""
    got = payload.image_scores(side.key(measure))
    if measure == "psnr_mean":
        mse = payload.image_scores(side.key("mse_mean"))
        if mse is not None:
            with np.errstate(divide="ignore"):
                from_mse = 10 * np.log10(_PEAK**2 / np.asarray(mse[1], np.float64))
            if got is None:
                return mse[0], from_mse
            values = np.asarray(got[1], np.float64)
            by_id = dict(zip(mse[0], from_mse))
            filled = [by_id.get(i, v) if np.isnan(v) else v for i, v in zip(got[0], values)]
            return got[0], np.asarray(filled, np.float64)
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


def _mse_db(better: Mapping[int, ArmRun], worse: Mapping[int, ArmRun], b: Side, w: Side, seeds) -> tuple:
    """The thesis's MSE estimand per seed: ``10 log10(mean MSE of the other side / mean MSE of the expected)``
    over the images both scored (summary means without per-image scores), as ``(seeds, 1)``."""
    rows, note = [], ""
    for s in seeds:
        x = better[s].payload.image_scores(b.key("mse_mean"))
        y = worse[s].payload.image_scores(w.key("mse_mean"))
        if x is not None and y is not None:
            common = sorted(set(x[0]) & set(y[0]))
            bx, wy = dict(zip(*x)), dict(zip(*y))
            mb = float(np.nanmean([bx[i] for i in common])) if common else math.nan
            mw = float(np.nanmean([wy[i] for i in common])) if common else math.nan
        else:
            mb, mw = better[s].payload.value(b.key("mse_mean")), worse[s].payload.value(w.key("mse_mean"))
            note = "summary means"
        if mb is None or mw is None or not (mb > 0 and mw > 0):
            return np.empty((0, 0)), "no positive MSE stored on both sides"
        rows.append([10 * math.log10(mw / mb)])
    return np.asarray(rows, np.float64), note


def paired_differences(
    better: Mapping[int, ArmRun], worse: Mapping[int, ArmRun], b: Side, w: Side, measure: str, seeds=None
) -> tuple[np.ndarray, str]:
    """``(d (seeds, images), note)`` of ``measure`` oriented so that positive favours ``b``; images paired by id
    (those every run scored). Without per-image scores on either side: one summary difference per seed,
    ``(seeds, 1)``, and the note "summary means". ``(empty, why)`` when there is nothing to compare. Perfect
    images (infinite PSNR) are capped at :data:`PSNR_CAP` dB and counted in the note. ``mse_db`` is the
    thesis's MSE estimand (:func:`_mse_db`)."""
    seeds = sorted(set(better) & set(worse)) if seeds is None else list(seeds)
    if measure == "mse_db":
        return _mse_db(better, worse, b, w, seeds)
    m = measures.get(measure)
    rows = [(_per_image(better[s].payload, b, measure), _per_image(worse[s].payload, w, measure)) for s in seeds]
    if rows and all(x is not None and y is not None for x, y in rows):
        common = set(rows[0][0][0])
        for x, y in rows:
            common &= set(x[0]) & set(y[0])
        ids = sorted(common)
        if not ids:
            return np.empty((0, 0)), "the two sides scored no image in common"
        capped = 0
        table = []
        for x, y in rows:
            bx, wy = dict(zip(*x)), dict(zip(*y))
            xs, ys = np.array([bx[i] for i in ids]), np.array([wy[i] for i in ids])
            if m.unit == "dB":
                (xs, cx), (ys, cy) = _capped(xs), _capped(ys)
                capped += cx + cy
            table.append([m.oriented(u, v) for u, v in zip(xs, ys)])
        d = np.asarray(table, np.float64)
        note = f"{capped} perfect image score{'s' if capped != 1 else ''} (infinite PSNR) capped at {PSNR_CAP:g} dB"
        return np.where(np.isfinite(d), d, np.nan), note if capped else ""
    values = [
        (_summary_value(better[s].payload, b, measure), _summary_value(worse[s].payload, w, measure)) for s in seeds
    ]
    if not values or any(x is None or y is None for x, y in values):
        return np.empty((0, 0)), f"no {measures.label(measure, unit=False, short=True)} stored"
    return np.array([[m.oriented(x, y)] for x, y in values]), "summary means"


def _side_mean(runs: Mapping[int, ArmRun], side: Side, measure: str) -> float | None:
    base = "mse_mean" if measure == "mse_db" else measure
    vals = [_summary_value(r.payload, side, base) for r in runs.values()]
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def measure_effect(
    claim: Claim, arms, b: Side, w: Side, measure: str, votes: bool, look: evidence.Look | None = None, seeds=None
) -> MeasureEffect:
    """The effect of one measure of one pair on ``seeds`` (all common seeds by default), its interval at the
    look's level (95 % before the first look) and, for a voting measure, its tests and own verdict."""
    tol = claim.tolerance(measure)
    minimum = claim.minimum(measure)
    chosen = {f: {s: r for s, r in runs.items() if seeds is None or s in seeds} for f, runs in arms.items()}
    means = (_side_mean(chosen[b.figure], b, measure), _side_mean(chosen[w.figure], w, measure))
    try:
        d, note = paired_differences(chosen[b.figure], chosen[w.figure], b, w, measure, seeds)
    except ValueError as e:
        return MeasureEffect(measure, votes, None, SHOWN, *means, tol, str(e), min_effect=minimum)
    if d.size == 0:
        return MeasureEffect(measure, votes, None, SHOWN, *means, tol, note, min_effect=minimum)
    alpha = look.alpha if look is not None else evidence.ALPHA
    level = 1 - 2 * alpha if (tol is not None and votes) else 1 - alpha
    delta = tol if tol is not None else measures.get(measure).delta
    try:
        effect = evidence.paired_effect(d, level=level)
        found = evidence.one_sided(effect, delta=delta, min_effect=minimum) if votes else None
    except ValueError as e:
        return MeasureEffect(measure, votes, None, SHOWN, *means, tol, str(e), min_effect=minimum)
    if not votes or delta is None and tol is None:
        status = SHOWN
    elif tol is not None:
        status = evidence.equivalent(effect, tol)
    else:
        status = evidence.verdict(effect, delta, minimum)
    if note == "summary means":
        effect = replace(effect, n_images=0, method=effect.method + ", summary means")
    return MeasureEffect(measure, votes, effect, status, *means, tol, note, found, minimum)


def claim_measures(claim: Claim) -> tuple[list[str], list[str]]:
    """``(voting, shown)``: the measures that decide (one per family, judged on its voter) and the others."""
    voting = measures.voters(claim.measures)
    shown = [m for m in claim.measures if m not in voting]
    return voting, shown


def judge(
    claim: Claim,
    candidates: Mapping[str, Sequence[ArmRun]],
    reasons: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
) -> Verdict:
    """Judge ``claim`` on the completed runs of its figures (figure id -> runs, newest first); ``reasons``
    (figure id -> why it has no completed run) fill the "not run" verdict; ``code``: the current code digest
    (:func:`restoration.code_digest.code_digest`), when given only runs made by it (and by inputs it made) count,
    and the others are counted in ``left_out``."""
    reasons = reasons or {}
    candidates, left_out = current_runs(candidates, code)
    missing = [f for f in claim.figures if not candidates.get(f)]
    if missing:
        grouped: dict[str, list[str]] = {}
        fallback = "no completed run of the current code" if left_out else "no completed run yet"
        for f in missing:
            grouped.setdefault(reasons.get(f) or fallback, []).append(f)
        why = "; ".join(f"{', '.join(figs)}: {reason}" for reason, figs in grouped.items())
        return Verdict(claim, NOT_RUN, f"“{claim.statement}”: not run ({why}).", reason=why, left_out=left_out)
    arms, why = select_arms(claim, candidates)
    if not arms:
        return Verdict(
            claim,
            NOT_COMPARABLE,
            f"“{claim.statement}”: not comparable ({why}); not judged.",
            reason=why,
            left_out=left_out,
        )
    stored = tuple(sorted(next(iter(arms.values()))))
    look = evidence.look_for(len(stored))
    seeds = stored[: look.n] if look else stored
    voting, shown = claim_measures(claim)
    pairs = tuple(
        PairResult(
            b,
            w,
            tuple(measure_effect(claim, arms, b, w, m, True, look, seeds) for m in voting)
            + tuple(measure_effect(claim, arms, b, w, m, False, look, seeds) for m in shown),
        )
        for b, w in claim.pairs
    )
    runs = {f: [arms[f][s].run_id for s in seeds] for f in claim.figures}
    group = next(iter(next(iter(arms.values())).values())).group
    decided = [e for p in pairs for e in p.voting if e.effect is not None]
    if not decided:
        why = "; ".join(dict.fromkeys(e.why for p in pairs for e in p.voting if e.why)) or "nothing to compare"
        return Verdict(
            claim,
            NOT_RUN,
            f"“{claim.statement}”: not run ({why}).",
            pairs,
            why,
            runs,
            seeds,
            group=group,
            left_out=left_out,
        )
    n_images = max(e.effect.n_images for e in decided)
    voters = [e for p in pairs for e in p.voting]
    decision = None
    if look is None:
        status = EXPLORATORY
    else:
        decision = evidence.decide(
            [e.tests if e.tests is not None else evidence.OneSided.none() for e in voters],
            look,
            on_par=bool(claim.on_par),
        )
        status = decision.status
    priors = sorted({p for f in arms for r in arms[f].values() for p in r.payload.comparable.priors.split(", ") if p})
    caveat = (
        f"The priors ({', '.join(priors)}) were trained once and loaded by name: the interval covers the "
        f"inversions' seeds, not the priors' own training randomness, so it is too narrow for a claim about the "
        f"priors; their weights share one scale, tuned for full512 only."
        if priors
        else ""
    )
    verdict = Verdict(
        claim,
        status,
        "",
        pairs,
        runs=runs,
        seeds=seeds,
        n_images=n_images,
        group=group,
        decision=decision,
        stored=len(stored),
        more_seeds=_more_seeds(claim, voters) if status in (INCONCLUSIVE, NOT_ON_PAR, EXPLORATORY) else None,
        left_out=left_out,
        caveat=caveat,
    )
    return replace(verdict, sentence=_sentence(verdict))


def _more_seeds(claim: Claim, voters: Sequence[MeasureEffect]) -> int | None:
    """The look at which the claim would likely be decided at its measured means and spreads (None: not by the
    last look, or no spread to go on)."""
    if any(e.effect is None for e in voters):
        return None
    return evidence.seeds_to_decide(
        [e.effect for e in voters],
        deltas=[e.delta for e in voters],
        min_effects=[e.min_effect for e in voters],
        on_par=bool(claim.on_par),
    )


def current_runs(
    candidates: Mapping[str, Sequence[ArmRun]], code: str | None
) -> tuple[dict[str, list[ArmRun]], tuple[tuple[str, int], ...]]:
    """``(the runs made by the current code, ((why, how many), ...) of those left out)``; every run counts when
    ``code`` is None."""
    if code is None:
        return {f: list(r) for f, r in candidates.items()}, ()
    kept: dict[str, list[ArmRun]] = {}
    out: dict[str, int] = {}
    for f, runs in candidates.items():
        kept[f] = []
        for r in runs:
            c = r.payload.comparable
            if not c.code:
                why = "made before code digests were recorded"
            elif c.code != code:
                why = f"made by other code (#{c.code})"
            elif c.stale_inputs:
                why = f"loaded {c.stale_inputs} made by other code"
            else:
                kept[f].append(r)
                continue
            out[why] = out.get(why, 0) + 1
    return kept, tuple(out.items())


def across(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The verdicts with Benjamini-Hochberg across the decided-or-not judged claims (:func:`evidence.across_claims`):
    each gets its q-value, and a claim that does not survive becomes inconclusive."""
    verdicts = list(verdicts)
    at = [i for i, v in enumerate(verdicts) if v.decision is not None]
    adjusted = evidence.across_claims([verdicts[i].decision for i in at])
    for i, d in zip(at, adjusted):
        v = replace(verdicts[i], status=d.status, decision=d)
        if d.status in (INCONCLUSIVE, NOT_ON_PAR) and v.more_seeds is None:
            v = replace(v, more_seeds=_more_seeds(v.claim, [e for p in v.pairs for e in p.voting]))
        verdicts[i] = replace(v, sentence=_sentence(v))
    return verdicts


def _sentence(v: Verdict) -> str:
    seeds, n_images = v.seeds, v.n_images
    n = (
        f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} x {n_images} images"
        if n_images
        else f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}, summary means"
    )
    parts = []
    for p in v.pairs:
        parts.append(
            f"{p.better} vs {p.worse}: "
            + "; ".join(
                f"{measures.label(e.measure, unit=False, short=True)} {effect_text(e)}"
                + (f" {e.verdict}" if e.votes else "")
                for e in p.effects
            )
        )
    levels = sorted(
        {e.effect.level_text() for p in v.pairs for e in p.effects if e.effect and e.effect.low is not None}
    )
    how = f"{n}; {' / '.join(levels)} intervals" if levels else n
    if v.decision is not None:
        how += f"; {v.decision.text()}"
    tail = ""
    if v.more_seeds:
        tail = f" About {v.more_seeds} seeds would likely decide it at the measured spread."
    elif v.status in (INCONCLUSIVE, NOT_ON_PAR) and v.decision is not None:
        tail = f" Not likely decided by {evidence.LOOKS[-1]} seeds at the measured spread."
    caveat = f" {v.caveat}" if v.caveat else ""
    return f"“{v.claim.statement}”: {v.status} ({how}): {' | '.join(parts)}.{tail}{caveat}"


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
