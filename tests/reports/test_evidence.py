"""The verdict statistics (reports/evidence.py) and their calibration.

The simulations use the spreads measured in this project (issue 28): the SD of the per-seed paired difference
from 0.25 dB (merged fine-tuning, within one run) to 2.8 dB (stacked vs end to end at the quick profile), 3-15
seeds, 1-5 pairs, and seed noise that is normal, heavy-tailed (Student-t with 3 degrees of freedom), skewed
(log-normal, centred) or two-level (the bimodal split fig05 and fig06 showed), drawn on both sides of a pair
(the paired difference of two independent sides: skew on one side is not skew of the difference). Every
simulation is deterministic (a fixed generator) and could fail: each rule is checked against its nominal rate,
and the test of the sequential design also shows that looking without it would break that rate.
"""

import numpy as np
import pytest
from scipy import stats

from restoration_reports import evidence as ev

#: Monte-Carlo slack: 3 standard errors of a 2.5 % rate over the simulated claims
N_SIM = 2000
SLACK = 3 * np.sqrt(0.025 * 0.975 / N_SIM)


def _noise(rng, kind: str, size, sd: float) -> np.ndarray:
    """Seed noise of SD ``sd`` and mean 0."""
    if kind == "normal":
        return rng.normal(0.0, sd, size)
    if kind == "t3":  # heavy tails: Student-t(3) scaled to SD sd
        return rng.standard_t(3, size) * sd / np.sqrt(3.0)
    if kind == "lognormal":  # skewed: log-normal with sigma 1 (skewness 6), centred and scaled
        x = rng.lognormal(0.0, 1.0, size)
        return (x - np.exp(0.5)) * sd / np.sqrt((np.e - 1) * np.e)
    if kind == "two-level":  # each seed near one of two levels, the split seen in fig05/fig06 (SD sd in all)
        return rng.choice([-0.95 * sd, 0.95 * sd], size) + rng.normal(0.0, np.sqrt(1 - 0.95**2) * sd, size)
    raise ValueError(kind)


def _run_sequential(rng, *, kind, sd, effect, pairs=1, max_seeds=12, delta=0.5, min_effect=0.0, n=N_SIM):
    """Statuses of ``n`` simulated claims run through the whole sequential procedure. Noise on both sides: each
    side's per-seed mean gets its own draw of the shape, so the paired difference has SD ``sd``."""
    out = []
    for _ in range(n):
        means = [
            effect + (_noise(rng, kind, max_seeds, sd) - _noise(rng, kind, max_seeds, sd)) / np.sqrt(2)
            for _ in range(pairs)
        ]
        d = ev.sequential(means, deltas=[delta] * pairs, min_effects=[min_effect] * pairs)
        out.append(d.status)
    return np.array(out)


def test_the_looks_level_is_rederived_by_simulation():
    """NOMINAL_ALPHA is the Pocock level of LOOKS at ALPHA: the simulation finds it again (a change of the looks
    that forgot this number fails here)."""
    assert ev.derive_nominal_alpha(paths=200_000) == pytest.approx(ev.NOMINAL_ALPHA, abs=0.0008)
    assert ev.look_for(2) is None and ev.look_for(3).n == 3 and ev.look_for(7).n == 5 and ev.look_for(40).n == 12
    assert ev.next_look(5) == 8 and ev.next_look(12) is None


@pytest.mark.parametrize(
    "kind, sd", [("normal", 0.25), ("normal", 2.8), ("t3", 2.8), ("lognormal", 2.8), ("two-level", 2.8)]
)
def test_no_effect_the_sequential_procedure_keeps_each_false_verdict_at_2_5_percent(kind, sd):
    """No true effect, one pair, seeds added look by look up to 12 and stopped at the first decision: "held" and
    "did not hold" each at most 2.5 % (+ Monte-Carlo slack), under every noise shape. The t-statistic does not
    depend on the scale, so the shapes run at 2.8 dB; at 0.25 dB "no practical difference" stops claims early,
    which changes the sequence, so normal noise runs there too."""
    status = _run_sequential(np.random.default_rng(hash((kind, sd)) % 2**32), kind=kind, sd=sd, effect=0.0)
    assert np.mean(status == ev.HELD) <= 0.025 + SLACK, kind
    assert np.mean(status == ev.NOT_HELD) <= 0.025 + SLACK, kind


def test_looking_again_without_the_sequential_level_would_be_liberal():
    """The simulation can see the error the design prevents: the fixed-sample 95 % rule applied at every look
    says "held" to a null claim well above 2.5 %."""
    rng = np.random.default_rng(5)
    held = 0
    for _ in range(N_SIM):
        m = rng.normal(0.0, 1.0, 12)
        held += any(stats.ttest_1samp(m[:n], 0, alternative="greater").pvalue < 0.025 for n in ev.LOOKS)
    assert held / N_SIM > 0.04


