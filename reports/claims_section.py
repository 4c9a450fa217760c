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


def judge_claims(claims_decl, source: RunSource, reasons: dict[str, str]) -> list[_claims.Verdict]:
    """Every claim judged on all completed runs of its figures (figure runs and ``make claims`` replicates)."""
    from restoration_reports.runs import claim_candidates

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

    return [_claims.judge(c, {f: candidates(f) for f in c.figures}, reasons) for c in claims_decl]


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
            }
        )
    return rows
