"""The statistics of a verdict: paired effects over replicate seeds, their intervals, the tests a claim's verdict
rests on, the sequential design that lets ``make claims`` add seeds where they decide, and the correction across
claims. Pure numpy/scipy (``scipy.stats.ttest_1samp``, ``t.interval``, ``false_discovery_control``).

A claim compares two sides run with the same seeds on the same images. For each seed ``s`` and image ``i`` the
paired difference ``d[s, i]`` is oriented so that positive means the expected side is better (for PSNR: expected
minus other). The effect is the mean over images within a seed, then over seeds.

**The unit is the seed.** Images are not independent replicates of a claim (the same few photos in every seed) and
most of the spread is training's (issue 28: seed SD 1-3 dB against a seed x image spread an order smaller), so the
per-seed mean is the observation: the first level of rliable's stratified scheme (Agarwal et al., NeurIPS 2021).

**The interval and the tests** are Student-t over the per-seed means at every number of seeds. Assumptions: seeds
are independent draws of the training randomness (a run's seed reaches initialisation, data order and jitter), and
their means are close enough to normal for the t-statistic; the calibration tests in ``tests/reports`` simulate
the rules under log-normal, Student-t(3) and two-level (bimodal) seed noise at the spreads measured here and check
the error rates stay at or below nominal. A bootstrap over 3-12 seeds has too few distinct resamples to be honest
(3 seeds: 10), and BCa from 10 seeds on was measured liberal (5 % one-sided at 2.5 % nominal), so none is used.
Zero spread across two or more seeds is refused: identical results are not replicates (the seed did not reach
the run), and a zero-width interval would decide anything.

**Within a claim** (a conjunction: every pair, every voting measure, written ``j = 1..J``):

* *held*: an intersection-union test (Berger 1982): every ``mu_j > m_j`` (``m_j`` the claim's minimum effect,
  0 unless its words ask for "much"), so ``p_held = max_j p_j`` with no penalty for ``J``;
* *did not hold*: some ``mu_j < m_j``, a union: Bonferroni, ``p_not = min(1, J min_j p_j)``, and for ``J > 1``
  at ``ALPHA / len(LOOKS)`` rather than the look's level (Bonferroni over the looks too: see :func:`decide`);
* *no practical difference*: every ``|mu_j| < delta_j`` (TOST per ``j``, intersection-union again);
* the claim's p-value is ``min(1, 2 min(p_held, p_not, p_nodiff))`` (the factor 2: the decisions are exclusive
  directions, as a two-sided test), and the verdict is the one with the smallest p when that p is below the
  look's level; else *inconclusive*.
* *on par* claims (TOST at their tolerances): on par when ``max_j`` of the TOST p-values is below the level.

**Sequential design.** A claim is judged at *looks*, :data:`LOOKS` seeds (3, 5, 8, 12): the largest look at or
below the seeds stored, on its first seeds. Every look uses the same nominal level :data:`NOMINAL_ALPHA` (Pocock
1977), chosen by simulating t-statistics over all looks so that the chance of any false verdict over the whole
sequence is :data:`ALPHA` (5 %): adding seeds and looking again does not inflate the error, and ``make claims``
may stop a claim as soon as it is decided. Intervals are shown at that level (about 97.8 %), labelled so.

**Across claims**: Benjamini-Hochberg on the claim p-values (:func:`across_claims`), each scaled to the whole
sequence (``p ALPHA / nominal``, a valid p-value by the union bound), false discovery rate 5 %. BH assumes
independent or positively dependent p-values; claims that share a figure share its runs, which is positive
dependence for claims in the same direction (Benjamini & Yekutieli 2001, PRDS); the q-value stands beside each
verdict, and a claim whose q is not below 5 % is *inconclusive* whatever its own p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HELD, NOT_HELD, NO_DIFF, INCONCLUSIVE, EXPLORATORY = (
    "held",
    "did not hold",
    "no practical difference",
    "inconclusive",
    "exploratory (under 3 seeds)",
)
ON_PAR, NOT_ON_PAR = "on par", "not shown on par"
#: the chance of any false verdict of one claim over all its looks; and the false discovery rate across claims
ALPHA = 0.05
#: the numbers of seeds at which a claim is judged: ``make claims`` runs 3 seeds for every claim, then adds seeds
#: to the claims closest to a decision, up to the next look; beyond the last, a claim stays inconclusive
LOOKS = (3, 5, 8, 12)
#: the two-sided level of every look: :func:`derive_nominal_alpha` of :data:`LOOKS` and :data:`ALPHA` (400,000
#: simulated paths: 0.01554; the test re-derives it, so a change of the looks must change this number)
NOMINAL_ALPHA = 0.0155


def derive_nominal_alpha(looks: tuple[int, ...] = LOOKS, alpha: float = ALPHA, paths: int = 400_000) -> float:
    """The two-sided level each look uses so that over all ``looks`` the chance of a false rejection is ``alpha``:
    the ``alpha`` quantile of the smallest two-sided t-test p-value over the looks of simulated null paths of
    normal per-seed means with unknown variance (a Pocock boundary on the t scale). Deterministic (seeded)."""
    from scipy import stats

    if not looks or list(looks) != sorted(set(looks)) or looks[0] < 2:
        raise ValueError(f"looks={looks!r}: increasing numbers of seeds, the first >= 2")
    x = np.random.default_rng(20261208).standard_normal((paths, looks[-1]))
    total, squares = np.cumsum(x, axis=1), np.cumsum(x * x, axis=1)
    smallest = np.ones(paths)
    for n in looks:
        mean = total[:, n - 1] / n
        sd = np.sqrt(np.maximum(squares[:, n - 1] - n * mean**2, 1e-300) / (n - 1))
        p = 2 * stats.t.sf(np.abs(mean / (sd / np.sqrt(n))), n - 1)
        smallest = np.minimum(smallest, p)
    return float(np.quantile(smallest, alpha))


@dataclass(frozen=True)
class Look:
    """The look a claim is judged at: its number (1-based), the seeds it uses and the two-sided level."""

    index: int
    n: int
    alpha: float

    def text(self) -> str:
        return f"look {self.index} of {len(LOOKS)}, {self.n} seeds"


def look_for(n_seeds: int) -> Look | None:
    """The largest look at or below ``n_seeds``; ``None`` below the first (exploratory)."""
    done = [n for n in LOOKS if n <= n_seeds]
    if not done:
        return None
    return Look(len(done), done[-1], NOMINAL_ALPHA)


def next_look(n_seeds: int) -> int | None:
    """The seeds of the next look after ``n_seeds``; ``None`` after the last."""
    return next((n for n in LOOKS if n > n_seeds), None)


@dataclass(frozen=True)
class Effect:
    """A paired effect: its mean, its interval (``None`` with one seed), what it rests on and how it was made;
    ``seed_means`` are the per-seed means it was computed from (what the tests and the seed estimate read)."""

    mean: float
    low: float | None
    high: float | None
    n_seeds: int
    n_images: int
    method: str
    level: float = 0.95
    seed_means: tuple[float, ...] = ()

    @property
    def sd(self) -> float | None:
        """The SD of the per-seed means (``None`` below two seeds)."""
        return float(np.std(self.seed_means, ddof=1)) if len(self.seed_means) > 1 else None

    def level_text(self) -> str:
        """``"97.8 %"``: the interval's level, as precise as it needs to be to be true."""
        pct = 100 * self.level
        return f"{pct:.0f} %" if abs(pct - round(pct)) < 0.05 else f"{pct:.1f} %"

    def text(self, unit: str = "", digits: int = 2) -> str:
        u = f" {unit}" if unit else ""
        if self.low is None:
            return f"{self.mean:+.{digits}f}{u} ({self.n_seeds} seed x {self.n_images} images, no interval)"
        return (
            f"{self.mean:+.{digits}f}{u} [{self.low:+.{digits}f}, {self.high:+.{digits}f}] "
            f"({self.n_seeds} seeds x {self.n_images} images, {self.level_text()} {self.method})"
        )


