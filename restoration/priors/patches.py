r"""Patches of images or feature maps, a raw patch store on disk, streaming statistics and whitening.

The learned priors of the thesis (:mod:`restoration.priors.learned`) model small patches of the image or of a
layer's activations after a fixed preprocessing: centre, scale, then whiten. This module is that pipeline.

Shapes
------
* maps: ``(N, H, W, C)`` (images as preprocessed BGR, or a layer's activations);
* patches: ``(M, C, P)`` with ``P = ph * pw``, row-major inside the window: feature ``f = c * P + i * pw + j``
  (the thesis's ``[N, C, ph*pw]`` raw layout, so channel-wise statistics are one axis);
* whitened patches: ``(M, d)``.

The switches (the thesis's progress log, Aug. 7; its ``utils/preprocessing.py``)
-------------------------------------------------------------------------------
``mean``: ``dataset_channel`` (the training set's mean per channel) | ``dataset_feature`` (per feature) |
``sample_channel`` (each patch's own mean per channel) | ``sample_feature`` (each patch's own mean) | ``none``.

``sdev``: ``dataset_channel`` | ``dataset_feature`` (the training set's, of the *centred* data) | ``sample``
(each centred patch's own RMS) | ``rescale`` (one fixed number) | ``none``.

**Order.** We always centre first, then scale, at training and at inference alike. The thesis code divides the
raw (uncentred) patches by the sdev on one training path while its inference path centres first; the two
disagree unless the mean is zero, so we follow the inference order everywhere.

Whitening: the covariance ``X^T X / (N - 1)`` of the normalised patches (accumulated in chunks, never all
patches in memory), ``eigh``; PCA keeps the ``D - n_drop`` largest directions (``n_drop=None``: every direction
with variance above 1e-6 of the largest) and scales them to unit variance
(``W = diag(1/sqrt(l)) U^T``); ZCA rotates back (``W = U diag(1/sqrt(max(l, 1e-7))) U^T``). With ``mean="none"``
the "covariance" is the second-moment matrix (nothing subtracted), as in the thesis.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

__all__ = [
    "MEAN_MODES",
    "SDEV_MODES",
    "PatchSpec",
    "Normalisation",
    "PatchStats",
    "Whitening",
    "PatchStore",
    "extract_patches",
    "random_patches",
    "patch_stats",
    "normalise",
    "fit_whitening",
]

MEAN_MODES = ("dataset_channel", "dataset_feature", "sample_channel", "sample_feature", "none")
SDEV_MODES = ("dataset_channel", "dataset_feature", "sample", "rescale", "none")
ZCA_FLOOR = 1e-7
SAMPLE_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class PatchSpec:
    """Where patches come from: ``layer`` (``"input"`` = the preprocessed image, else a layer name of the net),
    its channel count and the window."""

    layer: str
    channels: int
    ph: int
    pw: int

    def __post_init__(self):
        for f in ("channels", "ph", "pw"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"PatchSpec.{f} must be an int >= 1, got {v!r}")

    @property
    def P(self) -> int:
        return self.ph * self.pw

    @property
    def D(self) -> int:
        return self.channels * self.ph * self.pw

    def describe(self) -> str:
        return f"{self.ph}x{self.pw}x{self.channels} patches of {self.layer!r}"


@dataclasses.dataclass(frozen=True)
class Normalisation:
    """The mean and sdev switches (see the module docstring); ``rescale`` is used by ``sdev="rescale"``."""

    mean: str = "dataset_channel"
    sdev: str = "none"
    rescale: float = 1.0

    def __post_init__(self):
        if self.mean not in MEAN_MODES:
            raise ValueError(f"Normalisation.mean must be one of {MEAN_MODES}, got {self.mean!r}")
        if self.sdev not in SDEV_MODES:
            raise ValueError(f"Normalisation.sdev must be one of {SDEV_MODES}, got {self.sdev!r}")
        if not (float(self.rescale) > 0 and np.isfinite(self.rescale)):
            raise ValueError(f"Normalisation.rescale must be a positive number, got {self.rescale!r}")

    @property
    def needs_dataset_mean(self) -> bool:
        return self.mean.startswith("dataset")

    @property
    def needs_dataset_sdev(self) -> bool:
        return self.sdev.startswith("dataset")


# ----------------------------------------------------------------------------------------------------------
# extraction
# ----------------------------------------------------------------------------------------------------------


def _check_maps(maps) -> np.ndarray:
    maps = np.asarray(maps, np.float32)
    if maps.ndim != 4:
        raise ValueError(f"maps must have shape (N, H, W, C), got {maps.shape}; add a batch axis with x[None]")
    return maps


def extract_patches(maps, ph: int, pw: int, stride: int = 1) -> np.ndarray:
    """Every ``ph x pw`` window (VALID, ``stride``) of ``maps (N, H, W, C)`` as ``(M, C, ph*pw)``."""
    maps = _check_maps(maps)
    n, h, w, c = maps.shape
    if ph > h or pw > w:
        raise ValueError(f"a {ph}x{pw} patch does not fit maps of {h}x{w}; use smaller patches or larger inputs")
    win = np.lib.stride_tricks.sliding_window_view(maps, (ph, pw), axis=(1, 2))[:, ::stride, ::stride]
    # (N, h', w', C, ph, pw) -> (M, C, ph*pw)
    return np.ascontiguousarray(win.reshape(-1, c, ph * pw))


def random_patches(maps, ph: int, pw: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` windows drawn uniformly (with replacement) from ``maps (N, H, W, C)``, as ``(n, C, ph*pw)``."""
    maps = _check_maps(maps)
    N, h, w, c = maps.shape
    if ph > h or pw > w:
        raise ValueError(f"a {ph}x{pw} patch does not fit maps of {h}x{w}; use smaller patches or larger inputs")
    idx = rng.integers(0, N, n)
    ys = rng.integers(0, h - ph + 1, n)
    xs = rng.integers(0, w - pw + 1, n)
    out = np.empty((n, c, ph * pw), np.float32)
    for k, (i, y, x) in enumerate(zip(idx, ys, xs)):
        out[k] = maps[i, y : y + ph, x : x + pw, :].reshape(ph * pw, c).T
    return out


