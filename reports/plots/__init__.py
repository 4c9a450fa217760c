"""Matplotlib figures for reconstructions, pre-image grids and training curves.

Each function builds and returns a :class:`matplotlib.figure.Figure` without touching pyplot's global state
(no window, no backend switch, nothing kept alive after the caller drops it); save it with
``tracking.add_figure(run, fig, "name.png")`` or ``fig.savefig(...)``. Images are RGB in ``[0, 255]``
(uint8 or float, ``(H, W, 3)``; ``(H, W)`` is drawn grey) and are clipped to that range for display only.

Functions
---------
error_map_rows   rows of image | reconstruction | colour error | absolute error (thesis Figs. 5/6)
image_grid       a grid of images with row and column labels (layers across, images down: M&V figures)
loss_curves      one panel per logged metric against step
measure_trend    one panel per measure across a few labelled settings (e.g. depth: pool1, pool2, pool3)

Package ``restoration_reports.plots``: reconstruction, grid and curve figures (this module);
:mod:`restoration_reports.plots.benchmark` and :mod:`restoration_reports.plots.priors` for those results. Presentation
only: drawn from results, never from a net.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from restoration import metrics

__all__ = ["error_map_rows", "image_grid", "loss_curves", "measure_trend", "STYLE"]

#: rcParams used for every figure: small serif type like a thesis page, no chart junk.
STYLE = {
    "font.family": "serif",
    "font.serif": ["DejaVu Serif"],
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.03,
    "image.interpolation": "nearest",
}

ERROR_MAP_COLUMNS = ("image", "reconstruction", "colour error", "absolute error")


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------


def _as_image_list(images, name: str) -> list[np.ndarray]:
    """Accept an (N, H, W[, C]) array, one (H, W, 3) image, or a sequence of images; return a list."""
    if isinstance(images, np.ndarray):
        if images.ndim == 4 or (images.ndim == 3 and images.shape[-1] not in (1, 3)):
            return [np.asarray(im) for im in images]
        if images.ndim in (2, 3):
            return [images]
        raise ValueError(f"{name} has shape {images.shape}; pass (N, H, W, 3) images, one (H, W, 3) image or a list.")
    try:
        out = [np.asarray(im) for im in images]
    except TypeError as exc:
        raise ValueError(f"{name} is not a sequence of images ({exc}); pass a list or an (N, H, W, 3) array.") from exc
    if not out:
        raise ValueError(f"{name} is empty; pass at least one image.")
    return out


def _display(image: np.ndarray, name: str, *, rescale: bool = False) -> np.ndarray:
    """Float image in [0, 1] for imshow: clipped from [0, 255], or min-max stretched when ``rescale``."""
    im = np.asarray(image, dtype=np.float64)
    if im.ndim == 3 and im.shape[-1] == 1:
        im = im[..., 0]
    if im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[-1] != 3):
        raise ValueError(f"{name} has shape {im.shape}; pass an (H, W, 3) RGB or (H, W) grey image.")
    if not np.all(np.isfinite(im)):
        raise ValueError(f"{name} contains NaN or infinite values; check the reconstruction for divergence.")
    if rescale:
        lo, hi = im.min(), im.max()
        return np.zeros_like(im) if hi == lo else (im - lo) / (hi - lo)
    return np.clip(im, 0.0, 255.0) / 255.0


def _show(ax, im: np.ndarray) -> None:
    """Draw one image panel without ticks or frame."""
    if im.ndim == 2:
        ax.imshow(im, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(im)
    _strip(ax)


def _strip(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _aspect(images: Sequence[np.ndarray]) -> float:
    """Height / width of the first image (panels share it)."""
    h, w = np.shape(images[0])[:2]
    return h / w


# ----------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------


def error_map_rows(
    images,
    reconstructions,
    *,
    titles: Sequence[str] | None = None,
    annotate: bool = True,
    panel_size: float = 1.5,
) -> Figure:
    """One row per image: image | reconstruction | colour error | absolute error.

    The reconstruction is clipped to [0, 255] before display and before the error maps are computed (as in
    the thesis's figures), so the maps show the error of what the reader sees. The colour error is
    :func:`restoration.metrics.color_error_map` (signed difference, min-max renormalised over the image);
    the absolute error is :func:`restoration.metrics.abs_error_map` (black = exact).

    Parameters
    ----------
    images : array_like, (N, H, W, 3) or list of (H, W, 3)
        Originals, RGB in [0, 255].
    reconstructions : same form and shapes as ``images``
        Reconstructions, RGB on the same scale (any range; clipped for display).
    titles : sequence of str, optional
        One label per row (e.g. image names), written left of the row.
    annotate : bool, optional
        Write PSNR (dB) and SSIM of the clipped reconstruction under it (default True).
    panel_size : float, optional
        Width of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        ``4 * N`` axes, row-major.
    """
    # A matplotlib figure is a sequence of drawing calls; kept linear on purpose (as scikit-image's plotting examples).
    ims = _as_image_list(images, "images")
    recs = _as_image_list(reconstructions, "reconstructions")
    if len(ims) != len(recs):
        raise ValueError(
            f"images has {len(ims)} entries but reconstructions has {len(recs)}; pass one reconstruction per image."
        )
    if titles is not None and len(titles) != len(ims):
        raise ValueError(f"titles has {len(titles)} entries for {len(ims)} images; pass one title per row.")

    n = len(ims)
    aspect = _aspect(ims)
    extra = 0.14 if annotate else 0.0
    # Rows a little shorter than the panels' width implies: constrained layout then fits images to the
    # height and spreads spare width between columns, instead of leaving gaps between rows.
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(4 * panel_size, n * (0.9 * panel_size * aspect + extra) + 0.2), layout="constrained")
        axes = fig.subplots(n, 4, squeeze=False)
        for i in range(n):
            img = _display(ims[i], f"images[{i}]")
            rec = _display(recs[i], f"reconstructions[{i}]")
            if img.shape != rec.shape:
                raise ValueError(
                    f"images[{i}] has shape {img.shape} but reconstructions[{i}] has shape {rec.shape}; "
                    "pass reconstructions of the image's size."
                )
            panels = (img, rec, metrics.color_error_map(img, rec), metrics.abs_error_map(img, rec))
            for j, panel in enumerate(panels):
                _show(axes[i, j], panel)
                if i == 0:
                    axes[i, j].set_title(ERROR_MAP_COLUMNS[j])
            if titles is not None:
                axes[i, 0].set_ylabel(str(titles[i]))
            if annotate:
                score = (
                    f"PSNR {metrics.psnr(img, rec, data_range=1.0):.1f} dB, "
                    f"SSIM {metrics.ssim(img, rec, data_range=1.0):.2f}"
                    if min(img.shape[:2]) >= 3
                    else f"PSNR {metrics.psnr(img, rec, data_range=1.0):.1f} dB"
                )
                axes[i, 1].set_xlabel(score, fontsize=6.5)
    return fig


def image_grid(
    images_2d: Sequence[Sequence],
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    rescale: bool = False,
    panel_size: float = 1.2,
) -> Figure:
    """A grid of images: ``images_2d[r][c]`` drawn at row ``r``, column ``c``.

    Used for Mahendran & Vedaldi-style figures with layers across and images down. ``None`` entries (and the
    missing tail of a shorter row) become blank panels marked "n/a".

    Parameters
    ----------
    images_2d : list of rows, each a list of (H, W, 3) arrays or None
        RGB in [0, 255]; clipped for display unless ``rescale``.
    row_labels : sequence of str, optional
        One label per row, left of the row (e.g. image names).
    col_labels : sequence of str, optional
        One label per column, above the top row (e.g. layer names).
    rescale : bool, optional
        Stretch each image to its own min..max instead of clipping (shows structure in pre-images whose
        range drifted; the thesis offered the same choice).
    panel_size : float, optional
        Width of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        ``rows * max_cols`` axes, row-major.
    """
    # A matplotlib figure is a sequence of drawing calls; kept linear on purpose (as scikit-image's plotting examples).
    rows = [list(r) for r in images_2d]
    if not rows or not any(len(r) for r in rows):
        raise ValueError("images_2d is empty; pass a list of rows, each a list of images.")
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"row_labels has {len(row_labels)} entries for {n_rows} rows; pass one per row.")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"col_labels has {len(col_labels)} entries for {n_cols} columns; pass one per column.")
    first = (
        next(im for r in rows for im in r if im is not None)
        if any(im is not None for r in rows for im in r)
        else np.zeros((1, 1, 3))
    )
    aspect = _aspect([first])

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(n_cols * panel_size + 0.3, n_rows * panel_size * aspect + 0.3), layout="constrained")
        axes = fig.subplots(n_rows, n_cols, squeeze=False)
        for r in range(n_rows):
            for c in range(n_cols):
                ax = axes[r, c]
                im = rows[r][c] if c < len(rows[r]) else None
                if im is None:
                    _strip(ax)
                    ax.set_facecolor("#f2f2f2")
                    ax.text(0.5, 0.5, "n/a", ha="center", va="center", color="#999999", transform=ax.transAxes)
                else:
                    _show(ax, _display(im, f"images_2d[{r}][{c}]", rescale=rescale))
                if r == 0 and col_labels is not None:
                    ax.set_title(str(col_labels[c]))
                if c == 0 and row_labels is not None:
                    ax.set_ylabel(str(row_labels[r]))
    return fig


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (shorter at the start), same length as ``values``."""
    c = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def loss_curves(
    metrics_by_name: Mapping[str, tuple],
    *,
    title: str | None = None,
    ncols: int = 3,
    logy: bool | str = "auto",
    panel_size: tuple[float, float] = (2.6, 1.8),
) -> Figure:
    """One panel per metric: value against step.

    Long noisy series (> 50 points) are drawn faint with a trailing moving average (window = 2 % of the
    series, at least 5) on top, so trends stay readable at report size.

    Parameters
    ----------
    metrics_by_name : mapping of str to (steps, values), or to a mapping of line label to (steps, values)
        E.g. ``RunRecord.metrics()``; each pair is two 1-D arrays of the same length. A mapping draws several
        lines in one panel with a legend (e.g. a module's train and held-out loss).
    title : str, optional
        Figure title.
    ncols : int, optional
        Panels per row (default 3).
    logy : bool or "auto", optional
        Log-scale y axes; "auto" (default) uses log scale for a positive series spanning more than two
        decades.
    panel_size : (float, float), optional
        Width and height of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        ``len(metrics_by_name)`` axes, one per metric (one axis with a "no metrics" note when empty).
    """
    # A matplotlib figure is a sequence of drawing calls; kept linear on purpose (as scikit-image's plotting examples).
    names = list(metrics_by_name)
    if ncols < 1:
        raise ValueError(f"ncols={ncols} must be at least 1.")
    n = max(len(names), 1)
    cols = min(ncols, n)
    rows = int(np.ceil(n / cols))
    with matplotlib.rc_context(STYLE):
        fig = Figure(
            figsize=(cols * panel_size[0], rows * panel_size[1] + (0.25 if title else 0.0)), layout="constrained"
        )
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        if not names:
            _strip(axes[0])
            axes[0].text(0.5, 0.5, "no metrics logged", ha="center", va="center", transform=axes[0].transAxes)
        for ax, name in zip(axes, names):
            entry = metrics_by_name[name]
            lines = entry if isinstance(entry, Mapping) else {None: entry}
            positive, lo, hi, drawn = True, np.inf, -np.inf, 0
            for k, (label, pair) in enumerate(lines.items()):
                steps, values = _series(f"{name}" + (f"[{label!r}]" if label else ""), pair)
                color = f"C{k}"
                if values.size > 50:
                    window = max(5, values.size // 50)
                    ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.6)
                    ax.plot(steps, _moving_average(values, window), color=color, linewidth=1.1, label=label)
                elif values.size:
                    ax.plot(
                        steps,
                        values,
                        color=color,
                        linewidth=1.1,
                        marker="o" if values.size < 12 else None,
                        markersize=2.5,
                        label=label,
                    )
                if values.size:
                    drawn += 1
                    positive &= bool(values.min() > 0)
                    lo, hi = min(lo, values.min()), max(hi, values.max())
            use_log = logy if isinstance(logy, bool) else (drawn > 0 and positive and hi / lo > 100)
            if use_log:
                ax.set_yscale("log")
            ax.set_title(name)
            ax.set_xlabel("step")
            if len(lines) > 1:
                ax.legend(frameon=False)
            if drawn == 0:
                ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
        for ax in axes[len(names) if names else 1 :]:
            fig.delaxes(ax)
        if title:
            fig.suptitle(title)
    return fig


def _series(name: str, pair) -> tuple[np.ndarray, np.ndarray]:
    """Finite (steps, values) of one logged series, checked."""
    try:
        steps, values = (np.asarray(p, dtype=np.float64).ravel() for p in pair)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"metrics_by_name[{name!r}] is not a (steps, values) pair of numbers ({exc}); pass two 1-D arrays."
        ) from exc
    if steps.shape != values.shape:
        raise ValueError(
            f"metrics_by_name[{name!r}] has {steps.size} steps but {values.size} values; pass arrays of equal length."
        )
    finite = np.isfinite(values)
    return steps[finite], values[finite]


