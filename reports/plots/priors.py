"""Figures of learned priors: filters projected back through the whitening, and patches side by side (real ones
next to samples from the prior). Pure matplotlib; each function returns a Figure."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["filter_grid", "patch_rows"]


def _tile(p: np.ndarray, per_channel: bool) -> np.ndarray:
    """One patch ``(C, ph, pw)`` for display: RGB (BGR input flipped) scaled to [0, 1] around its own range,
    or, for feature maps, the channels as grey tiles side by side (at most 8)."""
    c = p.shape[0]
    if c == 3 and not per_channel:
        im = np.transpose(p[::-1], (1, 2, 0))  # BGR -> RGB, (ph, pw, 3)
    else:
        im = np.concatenate([np.pad(ch, ((0, 0), (0, 1)), constant_values=np.nan) for ch in p[:8]], axis=1)
    lo, hi = np.nanmin(im), np.nanmax(im)
    out = (im - lo) / (hi - lo) if hi > lo else np.zeros_like(im) + 0.5
    return np.nan_to_num(out, nan=1.0)


def filter_grid(
    filters: np.ndarray, *, title: str = "", ncols: int = 16, max_filters: int = 128, order: Sequence[int] | None = None
) -> Figure:
    """``filters (K, C, ph, pw)``: each filter on its own scale, in ``order`` (default: as given), at most
    ``max_filters``. RGB filters are shown in colour, feature-map filters as their first channels in grey."""
    f = np.asarray(filters, np.float64)
    if f.ndim != 4:
        raise ValueError(f"filters must have shape (K, C, ph, pw), got {f.shape}")
    idx = list(order) if order is not None else list(range(len(f)))
    idx = idx[:max_filters]
    ncols = min(ncols, len(idx))
    nrows = int(np.ceil(len(idx) / ncols))
    tiles = [_tile(f[i], per_channel=False) for i in idx]
    aspect = tiles[0].shape[1] / tiles[0].shape[0]
    fig = Figure(figsize=(0.45 * ncols * aspect + 0.2, 0.45 * nrows + (0.4 if title else 0.1)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < len(tiles):
            ax.imshow(tiles[k], cmap="gray", interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=8)
    fig.subplots_adjust(wspace=0.08, hspace=0.08, left=0.01, right=0.99, bottom=0.01, top=0.9 if title else 0.99)
    return fig


def patch_rows(rows: dict, *, ncols: int = 16, title: str = "") -> Figure:
    """Rows of patches ``(M, C, ph, pw)`` under a label each (e.g. ``{"held-out patches": real, "HMC samples":
    z}``), each patch on its own scale."""
    labels = list(rows)
    fig = Figure(figsize=(0.45 * ncols + 1.4, 0.5 * len(labels) + (0.4 if title else 0.1)))
    axes = fig.subplots(len(labels), ncols, squeeze=False)
    for r, label in enumerate(labels):
        patches = np.asarray(rows[label], np.float64)
        for k in range(ncols):
            ax = axes[r, k]
            ax.set_axis_off()
            if k < len(patches):
                ax.imshow(_tile(patches[k], per_channel=False), cmap="gray", interpolation="nearest")
        axes[r, 0].text(-0.15, 0.5, label, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.subplots_adjust(wspace=0.08, hspace=0.15, left=0.12, right=0.99, bottom=0.01, top=0.85 if title else 0.99)
    return fig