# ----------------------------------------------------------------------------------------------------------
# the raw patch store
# ----------------------------------------------------------------------------------------------------------


class PatchStore:
    """Raw (uncentred) patches ``(N, C, P)`` float32 in one ``.npy`` file, memory-mapped; ``meta.json`` beside
    it holds the :class:`PatchSpec` and where the patches came from.

    ``PatchStore.create(folder, spec, n)`` then ``write(start, block)``; ``PatchStore(folder)`` opens one
    read-only. ``chunks(size)`` yields blocks for streaming statistics.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        meta_path, data_path = self.folder / "meta.json", self.folder / "raw.npy"
        if not meta_path.is_file() or not data_path.is_file():
            raise FileNotFoundError(
                f"no patch store at {self.folder} (raw.npy + meta.json); build one with PatchStore.create"
            )
        meta = json.loads(meta_path.read_text())
        self.spec = PatchSpec(**meta["spec"])
        self.source = meta.get("source", "")
        self.data = np.load(data_path, mmap_mode="r")
        if self.data.shape[1:] != (self.spec.channels, self.spec.P):
            raise ValueError(f"{data_path}: shape {self.data.shape} does not match {self.spec}")

    @classmethod
    def create(cls, folder, spec: PatchSpec, n: int, source: str = "") -> "PatchStore":
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arr = np.lib.format.open_memmap(
            folder / "raw.npy", mode="w+", dtype=np.float32, shape=(int(n), spec.channels, spec.P)
        )
        del arr
        (folder / "meta.json").write_text(json.dumps({"spec": dataclasses.asdict(spec), "source": source}))
        store = cls(folder)
        store.data = np.load(folder / "raw.npy", mmap_mode="r+")
        return store

    def write(self, start: int, block: np.ndarray) -> None:
        self.data[start : start + len(block)] = block

    def flush(self) -> None:
        if hasattr(self.data, "flush"):
            self.data.flush()

    def __len__(self) -> int:
        return len(self.data)

    def chunks(self, size: int = 10_000) -> Iterator[np.ndarray]:
        for s in range(0, len(self.data), size):
            yield np.asarray(self.data[s : s + size], np.float32)


def fill_store(
    store: PatchStore, maps_fn: Callable[[int], np.ndarray], n_sources: int, rng: np.random.Generator
) -> PatchStore:
    """Fill ``store`` with windows drawn evenly from ``maps_fn(i)`` (``(1 or more, H, W, C)`` maps), for
    ``i < n_sources`` (e.g. one image's activations at a time, so a layer's maps are never all in memory)."""
    spec = store.spec
    n = len(store)
    counts = np.full(n_sources, n // n_sources)
    counts[: n % n_sources] += 1
    at = 0
    for i, k in enumerate(counts):
        if k:
            block = random_patches(maps_fn(i), spec.ph, spec.pw, int(k), rng)
            store.write(at, block)
            at += int(k)
    store.flush()
    return store


# ----------------------------------------------------------------------------------------------------------
# streaming statistics and normalisation
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PatchStats:
    """Dataset statistics for the switches: means of the raw patches, and sdevs of the patches *after* the
    chosen centring (``(C,)`` per channel, ``(C, P)`` per feature); ``n`` patches."""

    n: int
    mean_channel: np.ndarray
    mean_feature: np.ndarray
    sdev_channel: np.ndarray
    sdev_feature: np.ndarray


def _centre(x: np.ndarray, norm: Normalisation, stats: PatchStats | None) -> np.ndarray:
    m = norm.mean
    if m == "dataset_channel":
        return x - stats.mean_channel[None, :, None]
    if m == "dataset_feature":
        return x - stats.mean_feature[None]
    if m == "sample_channel":
        return x - x.mean(axis=2, keepdims=True)
    if m == "sample_feature":
        return x - x.mean(axis=(1, 2), keepdims=True)
    return x


def _scale(c: np.ndarray, norm: Normalisation, stats: PatchStats | None) -> np.ndarray:
    s = norm.sdev
    if s == "dataset_channel":
        return c / stats.sdev_channel[None, :, None]
    if s == "dataset_feature":
        return c / stats.sdev_feature[None]
    if s == "sample":
        return c / np.sqrt(np.mean(c * c, axis=(1, 2), keepdims=True) + SAMPLE_EPS)
    if s == "rescale":
        return c / norm.rescale
    return c


def patch_stats(
    chunks: Iterable[np.ndarray], norm: Normalisation, chunks_again: Callable[[], Iterable[np.ndarray]]
) -> PatchStats:
    """Means (one pass) and the sdevs of the centred data (a second pass, ``chunks_again()``), in float64."""
    n, s1 = 0, None
    for x in chunks:
        x = x.astype(np.float64)
        s1 = x.sum(axis=0) if s1 is None else s1 + x.sum(axis=0)
        n += len(x)
    if not n:
        raise ValueError("no patches to compute statistics from")
    mean_f = s1 / n
    mean_c = mean_f.mean(axis=1)
    pre = PatchStats(n, mean_c, mean_f, np.ones_like(mean_c), np.ones_like(mean_f))
    s2 = np.zeros_like(mean_f)
    for x in chunks_again():
        c = _centre(x.astype(np.float64), norm, pre)
        s2 += (c * c).sum(axis=0)
    var_f = s2 / max(n - 1, 1)
    sd_f = np.sqrt(np.maximum(var_f, 1e-12))
    sd_c = np.sqrt(np.maximum(var_f.mean(axis=1), 1e-12))
    return PatchStats(n, mean_c, mean_f, sd_c, sd_f)


def normalise(patches, norm: Normalisation, stats: PatchStats | None) -> np.ndarray:
    """Centre, then scale ``patches (M, C, P)`` by the switches."""
    x = np.asarray(patches, np.float64)
    if (norm.needs_dataset_mean or norm.needs_dataset_sdev) and stats is None:
        raise ValueError(f"normalisation {norm} needs dataset statistics (patch_stats)")
    return _scale(_centre(x, norm, stats), norm, stats)


# ----------------------------------------------------------------------------------------------------------
# whitening
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Whitening:
    """A fitted pipeline: ``apply(patches (M, C, P)) -> (M, d)``; ``matrix`` is ``(d, D)`` (whiten),
    ``inverse`` ``(D, d)`` (colour: back to normalised patch space), ``eigvals`` descending.

    ``channelwise``: one whitening per channel (the CICA prior), then ``matrix`` is ``(C, d, P)``,
    ``inverse`` ``(C, P, d)`` and ``apply`` returns ``(M, C, d)``.
    """

    spec: PatchSpec
    norm: Normalisation
    stats: PatchStats
    method: str
    matrix: np.ndarray
    inverse: np.ndarray
    eigvals: np.ndarray
    channelwise: bool = False

    @property
    def d(self) -> int:
        return self.matrix.shape[-2]

    def apply(self, patches) -> np.ndarray:
        x = normalise(patches, self.norm, self.stats)
        if self.channelwise:
            return np.einsum("cdp,mcp->mcd", self.matrix, x).astype(np.float32)
        return (x.reshape(len(x), -1) @ self.matrix.T).astype(np.float32)

    def colour(self, z) -> np.ndarray:
        """Whitened vectors back to normalised patches ``(M, C, P)`` (for filters and samples)."""
        z = np.asarray(z, np.float64)
        if self.channelwise:
            return np.einsum("cpd,mcd->mcp", self.inverse, z)
        return (z @ self.inverse.T).reshape(len(z), self.spec.channels, self.spec.P)

    def save(self, path) -> None:
        s = self.stats
        np.savez(
            path,
            matrix=self.matrix,
            inverse=self.inverse,
            eigvals=self.eigvals,
            n=s.n,
            mean_channel=s.mean_channel,
            mean_feature=s.mean_feature,
            sdev_channel=s.sdev_channel,
            sdev_feature=s.sdev_feature,
            meta=json.dumps(
                {
                    "spec": dataclasses.asdict(self.spec),
                    "norm": dataclasses.asdict(self.norm),
                    "method": self.method,
                    "channelwise": self.channelwise,
                }
            ),
        )

    @classmethod
    def load(cls, path) -> "Whitening":
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            stats = PatchStats(int(z["n"]), z["mean_channel"], z["mean_feature"], z["sdev_channel"], z["sdev_feature"])
            return cls(
                PatchSpec(**meta["spec"]),
                Normalisation(**meta["norm"]),
                stats,
                meta["method"],
                z["matrix"],
                z["inverse"],
                z["eigvals"],
                meta["channelwise"],
            )


AUTO_RANK_TOL = 1e-6


def _whiten_from_cov(cov: np.ndarray, method: str, n_drop: int | None):
    lam, U = np.linalg.eigh(cov)
    lam, U = lam[::-1], U[:, ::-1]  # descending
    if n_drop is None:  # "auto": drop the directions the patches do not span (dead channels, per-sample means)
        n_drop = int(np.sum(lam <= AUTO_RANK_TOL * max(lam[0], 1e-30))) if method == "pca" else 0
    if method == "pca":
        keep = cov.shape[0] - n_drop
        if keep < 1:
            raise ValueError(f"PCA with n_drop={n_drop} keeps nothing of {cov.shape[0]} dimensions")
        lam_k, U_k = lam[:keep], U[:, :keep]
        tiny = lam_k <= 1e-10 * max(lam[0], 1e-30)
        if np.any(tiny):
            raise ValueError(
                f"PCA whitening: {int(np.sum(tiny))} of the kept eigenvalues are ~0 (the normalised "
                f"patches span only {cov.shape[0] - int(np.sum(lam <= 1e-10 * max(lam[0], 1e-30)))} "
                f"dimensions: too few distinct patches for the dimension, or a per-sample mean, which "
                f"removes one per "
                f"channel); draw patches from more or larger images, or drop more with n_drop"
            )
        W = U_k.T / np.sqrt(lam_k)[:, None]
        Winv = U_k * np.sqrt(lam_k)[None, :]
    elif method == "zca":
        lc = np.maximum(lam, ZCA_FLOOR)
        W = (U / np.sqrt(lc)[None, :]) @ U.T
        Winv = (U * np.sqrt(lc)[None, :]) @ U.T
    else:
        raise ValueError(f"whitening method must be 'pca' or 'zca', got {method!r}")
    return W, Winv, lam


def fit_whitening(
    store: PatchStore,
    norm: Normalisation = Normalisation(),
    method: str = "pca",
    n_drop: int | None = 0,
    *,
    channelwise: bool = False,
    chunk: int = 10_000,
) -> Whitening:
    """Statistics, streaming covariance and eigen-decomposition of a store's patches. ``n_drop=None`` (PCA):
    drop every direction whose variance is below 1e-6 of the largest, i.e. keep the dimensions the patches
    actually span (a layer with dead channels spans fewer than ``C ph pw``)."""
    if method == "zca" and n_drop not in (0, None):
        raise ValueError(
            f"ZCA whitening keeps every dimension (it clips small eigenvalues at {ZCA_FLOOR:g}); "
            f"n_drop={n_drop} would be ignored: use method='pca' to reduce, or n_drop=0"
        )
    spec = store.spec
    stats = patch_stats(store.chunks(chunk), norm, lambda: store.chunks(chunk))
    C, P = spec.channels, spec.P
    cov = np.zeros((C, P, P)) if channelwise else np.zeros((spec.D, spec.D))
    n = 0
    for x in store.chunks(chunk):
        y = normalise(x, norm, stats)
        if channelwise:
            cov += np.einsum("mcp,mcq->cpq", y, y)
        else:
            f = y.reshape(len(y), -1)
            cov += f.T @ f
        n += len(x)
    cov /= max(n - 1, 1)
    if channelwise:
        if n_drop is None and method == "pca":  # one common dimension for all channels (W is one array)
            lams = np.linalg.eigvalsh(cov)
            n_drop = int(max(np.sum(lam <= AUTO_RANK_TOL * max(lam.max(), 1e-30)) for lam in lams))
        parts = [_whiten_from_cov(cov[c], method, n_drop) for c in range(C)]
        W = np.stack([p[0] for p in parts])
        Winv = np.stack([p[1] for p in parts])
        lam = np.stack([p[2] for p in parts])
    else:
        W, Winv, lam = _whiten_from_cov(cov, method, n_drop)
    return Whitening(spec, norm, stats, method, W, Winv, lam, channelwise)
