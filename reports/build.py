"""Build the reproduction report: registry -> latest runs -> Jinja template -> ``out/report.html`` (-> PDF).

The report reads ``experiments/registry.toml`` as data (it never imports an experiment module), asks the run
source (by default the Sacred database through :mod:`restoration.tracking`) for each figure's latest
completed run, and renders that run's ``info["report"]`` payload: title, network label, summary, paragraphs,
figures (PNG artifacts embedded as data URIs, so the HTML is one self-contained file), tables, training
curves drawn from the run's logged metrics, and provenance (run id, commit, config, start, duration, host).
A figure without a completed run says why: never run, or the message of its latest failed run.

``python -m restoration_reports --run-missing`` first runs ``python -m restoration_experiments <fig> with quick`` for
every figure without a completed run; a failing figure is reported in its section, not fatal.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from restoration_reports import claims as _claims
from restoration_reports.claims_section import (  # noqa: F401  (re-exported)
    claim_rows,
    forest_src,
    judge_claims,
    method_text,
)
from restoration_reports.figure_section import Counter, FigureSection, Section, figure_section
from restoration_reports.formatting import format_column, format_number, picture_src  # noqa: F401  (re-exported)
from restoration_reports.pdf import PdfEngineError, engine_problem, write_pdf  # noqa: F401  (re-exported)
from restoration_reports.running import Attempt, run_missing  # noqa: F401  (re-exported: the report's entry points)
from restoration_reports.runs import RunSource
from restoration import atomic, paths
from restoration.contract import registry as _registry
from restoration.contract.registry import FigureEntry

REPO = paths.work_dir()
DEFAULT_REGISTRY = _registry.DEFAULT_PATH
DEFAULT_OUT = REPO / "out" / "report.html"
# the checkout's templates/, shipped inside an installed package as reports/templates
TEMPLATE_DIR = (paths.source_checkout() or Path(__file__).resolve().parent) / "templates"
TEMPLATE_NAME = "report.html.j2"

REPORT_TITLE = "Inverting deep image representations"
REPORT_SUBTITLE = (
    "Reproduction report for the MSc thesis code (frhrdr/deep_restoration), rebuilt in TensorFlow 2 / Keras 3"
)
WEIGHTS_NOTE = (
    "The VGG16 weights used in this reproduction are the convolutional trunk of HED (holistically-nested "
    "edge detection, Xie & Tu 2015): VGG16 fine-tuned from ImageNet on the BSDS500 edge-detection data set. "
    "They are not the ImageNet classification weights the thesis used, so reconstructions and numbers from "
    "VGG16 layers are expected to differ from the thesis; they show the method, not the thesis's exact values."
)

STATUS_WORDS = {
    "complete": "done",
    "failed": "failed",
    "missing": "not run",
    "running": "running",
    "died": "died",
    "incomplete": "record incomplete",
    "interrupted": "interrupted",
}


def load_registry(path: str | Path = DEFAULT_REGISTRY) -> _registry.Registry:
    """The figure registry (see :mod:`restoration.contract.registry`); errors name the file, the entry and the fix."""
    return _registry.load(path)


def _git_commit(cwd: Path = REPO) -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return (head + (" (uncommitted changes)" if dirty else "")) if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ----------------------------------------------------------------------------------------------------------
# The report model
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Report:
    title: str
    subtitle: str
    generated: str
    code_commit: str
    database: str
    weights_note: str
    sections: list[Section]
    overview: list[dict]
    claims: list[_claims.Verdict] = field(default_factory=list)
    claim_rows: list[dict] = field(default_factory=list)
    forest: str | None = None  # the claims' forest plot (img src)
    claims_method: str = ""  # how a claim is judged (from the rules' own constants)
    appendix: list[dict] = field(default_factory=list)  # provenance of every run the report shows
    sweeps: list = field(default_factory=list)  # restoration_reports.sweeps.SweepSection, one per declared sweep

    @property
    def reproduced(self) -> list[dict]:
        return [r for r in self.overview if r["status"] == "complete"]

    @property
    def not_reproduced(self) -> list[dict]:
        return [r for r in self.overview if r["status"] != "complete"]

    @property
    def claim_counts(self) -> list[tuple[str, int]]:
        """``[("held", 5), ("inconclusive", 2), ...]`` in :data:`restoration_reports.claims.ORDER`, verdicts that occur
        only."""
        return _claims.counts(self.claims)

    @property
    def alexnet_missing(self) -> bool:
        return any("AlexNet weights" in r.get("reason", "") for r in self.not_reproduced)


def _short_reason(entry: FigureEntry, sec: "FigureSection") -> str:
    """Why a figure has no completed run, in a few words (the figure's section has the full message)."""
    if sec.status == "missing":
        return "needs AlexNet weights (no run yet)" if entry.needs_alexnet else "no completed run yet"
    headline = (sec.failure or {}).get("headline", "failed")
    if headline.startswith("needs "):
        return headline.split(":", 1)[0]
    return headline if len(headline) <= 100 else headline[:97].rstrip() + "..."


def _overview_row(entry: FigureEntry, sec, reason: str) -> dict:
    """The summary table's row of one figure: number, status, its first numbers or why it has none, its run."""
    run = sec.provenance or ((sec.failure or {}).get("run") or {})
    if sec.status == "missing":
        detail = "no run yet"
    elif sec.status == "complete":
        detail = "; ".join(f"{k} {v}" for k, v in sec.summary[:2]) or "—"
    else:
        detail = (sec.failure or {}).get("headline", "")
    return {
        "number": sec.number,
        "anchor": sec.anchor,
        "id": entry.id,
        "title": sec.title,
        "status": sec.status,
        "detail": detail,
        "reason": reason,
        "run": run.get("run_id", ""),
        "duration": run.get("duration", ""),
    }


def _appendix(sections, pins) -> list[dict]:
    """One row per figure that has a run to show (completed, or the failed attempt): its provenance and why it is
    the one shown (newest completed, pinned, or its state)."""
    rows = []
    for section in sections:
        for fig in section.figures:
            if not (fig.provenance or (fig.failure and fig.failure.get("run"))):
                continue
            if fig.provenance:
                shown = "pinned, completed" if fig.entry.id in pins else "completed"
            else:
                shown = STATUS_WORDS[fig.status]
            rows.append(
                {
                    **(fig.provenance or fig.failure["run"]),
                    "number": fig.number,
                    "anchor": fig.anchor,
                    "title": fig.title,
                    "shown": shown,
                }
            )
    return rows


def collect(
    entries: _registry.Registry | Sequence[FigureEntry],
    source: RunSource,
    *,
    attempts: dict[str, Attempt] | None = None,
    assets: Path | None = None,
    database: str = "",
) -> Report:
    """Assemble the report model: sections in registry order, figures numbered, claims judged."""
    # Kept linear on purpose: the report model is assembled in the order the report reads; rows are built above.
    attempts = attempts or {}
    claims_decl = list(entries.claims) if isinstance(entries, _registry.Registry) else []
    figures = list(entries.figures) if isinstance(entries, _registry.Registry) else list(entries)
    counter = Counter()
    by_section: dict[str, list[FigureEntry]] = {}
    for e in figures:
        by_section.setdefault(e.section, []).append(e)

    sections, overview, reasons = [], [], {}
    for s_no, (name, members) in enumerate(by_section.items(), start=1):
        figs = []
        for f_no, entry in enumerate(members, start=1):
            sec, summary = figure_section(
                entry, f"{s_no}.{f_no}", source, counter, attempt=attempts.get(entry.id), assets=assets
            )
            figs.append(sec)
            if sec.status != "complete":
                reasons[entry.id] = _short_reason(entry, sec)
            overview.append(_overview_row(entry, sec, reasons.get(entry.id, "")))
        sections.append(
            Section(s_no, name, "sec-" + "".join(c if c.isalnum() else "-" for c in name.lower()), figs, [])
        )
    verdicts = judge_claims(claims_decl, source, reasons)
    forest = forest_src(verdicts, assets)
    sweep_sections = []
    if isinstance(entries, _registry.Registry):
        from restoration_reports import sweeps as _sweep_sections

        sweep_sections = _sweep_sections.sections(
            entries.path,
            first_figure=counter.figure + 1,
            to_src=lambda content, name: picture_src(content, name, assets),
        )
    appendix = _appendix(sections, getattr(source, "pins", {}))
    for section in sections:
        section.claims = [v for v in verdicts if v.claim.section == section.name]

    return Report(
        title=REPORT_TITLE,
        subtitle=REPORT_SUBTITLE,
        generated=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        code_commit=_git_commit(),
        database=database,
        weights_note=WEIGHTS_NOTE,
        sections=sections,
        overview=overview,
        claims=verdicts,
        claim_rows=claim_rows(verdicts),
        claims_method=method_text(verdicts),
        forest=forest,
        appendix=appendix,
        sweeps=sweep_sections,
    )


def render_html(report: Report, template_dir: Path = TEMPLATE_DIR) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css_path = template_dir / "report.css"
    css = css_path.read_text(encoding="utf-8") if css_path.exists() else ""
    return env.get_template(TEMPLATE_NAME).render(report=report, css=css, status_words=STATUS_WORDS)


# ----------------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------------


def build(
    out: str | Path = DEFAULT_OUT,
    *,
    registry: str | Path = DEFAULT_REGISTRY,
    source: RunSource | None = None,
    run_missing_figures: bool = False,
    embed: bool = True,
    timeout: float | None = None,
    pins: dict[str, str] | None = None,
) -> Path:
    """Write the HTML report to ``out`` and return its path (see the module docstring). ``pins``: ``{figure id:
    run id}`` shown instead of the figure's newest completed run."""
    entries = load_registry(registry)
    database = ""
    if source is None:
        from restoration_reports.runs import TrackingSource

        source = TrackingSource()
        try:
            database = source.tracking.describe(source.tracking.db_url())  # never the password
        except Exception:
            database = ""
    if pins:
        from restoration_reports.runs import PinnedSource

        source = PinnedSource(source, pins, {f.id for f in entries.figures})
    attempts = run_missing(entries.figures, source, timeout=timeout) if run_missing_figures else {}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    assets = None if embed else out.parent / (out.stem + "_files")
    report = collect(entries, source, attempts=attempts, assets=assets, database=database)
    atomic.write_text(out, render_html(report))  # whole or not at all: a full disk keeps the previous report
    return out


__all__ = [
    "FigureEntry",
    "load_registry",
    "run_missing",
    "collect",
    "render_html",
    "build",
    "write_pdf",
    "PdfEngineError",
    "engine_problem",
    "format_column",
    "format_number",
    "WEIGHTS_NOTE",
]
