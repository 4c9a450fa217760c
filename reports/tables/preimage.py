"""Report tables and figures of optimisation-inversion runs (Figs. 1 and 2), from
:class:`restoration.preimage.LayerSweep` and :func:`restoration.preimage.compare_optimizers` results."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from restoration.preimage import LayerSweep
from restoration.contract.payload import Table


def _mean_sd(a, fmt="{:.3f}") -> str:
    a = np.asarray(a, np.float64)
    return f"{fmt.format(a.mean())} ± {fmt.format(a.std())}" if a.size > 1 else fmt.format(a.mean())


def sweep_table(sweep: LayerSweep, title: str) -> Table:
    """Per layer the normalised feature error reached, pixel error, SSIM and
    PSNR against the original (mean ± sd over images), recipe C and jitter, and wall time per step."""
    rows = []
    for layer in sweep.layers:
        s, r, st = sweep.scores[layer], sweep.results[layer], sweep.settings[layer]
        rows.append(
            [
                layer,
                st["C"],
                st["jitter"],
                st["steps"],
                _mean_sd(s["feat_err"], "{:.4f}"),
                _mean_sd(s["nerr"]),
                _mean_sd(s["ssim"]),
                _mean_sd(s["psnr"], "{:.2f}"),
                round(1000.0 * r.time_per_step_s, 1),
            ]
        )
    return Table(
        title,
        [
            "layer",
            "C",
            "jitter (px)",
            "steps",
            "feature error ||Φ(x)-Φ0||²/||Φ0||²",
            "pixel error ||x-x0||²/||x0||²",
            "SSIM",
            "PSNR (dB)",
            "ms / step (whole batch, steady state)",
        ],
        rows,
    )


def sweep_figure(sweep: LayerSweep, *, title: str | None = None):
    """Layers across, images down; the original image in the first column (matplotlib Figure)."""
    from restoration_reports import plots

    rows = [
        [sweep.images_rgb[i]] + [sweep.results[layer].rgb[i] for layer in sweep.layers]
        for i in range(len(sweep.images_rgb))
    ]
    fig = plots.image_grid(rows, row_labels=sweep.image_names, col_labels=["original"] + list(sweep.layers))
    if title:
        fig.suptitle(title)
    return fig


def comparison_table(cmp: Mapping[str, dict], layer: str, title: str) -> Table:
    """Optimisers side by side (:func:`restoration.preimage.compare_optimizers`)."""
    rows = [
        [
            opt,
            layer,
            c["steps"],
            c["evals"],
            _mean_sd(c["feat_err"], "{:.4f}"),
            _mean_sd(c["ssim"]),
            round(c["wall_s"], 1),
            round(1000.0 * c["result"].time_per_step_s, 1),
        ]
        for opt, c in cmp.items()
    ]
    return Table(
        title,
        [
            "optimizer",
            "layer",
            "iterations",
            "objective evaluations",
            "feature error reached",
            "SSIM",
            "wall time (s)",
            "ms / evaluation (steady state)",
        ],
        rows,
    )