def measure_trend(
    labels: Sequence[str],
    values_by_measure: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "",
    title: str | None = None,
    panel_size: tuple[float, float] = (2.2, 1.8),
) -> Figure:
    """One panel per measure: its value at each of ``labels`` (e.g. pool1, pool2, pool3), joined by a line.

    Parameters
    ----------
    labels : sequence of str
        The x positions, in order (categorical).
    values_by_measure : mapping of str to sequence of float
        Panel title (a measure's label) -> one value per label; NaN leaves a gap.
    """
    names = list(values_by_measure)
    if not names:
        raise ValueError("values_by_measure is empty; pass at least one measure")
    for name in names:
        if len(values_by_measure[name]) != len(labels):
            raise ValueError(
                f"values_by_measure[{name!r}] has {len(values_by_measure[name])} values for "
                f"{len(labels)} labels; pass one per label"
            )
    with matplotlib.rc_context(STYLE):
        fig = Figure(
            figsize=(len(names) * panel_size[0], panel_size[1] + (0.25 if title else 0.0)), layout="constrained"
        )
        axes = fig.subplots(1, len(names), squeeze=False).ravel()
        x = np.arange(len(labels))
        for ax, name in zip(axes, names):
            y = np.asarray(values_by_measure[name], dtype=np.float64)
            ax.plot(x, y, color="C0", marker="o", markersize=3, linewidth=1.1)
            ax.set_xticks(x, [str(lb) for lb in labels])
            ax.set_title(name)
            if xlabel:
                ax.set_xlabel(xlabel)
        if title:
            fig.suptitle(title)
    return fig
