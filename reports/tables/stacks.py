"""Report tables of trained-inversion runs, built from :class:`restoration.stacks.reconstruction.Evaluation` results.

Pure data in, :class:`restoration.contract.payload.Table` out; numbers are rounded for display only (the run's JSON
artifacts keep them whole).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from restoration.stacks import InversionStack
from restoration.contract.payload import ImageScores, Table
from restoration.stacks.reconstruction import Evaluation


def _fmt(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(f"{v:.4g}")


def module_table(
    stack: InversionStack, evaluation: Evaluation, train_loss: Mapping[str, float], origin: Mapping[str, str]
) -> Table:
    """Per module: its operation, architecture, final train loss, held-out MSE (own input / through the stack)
    and where its weights came from (trained in this run, or reused)."""
    rows = [
        [
            s.name,
            f"{s.in_layer} -> {s.out_layer}",
            f"{s.kind} {s.kernel}x{s.kernel}, {s.hidden} hidden; up {s.up.kernel}x{s.up.kernel}/{s.up.stride} "
            f"{s.up.padding}",
            _fmt(train_loss.get(s.name)),
            _fmt(evaluation.own_loss.get(s.name)),
            _fmt(evaluation.chained_loss.get(s.name)),
            origin.get(s.name, "this run"),
        ]
        for s in stack.specs
    ]
    return Table(
        "Per-module MSE (representation units; image = normalised BGR pixels)",
        [
            "module",
            "operation",
            "architecture",
            "train loss (final)",
            "held-out loss (true input)",
            f"held-out loss (from {stack.in_layer} through the stack)",
            "weights",
        ],
        rows,
    )


def numbers_table(evaluation: Evaluation, title: str = "Held-out reconstruction quality") -> Table:
    """PSNR / SSIM / normalised error / MSE per held-out image, plus the mean row."""
    s = evaluation.scores
    rows = [
        [
            n,
            round(float(s["psnr"][i]), 2),
            round(float(s["ssim"][i]), 4),
            round(float(s["nerr"][i]), 5),
            round(float(s["mse"][i]), 2),
        ]
        for i, n in enumerate(evaluation.names)
    ]
    m = evaluation.summary
    rows.append(
        ["mean", round(m["psnr_mean"], 2), round(m["ssim_mean"], 4), round(m["nerr_mean"], 5), round(m["mse_mean"], 2)]
    )
    return Table(
        f"{title} (RGB, [0, 255], reconstructions clipped)",
        ["image", "PSNR (dB)", "SSIM", "normalised error ||x-x0||^2/||x0||^2", "MSE"],
        rows,
    )


def comparison_table(evaluations: Mapping[str, Evaluation], title: str, first_column: str) -> Table:
    """One row per labelled evaluation (a depth, a stack, before/after fine-tuning): the mean measures."""
    rows = [
        [
            label,
            round(e.summary["psnr_mean"], 2),
            round(e.summary["psnr_min"], 2),
            round(e.summary["ssim_mean"], 4),
            round(e.summary["nerr_mean"], 5),
            round(e.summary["mse_mean"], 2),
        ]
        for label, e in evaluations.items()
    ]
    return Table(
        title,
        [first_column, "PSNR, mean (dB)", "PSNR, worst (dB)", "SSIM, mean", "normalised error, mean", "MSE, mean"],
        rows,
    )


def summary_of(evaluation: Evaluation, qualifier: str = "") -> dict[str, float]:
    """The measures a trained-inversion run reports for one evaluation, keyed for the payload summary."""
    q = f"@{qualifier}" if qualifier else ""
    m = evaluation.summary
    return {
        f"psnr_mean{q}": float(m["psnr_mean"]),
        f"ssim_mean{q}": float(m["ssim_mean"]),
        f"nerr_mean{q}": float(m["nerr_mean"]),
        f"mse_mean{q}": float(m["mse_mean"]),
        f"psnr_min{q}": float(m["psnr_min"]),
    }


def scores_of(evaluation: Evaluation) -> ImageScores:
    """The per-image scores behind :func:`summary_of` (held-out crop ids, PSNR / SSIM / MSE / normalised error),
    for the payload's ``scores`` under the same qualifier: what a claim pairs image by image."""
    return ImageScores.from_batch(evaluation.names, evaluation.scores)
