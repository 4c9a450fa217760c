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

import base64
import datetime as _dt
import io
import json
import math
import mimetypes
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from restoration_reports import claims as _claims
from restoration_reports.pdf import PdfEngineError, engine_problem, write_pdf  # noqa: F401  (re-exported)
from restoration_reports.running import Attempt, run_missing  # noqa: F401  (re-exported: the report's entry points)
from restoration_reports.runs import RunSource, report_payload, summarize_failure
from restoration_reports.text import typeset
from restoration import atomic, paths
from restoration.contract import measures as _measures
from restoration.contract import registry as _registry
from restoration.contract.payload import Payload
from restoration.contract.registry import FigureEntry
from restoration.tracking.records import stored_section

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


def summary_label(key: str) -> str:
    """Display label of a summary key: the registered measure's label, unit and qualifier
    (``psnr_mean@pool2`` -> "PSNR, mean (dB), pool2"); an unregistered key (an older run) as written."""
    try:
        return _measures.label(key)
    except KeyError:
        return key if " " in key else key.replace("_", " ")


def load_registry(path: str | Path = DEFAULT_REGISTRY) -> _registry.Registry:
    """The figure registry (see :mod:`restoration.contract.registry`); errors name the file, the entry and the fix."""
    return _registry.load(path)


# ----------------------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------------------


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def format_number(v) -> str:
    """One number on its own (summaries, provenance)."""
    if isinstance(v, bool) or not _is_number(v):
        return "—" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}".replace(",", "\u2009")
    return _claims.fmt(v).replace(",", "\u2009")


_MEAN_SD = re.compile(r"^[-+]?[\d.,\u2009]+(e[-+]?\d+)?\s*±\s*[\d.,\u2009]+(e[-+]?\d+)?$")


def format_column(values: Sequence) -> tuple[list[str], bool]:
    """Format one table column with a shared number of decimals; return the strings and 'is numeric'."""
    present = [v for v in values if v is not None and v != ""]
    numeric = bool(present) and all(_is_number(v) for v in present)
    if present and not numeric and all(isinstance(v, str) and _MEAN_SD.match(v) for v in present):
        return [typeset(v) if v is not None else "—" for v in values], True  # "0.84 ± 0.07": aligned as numbers
    if not numeric:
        return ["—" if v is None else typeset(v) for v in values], False
    finite = [float(v) for v in present if math.isfinite(float(v))]
    if all(isinstance(v, int) for v in present):
        return [format_number(v) if v is not None else "—" for v in values], True
    big = max((abs(v) for v in finite), default=0.0)
    tiny = min((abs(v) for v in finite if v != 0), default=1.0)
    scientific = big >= 1e7 or tiny < 1e-4

    def one(v):
        if v is None or v == "":
            return "—"
        f = float(v)
        if _claims.non_finite_text(f):
            return _claims.non_finite_text(f)
        if scientific:
            return f"{f:.3e}"
        decimals = 0 if big == 0 else max(0, min(4, 3 - math.floor(math.log10(big))))
        return f"{f:,.{decimals}f}".replace(",", "\u2009")

    return [one(v) for v in values], True


def format_duration(seconds) -> str:
    if not _is_number(seconds):
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def format_time(t) -> str:
    if t is None:
        return "—"
    if isinstance(t, _dt.datetime):
        return t.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if t.tzinfo is None else "")
    return str(t)


def data_uri(content: bytes, filename: str) -> str:
    mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


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
class Counter:
    figure: int = 0
    table: int = 0

    def next_figure(self) -> int:
        self.figure += 1
        return self.figure

    def next_table(self) -> int:
        self.table += 1
        return self.table


