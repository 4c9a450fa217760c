"""Cross-figure claims: sentences that compare the summaries of two figures' latest completed runs.

A claim names the figure that should win, the figure it should beat, the summary keys it is judged on and
which direction is better for each, and the report section it opens. :func:`judge` turns two summaries into
a verdict and one sentence with the numbers. The report never invents a number: a missing run or key says
the claim cannot be judged yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Measure:
    key: str              # summary key in the report payload
    label: str            # how the sentence names it
    higher_is_better: bool
    unit: str = ""


#: The four image measures every trained-inversion figure reports (see restoration.metrics.summarize_scores).
IMAGE_MEASURES = (
    Measure("psnr_mean", "PSNR", True, " dB"),
    Measure("ssim_mean", "SSIM", True),
    Measure("mse_mean", "MSE", False),
    Measure("nerr_mean", "normalised error", False),
)


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str        # the claim in words
    section: str          # report section it opens
    winner: str           # figure id expected to win
    loser: str            # figure id expected to lose
    winner_label: str
    loser_label: str
    measures: tuple[Measure, ...] = IMAGE_MEASURES


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    status: str           # "held", "did not hold", "mixed", "cannot be judged"
    sentence: str
    wins: int = 0
    compared: int = 0


CLAIMS = (
    Claim(
        id="stacked_beats_end_to_end",
        statement="Stacked beats end to end",
        section="Trained inversion",
        winner="fig06",
        loser="fig05",
        winner_label="separately trained, stacked modules (Fig. 6)",
        loser_label="modules trained end to end (Fig. 5)",
    ),
)


def non_finite_text(v: float) -> str | None:
    """How the report writes an infinite or NaN number ("∞", "−∞", "NaN"); None for a finite one."""
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if math.isnan(v):
        return "NaN"
    return None


def fmt(value: float) -> str:
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


def judge(claim: Claim, summaries: Mapping[str, Mapping[str, float] | None]) -> Verdict:
    """Judge ``claim`` on the summaries of the latest completed runs, keyed by figure id."""
    win_s, lose_s = summaries.get(claim.winner), summaries.get(claim.loser)
    missing = [f for f, s in ((claim.winner, win_s), (claim.loser, lose_s)) if not s]
    if missing:
        return Verdict(claim, "cannot be judged",
                       f"“{claim.statement}” cannot be judged yet: no completed run with a summary for "
                       f"{' and '.join(missing)}.")
    parts, better_on, worse_on = [], [], []
    for m in claim.measures:
        a, b = win_s.get(m.key), lose_s.get(m.key)
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or math.isnan(a) or math.isnan(b):
            continue
        better = a > b if m.higher_is_better else a < b
        (better_on if better else worse_on).append(m.label)
        direction = "higher is better" if m.higher_is_better else "lower is better"
        parts.append(f"{m.label} {fmt(a)}{m.unit} vs {fmt(b)}{m.unit} ({direction})")
    wins, compared = len(better_on), len(better_on) + len(worse_on)
    if compared == 0:
        keys = ", ".join(m.key for m in claim.measures)
        return Verdict(claim, "cannot be judged",
                       f"“{claim.statement}” cannot be judged yet: the summaries of {claim.winner} and "
                       f"{claim.loser} share none of {keys}.")

    def listing(labels):
        return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]

    if not worse_on:
        status, lead = "held", (f"“{claim.statement}” held: the {claim.winner_label} beat the "
                                f"{claim.loser_label} on all {compared} measures")
    elif not better_on:
        status, lead = "did not hold", (f"“{claim.statement}” did not hold: the {claim.loser_label} beat the "
                                        f"{claim.winner_label} on all {compared} measures")
    else:
        status, lead = "mixed", (f"“{claim.statement}” held only in part ({wins} of {compared} measures): the "
                                 f"{claim.winner_label} were better than the {claim.loser_label} on "
                                 f"{listing(better_on)}, but not on {listing(worse_on)}")
    return Verdict(claim, status, f"{lead}: {'; '.join(parts)}.", wins, compared)


def claims_for_section(section: str, summaries: Mapping[str, Mapping[str, float] | None]) -> list[Verdict]:
    """Verdicts of every claim that opens ``section``."""
    return [judge(c, summaries) for c in CLAIMS if c.section == section]
