"""The statistics of a verdict (issue 17's core): a paired effect over replicate seeds and images, its 95 %
interval, and the rule that turns it into a verdict. Pure numpy/scipy; the claims table is not wired to it yet.

A claim compares two sides run with the same seeds on the same images. For each seed ``s`` and image ``i`` the
paired difference ``d[s, i]`` is oriented so that positive means the expected side is better (for PSNR: expected
minus other; for MSE: other minus expected). The effect is the mean over images within a seed, then over seeds.

**The interval** is a t-interval over the per-seed means (``scipy.stats.ttest_rel`` on the per-seed means of the
two sides is the same test). Images are not independent replicates of the claim (the same few photos in every
seed), so the seed is the unit; averaging images within a seed first is the first level of rliable's stratified
scheme. With 3-5 seeds a bootstrap over seeds has too few distinct resamples (3 seeds: 10) to give an honest 95 %
interval, which is why the t-interval is used; ``scipy.stats.bootstrap`` (paired, BCa) serves when there are at
least :data:`MIN_BOOTSTRAP_SEEDS` seeds. Agarwal et al., "Deep RL at the edge of the statistical precipice"
(NeurIPS 2021) is the model for reporting: an effect, its interval, its n, and "inconclusive" when that is what
the data say.

**Verdicts** (``delta`` is the measure's practical difference, e.g. 0.5 dB PSNR, 0.01 SSIM):

* *held*: the interval lies above 0;
* *did not hold*: below 0;
* *no practical difference*: the whole interval within ``±delta``;
* *inconclusive*: otherwise;
* *exploratory (1 seed)*: one seed gives no interval over seeds; never held or did not hold.

An *on par* claim is an equivalence test (TOST, :func:`equivalent`): on par when the 90 % interval lies within
``±tolerance`` (two one-sided tests at 5 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HELD, NOT_HELD, NO_DIFF, INCONCLUSIVE, EXPLORATORY = (
    "held",
    "did not hold",
    "no practical difference",
    "inconclusive",
    "exploratory (1 seed)",
)
ON_PAR, NOT_ON_PAR = "on par", "not shown on par"
#: from this many seeds a paired BCa bootstrap over seeds replaces the t-interval
MIN_BOOTSTRAP_SEEDS = 10


@dataclass(frozen=True)
class Effect:
    """A paired effect: its mean, its interval (``None`` with one seed), what it rests on and how it was made."""

    mean: float
    low: float | None
    high: float | None
    n_seeds: int
    n_images: int
    method: str
    level: float = 0.95

    def text(self, unit: str = "", digits: int = 2) -> str:
        u = f" {unit}" if unit else ""
        if self.low is None:
            return f"{self.mean:+.{digits}f}{u} ({self.n_seeds} seed x {self.n_images} images, no interval)"
        return (
            f"{self.mean:+.{digits}f}{u} [{self.low:+.{digits}f}, {self.high:+.{digits}f}] "
            f"({self.n_seeds} seeds x {self.n_images} images, {100 * self.level:.0f} % {self.method})"
        )


def per_seed_means(diffs) -> np.ndarray:
    """``diffs (seeds, images)`` -> the mean over images of each seed (NaN images, a missing crop, are left out)."""
    d = np.asarray(diffs, np.float64)
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
        raise ValueError(
            f"paired differences must be a (seeds, images) array with at least one of each; got shape {d.shape}"
        )
    finite = np.isfinite(d)
    if not finite.any(axis=1).all():
        raise ValueError("a seed has no finite paired difference; check that both sides scored the same images")
    return np.array([row[ok].mean() for row, ok in zip(d, finite)])


def paired_effect(diffs, *, level: float = 0.95) -> Effect:
    """The effect of ``diffs (seeds, images)`` (positive: the expected side is better) with its ``level``
    interval over seeds; see the module docstring for why the seed is the unit."""
    from scipy import stats

    d = np.asarray(diffs, np.float64)
    m = per_seed_means(d)
    n = len(m)
    mean = float(m.mean())
    if n == 1:
        return Effect(mean, None, None, 1, d.shape[1], "one seed", level)
    if n >= MIN_BOOTSTRAP_SEEDS:
        res = stats.bootstrap(
            (m,), np.mean, confidence_level=level, method="BCa", n_resamples=4999, random_state=np.random.default_rng(0)
        )
        return Effect(
            mean,
            float(res.confidence_interval.low),
            float(res.confidence_interval.high),
            n,
            d.shape[1],
            "bootstrap over seeds (BCa)",
            level,
        )
    sem = float(m.std(ddof=1) / np.sqrt(n))
    if sem == 0.0:
        return Effect(mean, mean, mean, n, d.shape[1], "t-interval over seeds", level)
    low, high = stats.t.interval(level, n - 1, loc=mean, scale=sem)
    return Effect(mean, float(low), float(high), n, d.shape[1], "t-interval over seeds", level)


def verdict(effect: Effect, delta: float) -> str:
    """The verdict of one effect at practical difference ``delta`` (see the module docstring)."""
    if delta < 0:
        raise ValueError(f"delta={delta}: a practical difference is >= 0")
    if effect.low is None:
        return EXPLORATORY
    if effect.low > 0:
        return HELD
    if effect.high < 0:
        return NOT_HELD
    if -delta <= effect.low and effect.high <= delta:
        return NO_DIFF
    return INCONCLUSIVE


def combine(verdicts) -> str:
    """A claim's verdict from its pairs' (and voting measures') verdicts. A claim is a conjunction ("A beats B at
    every depth, on every voting measure"): exploratory if any is; held only if every one held; did not hold if
    any one did not (a clear reversal refutes the conjunction, and more seeds would not make it inconclusive);
    no practical difference if every one is; else inconclusive."""
    vs = list(verdicts)
    if not vs:
        raise ValueError("a claim needs at least one verdict to combine")
    if any(v == EXPLORATORY for v in vs):
        return EXPLORATORY
    if any(v == NOT_HELD for v in vs):
        return NOT_HELD
    for v in (HELD, NO_DIFF):
        if all(x == v for x in vs):
            return v
    return INCONCLUSIVE


def equivalent(diffs, tolerance: float, *, alpha: float = 0.05) -> tuple[str, Effect]:
    """TOST for an "on par" claim: on par when the ``1 - 2 alpha`` interval of the effect lies within
    ``±tolerance``; with one seed, exploratory."""
    effect = paired_effect(diffs, level=1 - 2 * alpha)
    if effect.low is None:
        return EXPLORATORY, effect
    return (ON_PAR if -tolerance <= effect.low and effect.high <= tolerance else NOT_ON_PAR), effect
