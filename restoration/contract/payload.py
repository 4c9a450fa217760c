"""What a run hands the report: typed data, stored as JSON in the run's ``info["report"]``.

A :class:`Payload` holds the run's title, the network it used (with the honest weights label), a summary of
registered measures (:mod:`restoration.contract.measures`; the keys the claims are judged on), paragraphs, figures (PNG
artifacts of the run) and tables. Experiments build one, :func:`restoration.tracking.set_report` checks and
stores it, the report builder reads it back with :meth:`Payload.from_dict`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from restoration.contract import measures

FORMAT = "restoration.contract.payload/1"


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
    """A figure of the run: the PNG artifact's file name, its caption and its kind (``"curves"`` for the run's own
    plot of its logged metrics: the report then draws none of its own)."""

    artifact: str
    caption: str = ""
    kind: str = ""


@dataclass
class ImageScores:
    """Per-image scores of one evaluation: the image (crop) ids and, per measure key of the summary it stands
    behind (``psnr_mean``, ``ssim_mean``, ``mse_mean``, ...), one value per image in that order.

    A claim pairs two sides image by image on these (:mod:`restoration_reports.claims`); the summary's ``psnr_mean`` is
    their mean. Image ids name the photo and the crop (``"chelsea#3"``) so two runs on the same held-out set
    pair exactly.
    """

    images: list[str]
    values: dict[str, list[float]]

    def __post_init__(self):
        self.images = [str(i) for i in self.images]
        if len(set(self.images)) != len(self.images):
            raise ValueError(f"per-image scores: image ids repeat ({self.images}); give each crop its own id")
        for key, vals in self.values.items():
            measures.get(key)
            if len(vals) != len(self.images):
                raise ValueError(f"per-image scores {key!r}: {len(vals)} values for {len(self.images)} images")

    @classmethod
    def from_batch(cls, images, scores) -> "ImageScores":
        """From per-image arrays named as :func:`restoration.metrics.score_batch` names them (``psnr``, ``ssim``,
        ``mse``, ``nerr``: keyed here by the measures they stand behind, ``psnr_mean``, ...) or by a measure key
        (``feat_err``, ``map_err``); any other name is a ``ValueError``."""
        values = {}
        for name, vals in scores.items():
            key = f"{name}_mean" if f"{name}_mean" in measures.MEASURES else name
            if key not in measures.MEASURES:
                raise ValueError(
                    f"per-image scores {name!r} stand behind no measure; use a score_batch name (psnr, "
                    f"ssim, mse, nerr) or a measure key (restoration/contract/measures.py)"
                )
            values[key] = [float(v) for v in np.ravel(vals)]
        return cls(list(images), values)

    def to_dict(self) -> dict:
        return {
            "images": list(self.images),
            "values": {
                k: [None if not math.isfinite(v) else float(v) for v in vals] for k, vals in self.values.items()
            },
        }

    @classmethod
    def from_dict(cls, d) -> "ImageScores | None":
        if not isinstance(d, dict) or not isinstance(d.get("images"), list) or not isinstance(d.get("values"), dict):
            return None
        try:
            return cls(
                [str(i) for i in d["images"]],
                {
                    str(k): [math.nan if v is None else float(v) for v in vals]
                    for k, vals in d["values"].items()
                    if isinstance(vals, list)
                },
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Comparability:
    """What must match for two runs' numbers to be compared in a claim (:func:`restoration_reports.claims` guard):
    the profile (``quick``, ``thesis``, ``custom``), the figure's variant, the resolved precision, the image set
    (photos, crop size, held-out split) and the training/optimisation steps; and what made the numbers: the code
    digest and the inputs the run loaded. Filled from the run by :func:`restoration.tracking.set_report`; an empty
    field means "not recorded" (an older run)."""

    profile: str = ""
    variant: str = ""
    precision: str = ""
    image_set: str = ""
    steps: str = ""
    variants: str = ""  # the variants the figure offers ("final,may"): sides offering the same must match
    code: str = ""  # restoration.code_digest of the code that ran: a claim pairs only runs of the current code
    inputs: str = ""  # digest of the priors and stored modules the run loaded (restoration.code_digest.loaded)
    stale_inputs: str = ""  # those of them made by other code ("prior full512, module DC1"): the run is not current
    priors: str = ""  # the learned priors the run loaded by name ("full512, cica_image"), trained once, not per seed

    def differences(
        self, other: "Comparability", fields=("profile", "variant", "precision", "image_set")
    ) -> list[tuple[str, str, str]]:
        """``[(field, mine, theirs), ...]`` where both are recorded and differ."""
        return [
            (f, getattr(self, f), getattr(other, f))
            for f in fields
            if getattr(self, f) and getattr(other, f) and getattr(self, f) != getattr(other, f)
        ]


@dataclass
class Payload:
    """Everything the report shows of one run; see the module docstring.

    ``summary`` maps measure keys (``psnr_mean``, ``psnr_mean@pool2``, ...) to numbers, in display order;
    ``variant`` names which set-up ran when a figure has several (e.g. the thesis's May and final specs).
    ``scores`` holds the per-image scores behind the summary, keyed by the summary's qualifier (``""`` for
    ``psnr_mean``, ``"pool2"`` for ``psnr_mean@pool2``); ``seed`` and ``comparable`` are filled from the run by
    :func:`restoration.tracking.set_report` (a claim pairs runs of equal comparability seed by seed).
    """

    title: str
    net: str
    summary: dict[str, float] = field(default_factory=dict)
    paragraphs: list[str] = field(default_factory=list)
    figures: list[FigureRef] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    variant: str = ""
    scores: dict[str, ImageScores] = field(default_factory=dict)
    seed: int | None = None
    comparable: Comparability = field(default_factory=Comparability)

    def validate(self) -> "Payload":
        """Every summary key is a registered measure and every value a number (NaN allowed, it says so)."""
        for key, value in self.summary.items():
            measures.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"payload summary {key!r} = {value!r} is not a number")
        for qualifier, sc in self.scores.items():
            if not isinstance(sc, ImageScores):
                raise ValueError(f"payload scores[{qualifier!r}] is a {type(sc).__name__}, not ImageScores")
        return self

    def image_scores(self, key: str) -> tuple[list[str], list[float]] | None:
        """The per-image values behind summary ``key`` (``psnr_mean@pool2``) as ``(image ids, values)``;
        ``None`` when the run stored none (an older run)."""
        base, qualifier = measures.split_key(key)
        sc = self.scores.get(qualifier)
        if sc is None or base not in sc.values:
            return None
        return list(sc.images), list(sc.values[base])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["format"] = FORMAT
        d["scores"] = {q: sc.to_dict() for q, sc in self.scores.items()}
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
            if isinstance(summary, dict)
            else {},
            paragraphs=[str(p) for p in d.get("paragraphs") or []],
            figures=[
                FigureRef(f.get("artifact", ""), f.get("caption", ""), f.get("kind", ""))
                if isinstance(f, dict)
                else FigureRef(str(f))
                for f in d.get("figures") or []
            ],
            tables=[_table(t) for t in d.get("tables") or [] if isinstance(t, dict)],
            variant=str(d.get("variant") or ""),
            scores={
                str(q): sc
                for q, sc in ((q, ImageScores.from_dict(v)) for q, v in (d.get("scores") or {}).items())
                if sc is not None
            }
            if isinstance(d.get("scores"), dict)
            else {},
            seed=d.get("seed") if isinstance(d.get("seed"), int) and not isinstance(d.get("seed"), bool) else None,
            comparable=_comparability(d.get("comparable")),
        )

    def value(self, key: str) -> float | None:
        v = self.summary.get(key)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _comparability(d) -> Comparability:
    if not isinstance(d, dict):
        return Comparability()
    return Comparability(**{k: str(d.get(k) or "") for k in [f.name for f in fields(Comparability)]})


def _table(t: dict) -> Table:
    """A stored table, ragged rows padded with empty cells (as an older run may have stored them)."""
    columns = [str(c) for c in t.get("columns") or []]
    rows = [list(r) for r in t.get("rows") or []]
    width = max([len(columns)] + [len(r) for r in rows])
    return Table(
        str(t.get("title", "")), columns + [""] * (width - len(columns)), [r + [None] * (width - len(r)) for r in rows]
    )


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