def per_seed_means(diffs) -> np.ndarray:
    """``diffs (seeds, images)`` -> the mean over images of each seed (NaN images, a missing crop, are left out)."""
    d = np.asarray(diffs, np.float64)
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
        raise ValueError(
            f"paired differences must be a (seeds, images) array with at least one of each; got shape {d.shape}"
        )
    if np.isinf(d).any():
        raise ValueError("an infinite paired difference; cap the measure first (claims cap PSNR, saying so)")
    finite = np.isfinite(d)
    if not finite.any(axis=1).all():
        raise ValueError("a seed has no finite paired difference; check that both sides scored the same images")
    return np.array([row[ok].mean() for row, ok in zip(d, finite)])


def _check_spread(m: np.ndarray) -> None:
    if len(m) > 1 and float(np.ptp(m)) <= 1e-12 * max(1.0, float(np.abs(m).max())):
        raise ValueError(
            f"zero spread across {len(m)} seeds: identical results are not replicates (check that the seed "
            f"reaches the runs)"
        )


def paired_effect(diffs, *, level: float = 0.95) -> Effect:
    """The effect of ``diffs (seeds, images)`` (positive: the expected side is better) with its ``level``
    t-interval over seeds; one seed: no interval; zero spread: ``ValueError`` (see the module docstring)."""
    from scipy import stats

    d = np.asarray(diffs, np.float64)
    m = per_seed_means(d)
    n = len(m)
    mean = float(m.mean())
    if n == 1:
        return Effect(mean, None, None, 1, d.shape[1], "one seed", level, tuple(m))
    _check_spread(m)
    low, high = stats.t.interval(level, n - 1, loc=mean, scale=float(stats.sem(m)))
    return Effect(mean, float(low), float(high), n, d.shape[1], "t-interval over seeds", level, tuple(m))