@pytest.mark.parametrize("pairs", [3, 5])
def test_multi_pair_claims_refute_a_null_at_most_2_5_percent_and_hold_a_true_one(pairs):
    """Several pairs: refutation is a union (Bonferroni), holding an intersection (every pair)."""
    rng = np.random.default_rng(pairs)
    null = _run_sequential(rng, kind="normal", sd=1.0, effect=0.0, pairs=pairs, n=800)
    assert np.mean(null == ev.NOT_HELD) <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / 800)
    assert np.mean(null == ev.HELD) <= 0.025
    true = _run_sequential(rng, kind="normal", sd=1.0, effect=1.5, pairs=pairs, n=300)
    assert np.mean(true == ev.NOT_HELD) <= 0.01  # a true claim is rarely refuted by one unlucky pair
    assert np.mean(true == ev.HELD) >= 0.8  # and holds by 12 seeds


def test_power_a_2_db_effect_at_1_db_spread_and_why_the_seed_noise_matters():
    """At 1 dB spread a 2 dB effect holds almost always by 12 seeds; at the 2.8 dB measured before the seed-noise
    work, less than half the time (about 45 %): the spread, not the rule, is what leaves claims undecided."""
    rng = np.random.default_rng(11)
    assert np.mean(_run_sequential(rng, kind="normal", sd=1.0, effect=2.0, n=400) == ev.HELD) >= 0.95
    assert 0.3 <= np.mean(_run_sequential(rng, kind="normal", sd=2.8, effect=2.0, n=400) == ev.HELD) <= 0.6


def test_no_practical_difference_needs_a_small_spread():
    rng = np.random.default_rng(12)
    small = _run_sequential(rng, kind="normal", sd=0.25, effect=0.0, n=500)
    assert np.mean(small == ev.NO_DIFF) >= 0.9
    big = _run_sequential(rng, kind="normal", sd=0.25, effect=0.7, n=500)
    assert np.mean(big == ev.NO_DIFF) <= 0.025  # a true 0.7 dB effect is not called "no difference"


def test_a_minimum_effect_is_what_held_means_for_much():
    """ "Much" (at least 1 dB): a clear 0.4 dB effect does not hold; it did not hold (below the minimum)."""
    rng = np.random.default_rng(13)
    small = _run_sequential(rng, kind="normal", sd=0.3, effect=0.4, min_effect=1.0, n=300)
    assert np.mean(small == ev.HELD) == 0 and np.mean(small == ev.NOT_HELD) >= 0.9
    large = _run_sequential(rng, kind="normal", sd=0.3, effect=2.0, min_effect=1.0, n=300)
    assert np.mean(large == ev.HELD) >= 0.95
    at = _run_sequential(rng, kind="normal", sd=1.0, effect=1.0, min_effect=1.0, n=N_SIM)
    assert np.mean(at == ev.HELD) <= 0.025 + SLACK  # exactly at the minimum: "held" is the error


def test_benjamini_hochberg_across_17_null_claims_keeps_any_false_verdict_near_5_percent():
    """Under the global null (17 claims, no effect anywhere), after BH the chance that any claim is decided
    (held or did not hold) is the false discovery rate, 5 %; without it, about 1 - 0.95^17 of the verdicts."""
    rng = np.random.default_rng(14)
    any_after, any_before = 0, 0
    n = 600
    for _ in range(n):
        decisions = [ev.decide_seed_means([rng.normal(0, 1.0, 5)], ev.look_for(5), deltas=[0.01]) for _ in range(17)]
        any_before += any(d.status in (ev.HELD, ev.NOT_HELD) for d in decisions)
        after = ev.across_claims(decisions)
        any_after += any(d.status in (ev.HELD, ev.NOT_HELD) for d in after)
    assert any_after / n <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n)
    assert any_before / n > any_after / n
    assert all(d.q is not None for d in after)


def test_the_interval_is_scipys_t_interval_at_every_number_of_seeds():
    for n in (2, 3, 9, 10, 15):  # no bootstrap from 10 seeds on: that branch was liberal
        m = np.random.default_rng(n).normal(1.0, 1.0, n)
        e = ev.paired_effect(m[:, None], level=0.9)
        low, high = stats.t.interval(0.9, n - 1, loc=m.mean(), scale=stats.sem(m))
        assert (e.low, e.high) == pytest.approx((low, high)) and e.method == "t-interval over seeds"
        assert e.sd == pytest.approx(np.std(m, ddof=1))
    assert "90 % t-interval" in e.text("dB")
    assert ev.Effect(0, -1, 1, 3, 2, "t", 1 - ev.NOMINAL_ALPHA).level_text() == "98.5 %"


