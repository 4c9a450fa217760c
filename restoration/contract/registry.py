"""The registry of thesis results: figures and the claims judged on them, read from ``experiments/registry.toml``.

One reader for everything that needs it: ``python -m restoration_experiments`` (which module runs a figure), the report
(sections, order, claims) and ``make reproduce-all``. Loading checks the whole file and fails loudly, naming
the file, the table and the fix, when a figure lacks a key, two entries share an id, or a claim names a figure
or a measure that does not exist.

File layout::

    [figures.fig06]
    module = "restoration_experiments.fig06_vgg16_pool1_stacked"   # the Sacred experiment
    title = "Fig. 6: VGG16 pool1 -> image, three modules trained separately and stacked"
    section = "Training modes and depth"               # report chapter (chapters appear in first-use order)
    order = 6                                          # position in the report and in reproduce-all
    net = "vgg16"                                      # "alexnet" figures need bvlc_alexnet.npy
    analogue_of = "fig11"                              # optional: this is the VGG16 analogue of an AlexNet figure

    [[claims]]
    id = "stacked_beats_end_to_end_vgg16"
    statement = "Separately trained, stacked modules beat the same modules trained end to end (VGG16 pool1)"
    thesis = "May 10, result 1"                        # where the thesis says so
    pairs = [["fig06", "fig05"]]                       # [expected better, expected worse], ...
    measures = ["psnr_mean", "ssim_mean", "nerr_mean"]
    on_par = {psnr_mean = 1.0, ...}                    # optional: "on par with" within these tolerances
    min_effect = {psnr_mean = 1.0}                     # the least effect; required when the words say "much"

A side of a pair is a figure id, optionally with a qualifier after ``@`` that selects summary keys of that
run: ``"fig08@pool2"`` is judged on ``psnr_mean@pool2``, ... of fig08's latest completed run.
"""

from __future__ import annotations

import tomllib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from restoration import paths
from restoration.contract import measures as _measures

DEFAULT_PATH = paths.experiments_dir() / "registry.toml"
NETS = ("vgg16", "alexnet")
_FIGURE_KEYS = ("module", "title", "section", "order")


@dataclass(frozen=True)
class FigureEntry:
    """One thesis result: its id (``fig06``), experiment module, title, report chapter and position."""

    id: str
    module: str
    title: str
    section: str
    order: float
    net: str = "vgg16"
    analogue_of: str = ""
    # config values every claims replicate of this figure gets (``replicate = {methods = [...]}``): only what
    # the claims read, where the figure computes independent parts (the benchmark's cells)
    replicate: tuple[tuple[str, object], ...] = field(default=(), hash=False)

    @property
    def needs_alexnet(self) -> bool:
        return self.net == "alexnet"


@dataclass(frozen=True)
class Side:
    """One side of a claim's comparison: a figure's latest completed run, optionally a qualified part of it."""

    figure: str
    qualifier: str = ""

    @classmethod
    def parse(cls, text: str) -> "Side":
        figure, _, qualifier = str(text).partition("@")
        return cls(figure.strip(), qualifier.strip())

    def key(self, measure: str) -> str:
        """The summary key of ``measure`` on this side (``psnr_mean@pool2``)."""
        return f"{measure}@{self.qualifier}" if self.qualifier else measure

    def __str__(self) -> str:
        return f"{self.figure}@{self.qualifier}" if self.qualifier else self.figure


@dataclass(frozen=True)
class Claim:
    """A thesis claim: in every pair the first side is expected to beat the second on every measure; or, with
    ``on_par`` (measure -> tolerance), to lie within the tolerance of the second ("on par with")."""

    id: str
    statement: str
    thesis: str
    pairs: tuple[tuple[Side, Side], ...]
    measures: tuple[str, ...]
    section: str = ""
    on_par: tuple[tuple[str, float], ...] = ()
    min_effect: tuple[tuple[str, float], ...] = ()  # measure -> the least effect the claim's words ask for

    def tolerance(self, measure: str) -> float | None:
        return dict(self.on_par).get(measure)

    def minimum(self, measure: str) -> float:
        """The least effect on ``measure`` the claim asserts (0: any improvement)."""
        return dict(self.min_effect).get(measure, 0.0)

    @property
    def figures(self) -> tuple[str, ...]:
        seen = []
        for pair in self.pairs:
            for side in pair:
                if side.figure not in seen:
                    seen.append(side.figure)
        return tuple(seen)