@dataclass(frozen=True)
class OneSided:
    """One-sided p-values of one voting effect: ``above`` (H0: mean <= the minimum effect), ``below`` (H0: mean >=
    the minimum effect) and ``within`` (TOST, H0: |mean| >= delta; 1 when the measure has no delta)."""

    above: float
    below: float
    within: float

    #: what a voting measure without a number contributes: it can neither confirm nor refute
    @classmethod
    def none(cls) -> "OneSided":
        return cls(1.0, 1.0, 1.0)


def one_sided(effect: Effect, *, delta: float | None, min_effect: float = 0.0) -> OneSided:
    """The one-sided t-tests of ``effect``'s per-seed means (scipy's ``ttest_1samp``)."""
    from scipy import stats

    m = np.asarray(effect.seed_means, np.float64)
    if len(m) < 2:
        return OneSided.none()
    _check_spread(m)
    above = float(stats.ttest_1samp(m, min_effect, alternative="greater").pvalue)
    below = float(stats.ttest_1samp(m, min_effect, alternative="less").pvalue)
    within = 1.0
    if delta is not None and delta > 0:
        lower = stats.ttest_1samp(m, -delta, alternative="greater").pvalue
        upper = stats.ttest_1samp(m, delta, alternative="less").pvalue
        within = float(max(lower, upper))
    return OneSided(above, below, within)


@dataclass(frozen=True)
class Decision:
    """A claim's verdict at a look: ``p`` its p-value at that look (multiplicity within the claim handled),
    ``p_sequence`` the same scaled to the whole sequence of looks (what BH across claims reads), ``q`` the
    Benjamini-Hochberg q-value once :func:`across_claims` has run (``None`` before)."""

    status: str
    p: float
    look: Look
    q: float | None = None

    @property
    def p_sequence(self) -> float:
        return min(1.0, self.p * ALPHA / self.look.alpha)

    def text(self) -> str:
        q = f", BH q = {_p_text(self.q)}" if self.q is not None else ""
        return f"p = {_p_text(self.p)} at {self.look.text()} (level {self.look.alpha:.4f}){q}"


