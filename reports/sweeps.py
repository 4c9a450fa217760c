"""The report's sweeps chapter: each sweep declared in the registry as a curve, one point per completed run.

The x axis is the sweep's first grid key (log-scaled when its values span a factor of 10 or more), one line per
combination of the other keys; the y axis is the sweep's measure from each run's stored summary. The figure is
drawn here, at report time, from the database, so it always shows every run of the sweep that completed.
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass, field

from restoration.contract import measures as _measures
from restoration_reports.text import typeset
from restoration import sweeps as _sweeps


@dataclass
class SweepSection:
    name: str
    experiment: str
    title: str
    measure: str
    anchor: str
    description: str
    n_points: int
    n_done: int
    number: int | None = None  # figure number, when there is a figure
    src: str | None = None
    caption: str = ""
    wall: str = ""
    missing: list[str] = field(default_factory=list)


def _label(key: str) -> str:
    try:
        return _measures.label(key)
    except KeyError:
        return key


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def plot(sweep: _sweeps.Sweep, points: list[_sweeps.SweepPoint]):
    """measure against the first axis, one line (and marker per run) per combination of the other axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key, others = sweep.axes[0], sweep.axes[1:]
    xs_all = [v for k, vals in sweep.grid if k == x_key for v in vals]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs_all)
    fig, ax = plt.subplots(figsize=(6.0, 3.6), dpi=120)
    combos = list(itertools.product(*(vals for k, vals in sweep.grid if k in others))) or [()]
    for combo in combos:
        sel = [p for p in points if all(p.point.get(k) == v for k, v in zip(others, combo))]
        if not sel:
            continue
        sel.sort(key=lambda p: xs_all.index(p.point[x_key]) if p.point[x_key] in xs_all else 0)
        xs = [p.point[x_key] if numeric else xs_all.index(p.point[x_key]) for p in sel]
        label = ", ".join(f"{k} = {_fmt(v)}" for k, v in zip(others, combo)) or None
        ax.plot(xs, [p.value for p in sel], marker="o", label=label)
    if numeric and min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 10:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all])
    ax.set_xlabel(x_key)
    ax.set_ylabel(_label(sweep.measure))
    ax.grid(alpha=0.3)
    if others:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def sections(registry_path, *, first_figure: int, to_src) -> list[SweepSection]:
    """One section per declared sweep, with its figure (``to_src(png_bytes, name) -> src``) when any of its runs
    completed; figure numbers continue from ``first_figure``."""
    import matplotlib.pyplot as plt

    out, number = [], first_figure
    for sweep in _sweeps.load(registry_path).values():
        points = _sweeps.measured_points(sweep)
        done = {_sweeps.point_key(p.point) for p in points}
        missing = [
            ", ".join(f"{k} = {_fmt(v)}" for k, v in p.items())
            for p in sweep.points()
            if _sweeps.point_key(p) not in done
        ]
        sec = SweepSection(
            name=sweep.name,
            experiment=sweep.experiment,
            title=typeset(sweep.title),
            measure=sweep.measure,
            anchor="sweep-" + sweep.name,
            description=sweep.description,
            n_points=len(sweep.points()),
            n_done=len(points),
            missing=missing,
        )
        starts = [p.start for p in points if p.start is not None]
        stops = [p.stop for p in points if p.stop is not None]
        if starts and stops:
            span = (max(stops) - min(starts)).total_seconds()
            work = sum((p.stop - p.start).total_seconds() for p in points if p.start and p.stop)
            sec.wall = (
                f"runs span {span / 60:.1f} min from the first start to the last end "
                f"({work / 60:.1f} min of run time in all)"
            )
        finite = [p for p in points if math.isfinite(p.value)]
        if finite:
            fig = plot(sweep, finite)
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            plt.close(fig)
            sec.number = number
            number += 1
            sec.src = to_src(buf.getvalue(), f"sweep_{sweep.name}.png")
            fixed = "; ".join(f"{k} = {_fmt(v)}" for k, v in sweep.fixed)
            runs = ", ".join(p.run_id for p in points)
            sec.caption = (
                f"{_label(sweep.measure)} of {sweep.experiment} against {sweep.axes[0]}"
                + (f", one line per {', '.join(sweep.axes[1:])}" if len(sweep.axes) > 1 else "")
                + f"; one point per completed run (runs {runs}); named configs "
                + ", ".join(sweep.named_configs)
                + (f"; fixed: {fixed}" if fixed else "")
                + "."
            )
        out.append(sec)
    return out
