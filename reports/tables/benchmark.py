"""Report tables of the benchmark (:mod:`restoration.benchmark`): the thesis-shaped table per net (method x
metric rows, depths across, the thesis's AlexNet rows beside ours), the winner per depth and metric, and which
display (clipped or min-max rescaled) reproduces the thesis's numbers."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from restoration.benchmark import METRICS, THESIS_ALEXNET, CellScores, Method, thesis_value
from restoration.contract.payload import Table

__all__ = ["main_table", "winners_table", "display_table", "winners"]

_NAMES = {"mse": "MSE", "nmse_thesis": "NMSE (thesis)", "vgg_score": "VGG score", "psnr": "PSNR (dB)", "ssim": "SSIM"}


def _fmt(v: float | None) -> str | None:
    """Four significant digits, as text: one column mixes metrics of very different size (MSE in the thousands,
    NMSE in hundredths), so the report's shared per-column decimals would print NMSE as 0."""
    if v is None or not np.isfinite(v):
        return None
    return f"{v:.4g}"


def main_table(
    net_name: str,
    depths: Sequence[str],
    layer_of: Mapping[str, str],
    methods: Sequence[Method],
    cells: Mapping[tuple[str, str], CellScores],
    *,
    thesis: bool,
    display_mode: str = "clip",
) -> Table:
    """Rows ``(method, metric)`` with the mean over images per depth; ``thesis``: after each of our rows that has
    a thesis counterpart, the thesis's AlexNet row (labelled so)."""
    rows = []
    for m in methods:
        for metric in METRICS + ("psnr", "ssim"):
            rows.append(
                [m.label, _NAMES[metric]]
                + [_fmt(cells[(m.id, d)].mean(metric, display_mode)) if (m.id, d) in cells else None for d in depths]
            )
            if thesis and (m.id, metric) in THESIS_ALEXNET:
                rows.append(
                    [f"thesis: {m.thesis_row}", _NAMES[metric]] + [_fmt(thesis_value(m.id, metric, d)) for d in depths]
                )
    cols = ["method", "metric"] + list(depths)
    layers = ", ".join(f"{d} = {layer_of[d]}" for d in depths)
    shown = "clipped to [0, 255]" if display_mode == "clip" else "min-max rescaled"
    return Table(
        f"{net_name}: benchmark, mean over the evaluation images (reconstructions {shown}; {layers})", cols, rows
    )


def winners(
    depths: Sequence[str],
    methods: Sequence[Method],
    cells: Mapping[tuple[str, str], CellScores],
    metric: str,
    display_mode: str = "clip",
) -> dict[str, str]:
    """``{depth: id of the method with the lowest mean metric}`` (every metric here is lower-is-better)."""
    out = {}
    for d in depths:
        have = [(cells[(m.id, d)].mean(metric, display_mode), m.id) for m in methods if (m.id, d) in cells]
        if have:
            out[d] = min(have)[1]
    return out


def winners_table(
    net_name: str,
    depths: Sequence[str],
    methods: Sequence[Method],
    cells: Mapping[tuple[str, str], CellScores],
    *,
    thesis: bool,
) -> Table:
    """The best method per depth and metric (ours; with ``thesis``, the thesis's AlexNet winner beside it among
    the three methods it had)."""
    label = {m.id: m.label for m in methods}
    rows = []
    for metric in METRICS:
        w = winners(depths, methods, cells, metric)
        rows.append([_NAMES[metric], "ours"] + [label.get(w.get(d), None) for d in depths])
        if thesis:
            tw = []
            for d in depths:
                have = [(thesis_value(mid, metric, d), mid) for (mid, met) in THESIS_ALEXNET if met == metric]
                tw.append(min(have)[1] if have else None)
            thesis_label = {m.id: m.thesis_row for m in methods}
            rows.append([_NAMES[metric], "thesis"] + [thesis_label.get(t) or t for t in tw])
    return Table(
        f"{net_name}: best method per depth (lowest mean; clipped display)", ["metric", "whose"] + list(depths), rows
    )


def display_table(
    net_name: str,
    depths: Sequence[str],
    methods: Sequence[Method],
    cells: Mapping[tuple[str, str], CellScores],
    *,
    thesis: bool,
) -> Table:
    """Each method's metrics under both displays; with ``thesis`` the mean absolute log ratio to the thesis's
    numbers per display (smaller = reproduces them better)."""
    rows = []
    for m in methods:
        for metric in METRICS:
            vals = {
                disp: [cells[(m.id, d)].mean(metric, disp) if (m.id, d) in cells else np.nan for d in depths]
                for disp in ("clip", "minmax")
            }
            row = [m.label, _NAMES[metric]] + [f"{_fmt(a)} / {_fmt(b)}" for a, b in zip(vals["clip"], vals["minmax"])]
            if thesis:
                th = [thesis_value(m.id, metric, d) for d in depths]
                dist = {}
                for disp, v in vals.items():
                    pairs = [(a, b) for a, b in zip(v, th) if b is not None and b > 0 and a > 0 and np.isfinite(a)]
                    dist[disp] = float(np.mean([abs(np.log(a / b)) for a, b in pairs])) if pairs else None
                row.append("" if dist["clip"] is None else f"clip {dist['clip']:.2f} / minmax {dist['minmax']:.2f}")
            rows.append(row)
    cols = (
        ["method", "metric"]
        + [f"{d}: clip / minmax" for d in depths]
        + (["|log(ours / thesis)|, mean"] if thesis else [])
    )
    return Table(f"{net_name}: clipped vs min-max rescaled reconstructions", cols, rows)