@dataclass(frozen=True)
class Registry:
    path: Path
    figures: tuple[FigureEntry, ...]
    claims: tuple[Claim, ...]

    def figure(self, fig_id: str) -> FigureEntry:
        for f in self.figures:
            if f.id == fig_id:
                return f
        raise KeyError(f"no figure {fig_id!r} in {self.path}; registered: {', '.join(self.ids)}")

    @property
    def ids(self) -> list[str]:
        return [f.id for f in self.figures]

    def sections(self) -> list[str]:
        out = []
        for f in self.figures:
            if f.section not in out:
                out.append(f.section)
        return out

    def resolve(self, name: str) -> str:
        """A figure id from what a user typed: ``fig06``, ``6``, ``06`` or ``fig6``; ``KeyError`` otherwise."""
        text = str(name).strip()
        candidates = [text]
        digits = text[3:] if text.lower().startswith("fig") else text
        if digits.isascii() and digits.isdigit():  # not "²", which isdigit() takes and int() refuses
            candidates.append(f"fig{int(digits):02d}")
        for c in candidates:
            if c in self.ids:
                return c
        raise KeyError(f"unknown figure {name!r}; registered: {', '.join(self.ids)}")


def _fail(path: Path, where: str, message: str):
    raise ValueError(f"registry {path}: {where}: {message}")


def read(path: str | Path = DEFAULT_PATH) -> dict:
    """The registry file's tables as parsed TOML; a missing or broken file is one line naming it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"figure registry {path} not found; pass --registry PATH") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"figure registry {path} is not valid TOML: {exc}") from exc


def _figure(path: Path, fig_id: str, table) -> FigureEntry:
    """One ``[figures.<id>]`` table, checked."""
    where = f"[figures.{fig_id}]"
    if not isinstance(table, dict):
        _fail(path, where, "must be a table")
    missing = [k for k in _FIGURE_KEYS if k not in table]
    if missing:
        _fail(path, where, f"lacks {', '.join(missing)}; add them")
    extra = set(table) - set(_FIGURE_KEYS) - {"net", "analogue_of", "replicate"}
    if extra:
        _fail(path, where, f"unknown keys {sorted(extra)}")
    net = str(table.get("net", "vgg16"))
    if net not in NETS:
        _fail(path, where, f"net = {net!r}; use one of {NETS}")
    replicate = table.get("replicate") or {}
    if not isinstance(replicate, dict):
        _fail(path, where, "replicate must be a table of config values, e.g. replicate = {methods = ['mv2016']}")
    return FigureEntry(
        fig_id,
        str(table["module"]),
        str(table["title"]),
        str(table["section"]),
        float(table["order"]),
        net,
        str(table.get("analogue_of", "")),
        tuple(sorted(replicate.items())),
    )


def _pairs(path: Path, where: str, table, ids: list[str]) -> list[tuple[Side, Side]]:
    """A claim's ``pairs``: each ``[better, worse]`` of registered figures."""
    pairs = []
    for pair in table["pairs"]:
        if not isinstance(pair, list) or len(pair) != 2:
            _fail(path, where, f"pair {pair!r} must be [better, worse]")
        sides = tuple(Side.parse(s) for s in pair)
        for side in sides:
            if side.figure not in ids:
                _fail(
                    path, where, f"names figure {side.figure!r}, which is not registered (registered: {', '.join(ids)})"
                )
        pairs.append(sides)
    if not pairs:
        _fail(path, where, "has no pairs")
    return pairs