def test_zero_spread_is_refused_and_infinite_differences_are_not_dropped():
    with pytest.raises(ValueError, match="zero spread across 3 seeds"):
        ev.paired_effect([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match="infinite paired difference"):
        ev.paired_effect([[np.inf, 2.0], [1.0, 2.0]])
    e = ev.paired_effect([[3.0, 2.5]])  # one seed: no interval, never a verdict
    assert e.low is None and ev.verdict(e, 0.5) == ev.EXPLORATORY


def test_decide_within_a_claim():
    look = ev.look_for(5)
    up = ev.OneSided(above=1e-5, below=1.0, within=1.0)
    flat = ev.OneSided(above=0.4, below=0.6, within=1e-4)
    down = ev.OneSided(above=1.0, below=1e-4, within=1.0)
    assert ev.decide([up, up], look).status == ev.HELD
    assert ev.decide([up, flat], look).status == ev.INCONCLUSIVE  # held needs every part (intersection-union)
    assert ev.decide([flat, flat], look).status == ev.NO_DIFF
    d = ev.decide([up, down], look)  # a clear reversal refutes: p = 2 x (J = 2) x 1e-4, Bonferroni over looks too
    p = 4e-4 * ev.NOMINAL_ALPHA / (ev.ALPHA / len(ev.LOOKS))
    assert d.status == ev.NOT_HELD and d.p == pytest.approx(p)
    weak = ev.OneSided(above=1.0, below=0.004, within=1.0)
    assert ev.decide([weak] + [up] * 3, look).status == ev.INCONCLUSIVE  # 2 x 4 x 0.004 > the look's level
    assert ev.decide([flat], look, on_par=True).status == ev.ON_PAR
    assert d.p_sequence == pytest.approx(p * ev.ALPHA / ev.NOMINAL_ALPHA)
    assert "look 2 of 4, 5 seeds" in d.text()
    with pytest.raises(ValueError, match="at least one voting measure"):
        ev.decide([], look)


def test_on_par_is_an_equivalence_test():
    rng = np.random.default_rng(3)
    same = [
        ev.decide_seed_means([rng.normal(0, 0.2, 5)], ev.look_for(5), deltas=[0.5], on_par=True).status
        for _ in range(300)
    ]
    assert np.mean([s == ev.ON_PAR for s in same]) >= 0.8
    apart = [
        ev.decide_seed_means([rng.normal(0.6, 0.2, 5)], ev.look_for(5), deltas=[0.5], on_par=True).status
        for _ in range(N_SIM)
    ]
    assert np.mean([s == ev.ON_PAR for s in apart]) <= 0.025 + SLACK  # just outside the tolerance


def test_seeds_to_decide_grows_with_the_spread_and_is_honest_about_the_last_look():
    def effect(mean, sd):
        m = mean + sd * np.array([-1.0, 0.0, 1.0])
        return ev.paired_effect(m[:, None])

    near = ev.seeds_to_decide([effect(1.0, 0.5)], deltas=[0.5], min_effects=[0.0])
    far = ev.seeds_to_decide([effect(1.0, 1.5)], deltas=[0.5], min_effects=[0.0])
    assert near is not None and (far is None or far > near)
    assert ev.seeds_to_decide([effect(0.1, 3.0)], deltas=[0.5], min_effects=[0.0]) is None
    # the plug-in estimate is roughly right: at its look, a claim with that mean and SD is decided often
    rng = np.random.default_rng(15)
    n = ev.seeds_to_decide([effect(1.0, 1.0)], deltas=[0.5], min_effects=[0.0])
    look = next(lk for lk in (ev.look_for(k) for k in ev.LOOKS) if lk.n == n)
    decided = [
        ev.decide_seed_means([rng.normal(1.0, 1.0, n)], look, deltas=[0.5]).status == ev.HELD for _ in range(400)
    ]
    assert 0.3 <= np.mean(decided)


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match=r"\(seeds, images\) array"):
        ev.paired_effect([1.0, 2.0])
    with pytest.raises(ValueError, match="no finite paired difference"):
        ev.paired_effect([[np.nan, np.nan], [1.0, 2.0]])
    with pytest.raises(ValueError, match="practical difference"):
        ev.verdict(ev.Effect(1.0, 0.2, 1.8, 3, 2, "t"), -1)
