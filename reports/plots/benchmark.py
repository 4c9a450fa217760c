"""Figures of the benchmark (:mod:`restoration.benchmark`): one curve plot per metric (depths across, one line
per method, the thesis's AlexNet numbers dashed where the net is AlexNet) and a grid of reconstructions
(methods down, depths across) for one image."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from restoration.contract import measures
from restoration.benchmark import THESIS_ALEXNET, Method
from restoration_reports.plots import STYLE, image_grid

__all__ = ["metric_plot", "reconstruction_grid"]


def metric_plot(
    net_name: str,
    depths: Sequence[str],
    methods: Sequence[Method],
    values: Mapping[tuple[str, str], float],
    metric: str,
    *,
    thesis: bool = False,
) -> Figure:
    """``values[(method id, depth)]`` against depth, one line per method; ``thesis``: also the thesis's AlexNet
    rows (dashed, same colour as the method they correspond to). Log scale for MSE (it spans decades)."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.2, 3.4), layout="constrained")
        ax = fig.subplots()
        xs = np.arange(len(depths))
        for i, m in enumerate(methods):
            ys = [values.get((m.id, d), np.nan) for d in depths]
            (line,) = ax.plot(xs, ys, marker="o", label=m.label, color=f"C{i}")
            row = THESIS_ALEXNET.get((m.id, metric))
            if thesis and row is not None:
                ax.plot(
                    xs,
                    [row[int(d[4:]) - 1] for d in depths],
                    ls="--",
                    marker="x",
                    color=line.get_color(),
                    label=f"thesis: {m.thesis_row}",
                )
        ax.set_xticks(xs, depths)
        ax.set_xlabel(f"{net_name} layer (depth)")
        ax.set_ylabel(measures.label(metric) if metric != "mse" else "MSE (RGB, 0-255)")
        if metric == "mse":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
        ax.set_title(
            f"{net_name}: {measures.label(metric, unit=False) if metric != 'mse' else 'MSE'} (lower is better)",
            fontsize=9,
        )
    return fig


def reconstruction_grid(
    original: np.ndarray, depths: Sequence[str], methods: Sequence[Method], recs: Mapping[tuple[str, str], np.ndarray]
) -> Figure:
    """Methods down, depths across, for one image (``recs[(method id, depth)]``: RGB, clipped for display);
    the first column is the original on every row."""
    rows = [[original] + [recs.get((m.id, d)) for d in depths] for m in methods]
    return image_grid(
        rows,
        row_labels=[m.label.replace(" (", "\n(") for m in methods],
        col_labels=["original"] + list(depths),
        panel_size=1.25,
    )
