"""The claims section of the report: each declared claim judged on its arms' runs (:mod:`.claims`), its forest
plot and its table rows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from restoration_reports import claims as _claims
from restoration_reports.formatting import picture_src
from restoration_reports.pdf import PdfEngineError, engine_problem, write_pdf  # noqa: F401  (re-exported)
from restoration_reports.running import Attempt, run_missing  # noqa: F401  (re-exported: the report's entry points)
from restoration_reports.runs import RunSource, report_payload
from restoration_reports.text import typeset
from restoration.contract import measures as _measures
from restoration.contract.payload import Payload


def judge_claims(
    claims_decl, source: RunSource, reasons: dict[str, str], code: str | None = None
) -> list[_claims.Verdict]:
    """Every claim judged on the completed runs of its figures made by the current code (figure runs and
    ``make claims`` replicates), then Benjamini-Hochberg across the claims. ``code``: the current code digest
    (computed when not given)."""
    from restoration import code_digest
    from restoration_reports.runs import claim_candidates

    code = code or code_digest.code_digest()

    cache: dict[str, list[_claims.ArmRun]] = {}

    def candidates(fig_id: str) -> list[_claims.ArmRun]:
        if fig_id not in cache:
            arms = []
            for rec in claim_candidates(source, fig_id):
                payload = Payload.from_dict(report_payload(rec))
                if payload is not None:
                    arms.append(_claims.ArmRun(str(getattr(rec, "id", "")), payload))
            cache[fig_id] = arms
        return cache[fig_id]

    judged = [_claims.judge(c, {f: candidates(f) for f in c.figures}, reasons, code=code) for c in claims_decl]
    return _claims.across(judged)


def forest_src(verdicts: Sequence[_claims.Verdict], assets: Path | None) -> str | None:
    from restoration_reports.forest import forest_png

    png = forest_png(verdicts)
    return picture_src(png, "claims_forest.png", assets) if png else None


def claim_rows(verdicts: Sequence[_claims.Verdict]) -> list[dict]:
    """The claims table: one row per claim, one block per pair, one line per measure (effect, interval, verdict)."""
    rows = []
    for v in verdicts:
        pairs = []
        for p in v.pairs:
            pairs.append(
                {
                    "better": str(p.better),
                    "worse": str(p.worse),
                    "effects": [
                        {
                            "measure": _measures.label(e.measure, unit=False, short=True),
                            "effect": _claims.effect_text(e),
                            "verdict": e.verdict,
                            "votes": e.votes,
                            "means": f"{_claims.value_text(e.measure, e.better_mean)} vs "
                            f"{_claims.value_text(e.measure, e.worse_mean)}",
                        }
                        for e in p.effects
                    ],
                }
            )
        profile, precision, images = v.group
        n = ""
        if v.seeds:
            n = f"{len(v.seeds)} seed{'s' if len(v.seeds) != 1 else ''} ({', '.join(map(str, v.seeds))})"
            n += f" x {v.n_images} images" if v.n_images else ", summary means (no per-image scores)"
            if v.stored > len(v.seeds):
                n += f"; {v.stored - len(v.seeds)} more stored, counted from the next look"
        rows.append(
            {
                "id": v.claim.id,
                "statement": typeset(v.claim.statement),
                "thesis": v.claim.thesis,
                "status": v.status,
                "css": re.sub(r"[^a-z0-9]+", "-", v.status).strip("-"),
                "reason": v.reason,
                "pairs": pairs,
                "figures": list(v.claim.figures),
                "n": n,
                "setting": ", ".join(x for x in (profile, precision) if x),
                "runs": "; ".join(f"{f}: {', '.join(ids)}" for f, ids in v.runs.items()),
                "test": v.decision.text() if v.decision is not None else "",
                "more": _more_text(v),
                "caveat": v.caveat,
                "left_out": "; ".join(f"{n} run{'s' if n != 1 else ''} {why}" for why, n in v.left_out),
            }
        )
    return rows


def _more_text(v: _claims.Verdict) -> str:
    """What an undecided claim needs: the seeds that would likely decide it at the measured spread."""
    from restoration_reports import evidence

    if v.status not in (_claims.INCONCLUSIVE, _claims.NOT_ON_PAR, _claims.EXPLORATORY) or not v.judged:
        return ""
    if v.more_seeds:
        return f"about {v.more_seeds} seeds would likely decide it (make claims adds them within its budget)"
    if v.decision is not None or len(v.seeds) > 1:
        return f"not likely decided by {evidence.LOOKS[-1]} seeds at the measured spread"
    return f"run make claims: {evidence.LOOKS[0]} seeds give the first look"


def method_text(verdicts: Sequence[_claims.Verdict] = ()) -> str:
    """How a claim is judged, for the report's claims section: written from the rules' own constants (the looks,
    their level, the practical differences), so the words cannot drift from the code."""
    from restoration_reports import evidence

    deltas = ", ".join(
        f"±{m.delta:g}{' ' + m.unit if m.unit else ''} {m.short}"
        for m in (_measures.get(k) for k in ("psnr_mean", "ssim_mean", "vgg_score", "nmse_thesis"))
    )
    left = sum(n for v in verdicts for _, n in v.left_out)
    stale = (
        f" Runs made by other code, or that loaded a prior or module made by other code, are left out "
        f"({left} run-uses here; each claim says which)."
        if left
        else " Only runs made by the current code count (its digest is stored with every run)."
    )
    level = 100 * (1 - evidence.NOMINAL_ALPHA)
    tost = 100 * (1 - 2 * evidence.NOMINAL_ALPHA)
    looks = ", ".join(map(str, evidence.LOOKS))
    return (
        "How a claim is judged. Both sides run with the same seeds (same initialisation, data order and jitter) on "
        "the same held-out images; per seed, the difference on each image is averaged, oriented so that a positive "
        "effect favours the side the thesis expected to be better. The seed is the unit (the same few photos recur "
        "in every seed): the effect is the mean over seeds with a t-interval over seeds. A claim is judged at "
        f"looks of {looks} seeds, each at the level that keeps the chance of a false verdict over all looks at "
        f"{100 * evidence.ALPHA:.0f} % (intervals at {level:.1f} %; “on par” TOST intervals at {tost:.1f} %). "
        "Held: every pair and voting measure above 0, or above the least effect the claim's words ask for; did "
        "not hold: one of them below it (Bonferroni over them); no practical difference: all within "
        f"{deltas}; inconclusive: otherwise, with the seeds that would likely decide it; exploratory: under "
        f"{evidence.LOOKS[0]} seeds. Each verdict shows its p-value and its Benjamini-Hochberg q-value across "
        "the claims; a claim is decided only with q below 5 %. PSNR, MSE and the normalised error are one "
        "per-image MSE and vote once (per-image PSNR; an MSE-only claim on the thesis's mean MSE, as a ratio in "
        "dB); the thesis NMSE, SSIM and the VGG score vote on their own; the other measures are shown. Sides "
        "that differ in profile, precision, image set, variant or seeds are not judged." + stale + " `make claims` "
        "adds seeds where they decide, within its budget (BUDGET=45m)."
    )
