"""What a run hands the report: typed data, stored as JSON in the run's ``info["report"]``.

A :class:`Payload` holds the run's title, the network it used (with the honest weights label), a summary of
registered measures (:mod:`restoration.measures`; the keys the claims are judged on), paragraphs, figures (PNG
artifacts of the run) and tables. Experiments build one, :func:`restoration.tracking.set_report` checks and
stores it, the report builder reads it back with :meth:`Payload.from_dict`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from restoration import measures

FORMAT = "restoration.payload/1"


@dataclass
class Table:
    """A table: ``rows`` of cells (numbers, strings or None), one per entry of ``columns``."""

    title: str
    columns: list[str]
    rows: list[list]

    def __post_init__(self):
        width = len(self.columns)
        bad = [i for i, r in enumerate(self.rows) if len(r) != width]
        if bad:
            raise ValueError(f"table {self.title!r}: rows {bad} do not have {width} cells (columns {self.columns})")


@dataclass
class FigureRef:
    """A figure of the run: the PNG artifact's file name and its caption."""

    artifact: str
    caption: str = ""


@dataclass
class Payload:
    """Everything the report shows of one run; see the module docstring.

    ``summary`` maps measure keys (``psnr_mean``, ``psnr_mean@pool2``, ...) to numbers, in display order;
    ``variant`` names which set-up ran when a figure has several (e.g. the thesis's May and final specs).
    """

    title: str
    net: str
    summary: dict[str, float] = field(default_factory=dict)
    paragraphs: list[str] = field(default_factory=list)
    figures: list[FigureRef] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    variant: str = ""

    def validate(self) -> "Payload":
        """Every summary key is a registered measure and every value a number (NaN allowed, it says so)."""
        for key, value in self.summary.items():
            measures.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"payload summary {key!r} = {value!r} is not a number")
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["format"] = FORMAT
        d["summary"] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.summary.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "Payload | None":
        """Read a stored payload; ``None`` for none. Unknown extra keys are ignored (older or newer runs)."""
        if not isinstance(d, dict):
            return None
        summary = d.get("summary") or {}
        return cls(
            title=str(d.get("title") or ""),
            net=str(d.get("net") or ""),
            summary={str(k): (math.nan if v is None else v) for k, v in summary.items()}
            if isinstance(summary, dict) else {},
            paragraphs=[str(p) for p in d.get("paragraphs") or []],
            figures=[FigureRef(f.get("artifact", ""), f.get("caption", "")) if isinstance(f, dict)
                     else FigureRef(str(f)) for f in d.get("figures") or []],
            tables=[_table(t) for t in d.get("tables") or [] if isinstance(t, dict)],
            variant=str(d.get("variant") or ""),
        )

    def value(self, key: str) -> float | None:
        v = self.summary.get(key)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _table(t: dict) -> Table:
    """A stored table, ragged rows padded with empty cells (as an older run may have stored them)."""
    columns = [str(c) for c in t.get("columns") or []]
    rows = [list(r) for r in t.get("rows") or []]
    width = max([len(columns)] + [len(r) for r in rows])
    return Table(str(t.get("title", "")), columns + [""] * (width - len(columns)),
                 [r + [None] * (width - len(r)) for r in rows])


def unflatten(info: dict) -> dict:
    """Undo Sacred's SQL ``flatten`` of ``run.info`` (``{"report.summary.psnr": 1}`` -> nested dicts); nested
    values are left as they are; anything but a dict gives ``{}``."""
    if not isinstance(info, dict):
        return {}
    out: dict = {}
    for key, value in info.items():
        parts = str(key).split(".") if isinstance(key, str) and "." in key else [key]
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return out