def _p_text(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def decide(parts, look: Look, *, on_par: bool = False) -> Decision:
    """A claim's verdict from its voting effects' :class:`OneSided` at ``look`` (see the module docstring)."""
    parts = list(parts)
    if not parts:
        raise ValueError("a claim needs at least one voting measure to decide")
    if on_par:
        p = max(t.within for t in parts)
        return Decision(ON_PAR if p < look.alpha else NOT_ON_PAR, p, look)
    # Refuting is a union over the J parts: Bonferroni over them, and with J > 1 also over the looks (the
    # Pocock level is calibrated for one t-path; J paths at a J-th of it cross more often than a J-th as often:
    # simulated, 3 null pairs were refuted 3.4 % of the time at a 2.5 % aim), expressed on the look's scale
    refute = look.alpha if len(parts) == 1 else min(look.alpha, ALPHA / len(LOOKS))
    candidates = {
        HELD: max(t.above for t in parts),
        NOT_HELD: min(1.0, len(parts) * min(t.below for t in parts) * look.alpha / refute),
        NO_DIFF: max(t.within for t in parts),
    }
    status, p = min(candidates.items(), key=lambda kv: kv[1])
    p = min(1.0, 2 * p)
    return Decision(status if p < look.alpha else INCONCLUSIVE, p, look)


def across_claims(decisions) -> list[Decision]:
    """Benjamini-Hochberg over the claims' sequence p-values (``scipy.stats.false_discovery_control``): each
    decision gets its q-value, and a decided claim whose q is not below :data:`ALPHA` becomes inconclusive."""
    from dataclasses import replace

    from scipy import stats

    decisions = list(decisions)
    if not decisions:
        return []
    q = stats.false_discovery_control([d.p_sequence for d in decisions], method="bh")
    out = []
    for d, qi in zip(decisions, q):
        status = d.status
        if status not in (INCONCLUSIVE, NOT_ON_PAR) and not qi < ALPHA:
            status = NOT_ON_PAR if status == ON_PAR else INCONCLUSIVE
        out.append(replace(d, status=status, q=float(qi)))
    return out


def verdict(effect: Effect, delta: float | None, min_effect: float = 0.0) -> str:
    """One measure's own verdict from its interval (shown per row; the claim's verdict is :func:`decide`'s)."""
    if delta is not None and delta < 0:
        raise ValueError(f"delta={delta}: a practical difference is >= 0")
    if effect.low is None or effect.n_seeds < LOOKS[0]:
        return EXPLORATORY
    if effect.low > min_effect:
        return HELD
    if effect.high < min_effect:
        return NOT_HELD
    if delta is not None and -delta <= effect.low and effect.high <= delta:
        return NO_DIFF
    return INCONCLUSIVE


def equivalent(effect: Effect, tolerance: float) -> str:
    """One measure's own on-par verdict: its interval (at ``1 - 2 alpha``, TOST) within ``±tolerance``."""
    if effect.low is None or effect.n_seeds < LOOKS[0]:
        return EXPLORATORY
    return ON_PAR if -tolerance <= effect.low and effect.high <= tolerance else NOT_ON_PAR


def seeds_to_decide(effects, *, deltas, min_effects, on_par: bool = False) -> int | None:
    """The fewest seeds (a look) at which every one of a claim's voting ``effects`` would likely be decided, if
    the mean and SD measured now held: held or refuted when ``|mean - m| `` exceeds the look's half-width, no
    practical difference (or on par) when ``|mean|`` plus it is within delta. ``None``: not by the last look.
    A plug-in estimate (the SD itself is uncertain at 3 seeds), for planning, not a promise."""
    from scipy import stats

    alpha = NOMINAL_ALPHA
    needed = 0
    for e, delta, m in zip(effects, deltas, min_effects):
        sd = e.sd if e is not None else None
        if sd is None or not math.isfinite(sd):
            return None
        for n in LOOKS:
            if on_par:  # TOST: the 1 - 2 alpha interval within the tolerance
                half = float(stats.t.ppf(1 - alpha, n - 1)) * sd / math.sqrt(n)
                decided = delta is not None and abs(e.mean) + half < delta
            else:
                half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * sd / math.sqrt(n)
                decided = abs(e.mean - m) > half or (delta is not None and abs(e.mean) + half < delta)
            if decided:
                needed = max(needed, n)
                break
        else:
            return None
    return needed


def decide_seed_means(means, look: Look, *, deltas, min_effects=None, on_par: bool = False) -> Decision:
    """:func:`decide` on per-seed means directly: ``means`` one array of per-seed means per (pair, voting measure),
    judged on their first ``look.n`` seeds (the same path the claims take, for simulation and planning)."""
    min_effects = list(min_effects) if min_effects is not None else [0.0] * len(means)
    parts = []
    for m, delta, minimum in zip(means, deltas, min_effects):
        effect = paired_effect(np.asarray(m, np.float64)[: look.n, None], level=1 - look.alpha)
        parts.append(one_sided(effect, delta=delta, min_effect=minimum))
    return decide(parts, look, on_par=on_par)


def sequential(means, *, deltas, min_effects=None, on_par: bool = False) -> Decision | None:
    """The sequential procedure of ``make claims`` on one claim: judged at each look the seeds reach, stopped at
    the first decided one (the last look's decision otherwise); ``None`` below the first look."""
    n = min(len(m) for m in means)
    last = None
    for seeds in LOOKS:
        if seeds > n:
            break
        last = decide_seed_means(means, look_for(seeds), deltas=deltas, min_effects=min_effects, on_par=on_par)
        if last.status not in (INCONCLUSIVE, NOT_ON_PAR):
            return last
    return last
