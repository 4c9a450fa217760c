"""Numbers, times and files as the report writes them: one number (significant digits, thin-space thousands),
a table column (one precision per column), durations and times, data URIs."""

from __future__ import annotations

import base64
import datetime as _dt
import math
import mimetypes
import re
from pathlib import Path
from typing import Sequence

from restoration_reports import claims as _claims
from restoration_reports.pdf import PdfEngineError, engine_problem, write_pdf  # noqa: F401  (re-exported)
from restoration_reports.running import Attempt, run_missing  # noqa: F401  (re-exported: the report's entry points)
from restoration_reports.text import typeset
from restoration import atomic
from restoration.contract import measures as _measures


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


def picture_src(content: bytes, name: str, assets: Path | None) -> str:
    """A picture for the page: a data URI, or a file in the assets folder (``--no-embed``)."""
    if assets is None:
        return data_uri(content, name)
    atomic.write_bytes(assets / name, content)
    return f"{assets.name}/{name}"


def summary_label(key: str) -> str:
    """Display label of a summary key: the registered measure's label, unit and qualifier
    (``psnr_mean@pool2`` -> "PSNR, mean (dB), pool2"); an unregistered key (an older run) as written."""
    try:
        return _measures.label(key)
    except KeyError:
        return key if " " in key else key.replace("_", " ")