def _claim(path: Path, n: int, table, figures: list[FigureEntry]) -> Claim:
    """The ``n``-th ``[[claims]]`` table, checked against the registered figures and the measures."""
    where = f"[[claims]] #{n + 1} ({table.get('id', '?')})"
    missing = [k for k in ("id", "statement", "thesis", "pairs", "measures") if k not in table]
    if missing:
        _fail(path, where, f"lacks {', '.join(missing)}; add them")
    extra = set(table) - {"id", "statement", "thesis", "pairs", "measures", "section", "on_par", "min_effect"}
    if extra:
        _fail(path, where, f"unknown keys {sorted(extra)}")
    on_par = table.get("on_par") or {}
    if on_par and (
        not isinstance(on_par, dict)
        or set(on_par) != set(table["measures"])
        or not all(isinstance(v, (int, float)) and v >= 0 for v in on_par.values())
    ):
        _fail(
            path,
            where,
            "on_par must give a tolerance >= 0 for every measure, e.g. on_par = {psnr_mean = 1.0, ssim_mean = 0.03}",
        )
    pairs = _pairs(path, where, table, [f.id for f in figures])
    for key in table["measures"]:
        try:
            m = _measures.get(key)
        except KeyError as e:
            _fail(path, where, str(e.args[0]))
        if m.better is None:
            _fail(path, where, f"measure {key!r} has no better direction; a claim cannot be judged on it")
    min_effect = _min_effect(path, where, table)  # after the measures are known to exist
    section = str(table.get("section") or next(f.section for f in figures if f.id == pairs[0][0].figure))
    return Claim(
        str(table["id"]),
        str(table["statement"]),
        str(table["thesis"]),
        tuple(pairs),
        tuple(str(k) for k in table["measures"]),
        section,
        tuple((str(k), float(v)) for k, v in on_par.items()),
        min_effect,
    )


#: words of a claim that assert a size, not just a direction: such a claim must declare ``min_effect``
SIZE_WORDS = ("much", "gradually", "substantially", "considerably", "far better", "clearly")


def _min_effect(path: Path, where: str, table) -> tuple[tuple[str, float], ...]:
    """A claim's ``min_effect = {psnr_mean = 1.0}`` (each a voting measure, > 0), required when its statement
    asserts a size (:data:`SIZE_WORDS`)."""
    raw = table.get("min_effect") or {}
    words = [w for w in SIZE_WORDS if re.search(rf"\b{w}\b", str(table["statement"]), re.IGNORECASE)]
    if words and not raw:
        _fail(
            path,
            where,
            f"its statement says {words[0]!r}, a size: declare the least effect it asserts, e.g. "
            f"min_effect = {{psnr_mean = 1.0}}",
        )
    voting = set(_measures.voters(table["measures"]))
    if not isinstance(raw, dict) or not all(
        k in voting and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for k, v in raw.items()
    ):
        _fail(
            path,
            where,
            f"min_effect must give a least effect > 0 for voting measures ({', '.join(sorted(voting))}), e.g. "
            f"min_effect = {{psnr_mean = 1.0}}",
        )
    return tuple((str(k), float(v)) for k, v in raw.items())


def load(path: str | Path = DEFAULT_PATH) -> Registry:
    """Read and check the registry (see the module docstring); errors name the file, the entry and the fix."""
    path = Path(path)
    data = read(path)
    unknown = set(data) - {"figures", "claims", "sweeps"}  # sweeps: read by restoration.sweeps
    if unknown:
        _fail(path, "top level", f"unknown tables {sorted(unknown)}; use [figures.<id>] and [[claims]]")
    figures = sorted(
        (_figure(path, i, t) for i, t in (data.get("figures") or {}).items()), key=lambda f: (f.order, f.id)
    )
    if not figures:
        _fail(
            path,
            "top level",
            "declares no figures; add [figures.<id>] tables (module, title, section, order), "
            "or pass --registry with the project's experiments/registry.toml",
        )
    ids = [f.id for f in figures]
    for f in figures:
        if f.analogue_of and f.analogue_of not in ids:
            _fail(path, f"[figures.{f.id}]", f"analogue_of = {f.analogue_of!r} is not a registered figure")
    claims = [_claim(path, n, t, figures) for n, t in enumerate(data.get("claims") or [])]
    seen = set()
    for n, c in enumerate(claims):
        if c.id in seen:
            _fail(path, f"[[claims]] #{n + 1} ({c.id})", "duplicate claim id")
        seen.add(c.id)
    return Registry(path, tuple(figures), tuple(claims))


@functools.lru_cache(maxsize=1)
def _default() -> Registry:
    return load()


def title(fig_id: str) -> str:
    """The title of figure ``fig_id``: its one source is ``experiments/registry.toml`` (the experiment's payload,
    the report and the command lines all read it here)."""
    return _default().figure(fig_id).title
