"""One figure's section of the report: its run (the newest completed attempt, or a pinned one), the payload's
summary, paragraphs, figures and tables, the training curves the run did not draw itself, its provenance, and why
a figure without a completed run has none."""

from __future__ import annotations

import datetime as _dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from restoration_reports import claims as _claims
from restoration_reports.formatting import (
    format_column,
    format_duration,
    format_number,
    format_time,
    picture_src,
    summary_label,
)
from restoration_reports.pdf import PdfEngineError, engine_problem, write_pdf  # noqa: F401  (re-exported)
from restoration_reports.running import Attempt, run_missing  # noqa: F401  (re-exported: the report's entry points)
from restoration_reports.runs import RunSource, report_payload, summarize_failure
from restoration_reports.text import typeset
from restoration.contract.payload import Payload
from restoration.contract.registry import FigureEntry
from restoration.tracking.records import stored_section


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
    prec, machine, library = recorded.get("precision"), recorded.get("machine"), recorded.get("kernel_library")
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
            + _library_text(library)
        )
    else:
        machine_text = "not recorded"
    return typeset(precision_text), typeset(machine_text)


def _library_text(library) -> str:
    """The kernel library a run computed on, as :mod:`restoration.kernel_library` records it ("" for older runs)."""
    if not isinstance(library, dict):
        return ""
    used = library.get("tensorflow_reports") or library.get("in_effect")
    default = library.get("tensorflow_default")
    why = "TensorFlow's default here" if used == default else f"auto over TensorFlow's default {default}"
    if library.get("setting") not in (None, "auto"):
        why = f"forced by RESTORATION_KERNELS={library.get('setting')}"
    return f"; kernel library: {used} ({why})"


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
    return picture_src(content, f"{fig_id}_{Path(name).name}", assets), ""


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
    return picture_src(buf.getvalue(), f"{fig_id}_curves.png", assets), names


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