@dataclass
class FigureSection:
    entry: FigureEntry
    number: str
    anchor: str
    status: str  # "complete", "failed", "missing", "running", "died", "incomplete",
    # "interrupted" (the newest attempt's state when none completed)
    title: str
    net: str | None = None
    hed: bool = False
    summary: list[tuple[str, str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)
    curves: dict | None = None
    provenance: dict | None = None
    failure: dict | None = None  # {"headline", "trace", "run": provenance or None}
    later_failure: dict | None = None  # a newer attempt than the completed run shown: its state
    notes: list[str] = field(default_factory=list)
    variant: str = ""


@dataclass
class Section:
    number: int
    name: str
    anchor: str
    figures: list[FigureSection]
    claims: list[_claims.Verdict]


def _value_text(v) -> str:
    if isinstance(v, float):
        return format_number(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def _provenance(record) -> dict:
    """What the appendix and the per-figure line say about a run: id, commit and whether the tree was dirty,
    seed, how its config differs from the experiment's defaults (``info["provenance"]``, recorded at run start),
    host, start, duration and the weights it used."""
    config = getattr(record, "config", None) or {}
    try:
        config_text = json.dumps(config, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        config_text = str(config)
    config = config if isinstance(config, dict) else {}
    recorded = stored_section(getattr(record, "info", None), "provenance")
    if recorded is not None:
        named = [str(n) for n in recorded.get("named_configs") or []]
        changes = [
            f"{k} = {_value_text(v)}" for k, v in sorted((recorded.get("changed") or {}).items()) if k != "profile"
        ]
        diff_known = True
    else:
        named, changes, diff_known = [str(config.get("profile"))] if config.get("profile") else [], [], False
    payload = report_payload(record) or {}
    weights = payload.get("net") or (
        f"{config.get('net', '')} weights={config.get('weights')}".strip()
        if "weights" in config
        else "none (no network)"
    )
    dirty = getattr(record, "dirty", None)
    precision_text, machine_text = _precision_texts(recorded if isinstance(recorded, dict) else {}, config)
    return {
        "precision": precision_text,
        "machine": machine_text,
        "run_id": str(getattr(record, "id", "—")),
        "experiment": getattr(record, "experiment", None),
        "status": getattr(record, "status", None),
        "commit": getattr(record, "commit", None) or "—",
        "dirty": dirty,
        "commit_text": (getattr(record, "commit", None) or "unknown")[:12]
        + {True: " (uncommitted changes)", False: "", None: ""}[dirty],
        "host": getattr(record, "host", None) or "—",
        "start": format_time(getattr(record, "start_time", None)),
        "duration": format_duration(getattr(record, "duration_s", None)),
        "profile": config.get("profile"),
        "seed": config.get("seed"),
        "config": config_text,
        "named_configs": named,
        "changes": changes,
        "diff_known": diff_known,
        "weights": typeset(weights),
    }


def _precision_texts(recorded: dict, config: dict) -> tuple[str, str]:
    """The appendix's precision line (what the run computed in, and why) and machine line (CPU, its kernel flags,
    the oneDNN switches and ISA), from ``info.provenance`` as :func:`restoration.precision.provenance` records it."""
    prec, machine = recorded.get("precision"), recorded.get("machine")
    if isinstance(prec, dict):
        config_value = prec.get("config")
        resolved = prec.get("resolved") or "could not resolve"
        why = prec.get("reason") or ""
        precision_text = (
            f"{resolved} (auto: {why})"
            if config_value == "auto"
            else f"{resolved} (set by the config; auto would choose {prec.get('auto_would_choose')})"
        )
    else:
        value = config.get("precision")
        precision_text = f"{value} (machine not recorded: the run predates the precision probe)" if value else "—"
    if isinstance(machine, dict):
        env = ", ".join(f"{k}={v}" for k, v in (machine.get("env") or {}).items())
        machine_text = (
            f"{machine.get('cpu')}, {machine.get('cores')} cores; flags "
            f"{' '.join(machine.get('flags') or []) or 'none'}; oneDNN ISA: {machine.get('onednn_isa')}"
            + (f"; {env}" if env else "")
            + f"; TensorFlow {machine.get('tensorflow')}"
        )
    else:
        machine_text = "not recorded"
    return typeset(precision_text), typeset(machine_text)


def _is_hed(label: str | None, record) -> bool:
    text = (label or "").lower()
    if text.startswith("no network"):  # an image prior: trained on photo patches, no net involved
        return False
    if "hed" in text:
        return True
    config = getattr(record, "config", None) or {}
    return (
        isinstance(config, dict)
        and str(config.get("weights", "")).lower() == "hed"
        and config.get("net", "vgg16") == "vgg16"
    )


def _artifact(record, name: str, fig_id: str, assets: Path | None) -> tuple[str | None, str]:
    """A stored picture for the page and ``""``, or ``None`` and why it cannot be shown (missing, or bytes that
    do not decode as an image: a corrupted artifact is said, never embedded as a broken image)."""
    try:
        content = record.artifact(name)
    except Exception:
        content = None
    if content is None:
        return None, "not found"
    problem = unreadable_image(content, name)
    if problem:
        return None, problem
    return _bytes_src(content, f"{fig_id}_{Path(name).name}", assets), ""


def unreadable_image(content: bytes, name: str) -> str:
    """Why ``content`` is not a picture a page can show (``""`` when it is): it must decode completely."""
    if not name.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".svg")):
        return ""
    if name.lower().endswith(".svg"):
        return "" if b"<svg" in content[:4096] else "is not an SVG image"
    try:
        from PIL import Image

        with Image.open(io.BytesIO(content)) as im:
            im.load()  # decodes every pixel: a truncated or garbled file fails here
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for bad bytes
        return f"is not a readable image ({type(e).__name__}); the stored file is damaged"
    return ""


def _bytes_src(content: bytes, name: str, assets: Path | None) -> str:
    """A picture for the page: a data URI, or a file in the assets folder (``--no-embed``)."""
    if assets is None:
        return data_uri(content, name)
    atomic.write_bytes(assets / name, content)
    return f"{assets.name}/{name}"


def _curves(record, fig_id: str, assets: Path | None) -> tuple[str | None, list[str]]:
    try:
        series = record.metrics() or {}
    except Exception:
        return None, []
    series = {k: v for k, v in series.items() if v is not None and len(v[0]) > 0}
    if not series:
        return None, []
    from restoration_reports import plots  # matplotlib only when there is something to draw

    names = sorted(series)
    if len(names) > 12:  # many terms logged (e.g. one set per layer): show the objectives, not every term
        names = [n for n in names if re.search(r"(total|loss)$", n)] or names
    names = names[:12]
    fig = plots.loss_curves({k: series[k] for k in names})
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return _bytes_src(buf.getvalue(), f"{fig_id}_curves.png", assets), names


def _start(record):
    t = getattr(record, "start_time", None)
    return t if isinstance(t, _dt.datetime) else None


def figure_section(
    entry: FigureEntry,
    number: str,
    source: RunSource,
    counter: Counter,
    *,
    attempt: Attempt | None = None,
    assets: Path | None = None,
) -> tuple[FigureSection, dict | None]:
    """Build one figure's section; also return its summary dict (for claims) or None."""
    sec = FigureSection(entry=entry, number=number, anchor=entry.id, status="missing", title=typeset(entry.title))
    record = source.latest_completed(entry.id)
    latest = source.latest(entry.id)
    if record is None:
        _not_completed(sec, latest, attempt, source)
        return sec, None

    sec.status = "complete"
    sec.provenance = _provenance(record)
    payload = Payload.from_dict(report_payload(record))
    if payload is None:
        sec.notes.append(
            "This run stored no report payload (tracking.set_report); only its provenance and logged metrics are shown."
        )
        payload = Payload(title="", net="")
    sec.net = payload.net or None
    sec.hed = _is_hed(sec.net, record)
    sec.variant = payload.variant
    summary = dict(payload.summary)
    sec.summary = [(summary_label(k), format_number(v)) for k, v in summary.items()]
    sec.paragraphs = [typeset(p) for p in payload.paragraphs]
    for fig in payload.figures:
        src, why = _artifact(record, fig.artifact, entry.id, assets)
        sec.figures.append(
            {
                "number": counter.next_figure(),
                "src": src,
                "artifact": fig.artifact,
                "caption": typeset(fig.caption),
                "missing": src is None,
                "why": why,
            }
        )
    sec.tables = [_table_block(tab, counter) for tab in payload.tables]
    sec.curves = _curves_block(record, entry.id, assets, counter, payload, sec.provenance["run_id"])
    sec.later_failure = _later_attempt(record, latest, source)
    return sec, summary


def _not_completed(sec: FigureSection, latest, attempt: Attempt | None, source: RunSource) -> None:
    """The section of a figure without a completed run: its failed or running attempt, or nothing."""
    state = getattr(latest, "state", None) or getattr(latest, "status", None)
    if latest is not None and state == "FAILED":
        failure = summarize_failure(source.fail_trace(latest))
        sec.status = "failed"
        sec.failure = {"headline": failure.headline, "trace": source.fail_trace(latest), "run": _provenance(latest)}
        sec.net = (report_payload(latest) or {}).get("net")
    elif latest is not None:
        sec.status = str(state).lower()
        sec.failure = {"headline": _attempt_text(latest), "trace": "", "run": _provenance(latest)}
    elif attempt is not None and attempt.returncode != 0:
        sec.status = "failed"
        failure = summarize_failure(attempt.output_tail)
        sec.failure = {
            "headline": failure.headline + " (the run did not reach the database)",
            "trace": attempt.output_tail,
            "run": None,
        }


def _table_block(tab, counter: Counter) -> dict:
    """One payload table as the template shows it: formatted columns, numeric ones aligned, a total row ruled."""
    rows, width = tab.rows, len(tab.columns)
    formatted_cols, numeric = [], []
    for j in range(width):
        strings, is_num = format_column([r[j] for r in rows])
        formatted_cols.append(strings)
        numeric.append(is_num)
    body = [[formatted_cols[j][i] for j in range(width)] for i in range(len(rows))]
    # A last row named "mean"/"total"/... summarises the others: ruled off and bold.
    total_rows = [
        i
        for i, r in enumerate(rows)
        if i == len(rows) - 1
        and len(rows) > 2
        and r
        and str(r[0]).strip().lower() in ("mean", "average", "total", "all", "overall")
    ]
    return {
        "number": counter.next_table(),
        "title": typeset(tab.title),
        "columns": [typeset(c) for c in tab.columns],
        "rows": body,
        "numeric": numeric,
        "total_rows": total_rows,
    }


def _curves_block(
    record, fig_id: str, assets: Path | None, counter: Counter, payload: Payload, run_id: str
) -> dict | None:
    """The run's logged metrics as a figure; folded under provenance when the run declares its own curve figure
    (FigureRef kind ``curves``) rather than numbered twice."""
    src, names = _curves(record, fig_id, assets)
    if not src:
        return None
    own = any(f.kind == "curves" for f in payload.figures)
    return {
        "number": None if own else counter.next_figure(),
        "src": src,
        "folded": own,
        "caption": "Logged metrics of run " + run_id + ": " + ", ".join(names) + " against step (faint: raw; "
        "solid: moving average for long series).",
    }


def _later_attempt(record, latest, source: RunSource) -> dict | None:
    """A newer attempt than the completed run shown (failed or still running), or None."""
    if (
        latest is None
        or getattr(latest, "id", None) == getattr(record, "id", None)
        or not _start(latest)
        or not _start(record)
        or not _start(latest) > _start(record)
    ):
        return None
    state = getattr(latest, "state", None) or getattr(latest, "status", None)
    text = summarize_failure(source.fail_trace(latest)).headline if state == "FAILED" else _attempt_text(latest)
    return {"run_id": str(getattr(latest, "id", "?")), "start": format_time(_start(latest)), "headline": text}


def _attempt_text(record) -> str:
    """What a run that has not completed is doing, for readers (from ``RunRecord.state_text``)."""
    text = getattr(record, "state_text", None) or str(getattr(record, "status", "")).lower()
    state = getattr(record, "state", None)
    hint = {
        "DIED": "; resume it with `python -m restoration resume --dead`",
        "INTERRUPTED": "; re-run the same command to resume from its checkpoints",
        "INCOMPLETE": "",
    }.get(state, "")
    return text + hint


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


def _forest_src(verdicts: Sequence[_claims.Verdict], assets: Path | None) -> str | None:
    from restoration_reports.forest import forest_png

    png = forest_png(verdicts)
    return _bytes_src(png, "claims_forest.png", assets) if png else None


def _claim_rows(verdicts: Sequence[_claims.Verdict]) -> list[dict]:
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
    forest = _forest_src(verdicts, assets)
    sweep_sections = []
    if isinstance(entries, _registry.Registry):
        from restoration_reports import sweeps as _sweep_sections

        sweep_sections = _sweep_sections.sections(
            entries.path,
            first_figure=counter.figure + 1,
            to_src=lambda content, name: _bytes_src(content, name, assets),
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
        claim_rows=_claim_rows(verdicts),
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
