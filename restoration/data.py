"""Natural image sets: the embedded default (scikit-image's bundled colour photos) and user folders.

All images here are RGB ``uint8`` arrays of shape ``(H, W, 3)``; batches are float32 RGB in ``[0, 255]`` of
shape ``(N, S, S, 3)``. Nets take ``net.preprocess(batch)``. Nothing is downloaded: the embedded set is the
photos that ship inside the scikit-image wheel, and a folder set (e.g. an ImageNet subset) is the thesis scale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from restoration.errors import ImageReadError

# Colour images inside the scikit-image wheel (no pooch download), by loader name. The split is fixed:
# held-out images never appear in training crops. motorcycle_right is left out (same scene as the left view).
EMBEDDED_TRAIN = ("astronaut", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "stereo_motorcycle")
EMBEDDED_HELDOUT = ("chelsea", "rocket")
# Of those, not natural photographs: a Hubble deep-field exposure (point sources on black), a stained tissue
# micrograph and a retinal fundus image. Trained inverters may learn from their crops; a "natural image" prior
# should not, so the learned priors' quick profile trains on PRIOR_TRAIN (issue 17; the thesis drew its patches
# from ImageNet photographs).
NOT_NATURAL = ("hubble_deep_field", "immunohistochemistry", "retina")
PRIOR_TRAIN = tuple(n for n in EMBEDDED_TRAIN if n not in NOT_NATURAL)  # astronaut, coffee, stereo_motorcycle
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm")

Named = list[tuple[str, np.ndarray]]


def _as_rgb_uint8(img: np.ndarray, name: str) -> np.ndarray:
    """Any decoded image as RGB uint8: grey is repeated, alpha dropped, wider integers (16-bit PNG/TIFF) scaled
    by their range, floats taken as [0, 1] when their maximum is at most 1, else as [0, 255]."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] not in (3, 4):
        raise ImageReadError(f"{name}: expected an RGB image, got an array of shape {img.shape}")
    img = img[..., :3]
    if img.dtype == bool:
        img = img.astype(np.float64) * 255.0
    elif np.issubdtype(img.dtype, np.integer) and img.dtype != np.uint8:
        img = img.astype(np.float64) * (255.0 / np.iinfo(img.dtype).max)
    elif np.issubdtype(img.dtype, np.floating) and img.max() <= 1.0:
        img = img * 255.0
    if img.dtype != np.uint8:
        img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img


def embedded_images(split: str = "train") -> Named:
    """The embedded default image set: ``split`` is ``"train"``, ``"heldout"``, ``"all"`` or ``"prior_train"``
    (the natural photographs of ``"train"``, :data:`PRIOR_TRAIN`).

    Returns ``[(name, rgb uint8 (H, W, 3)), ...]`` in a fixed order.
    """
    names = {
        "train": EMBEDDED_TRAIN,
        "heldout": EMBEDDED_HELDOUT,
        "all": EMBEDDED_TRAIN + EMBEDDED_HELDOUT,
        "prior_train": PRIOR_TRAIN,
    }.get(split)
    if names is None:
        raise ValueError(f"split must be 'train', 'heldout', 'all' or 'prior_train', got {split!r}")
    return embedded_named(names)


def embedded_named(names: Sequence[str]) -> Named:
    """The embedded images ``names`` (of :data:`EMBEDDED_TRAIN` and :data:`EMBEDDED_HELDOUT`), in that order;
    an unknown name is a ``ValueError`` listing the known ones."""
    import skimage.data

    known = EMBEDDED_TRAIN + EMBEDDED_HELDOUT
    if isinstance(names, str):
        raise ValueError(f"pass a list of embedded image names, e.g. ['astronaut', 'coffee'], not the string {names!r}")
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"unknown embedded image(s) {bad}; known: {', '.join(known)}")
    out = []
    for name in names:
        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):  # stereo_motorcycle -> (left, right, disparity)
            img = img[0]
        out.append((name, _as_rgb_uint8(img, name)))
    return out


def center_crop_resize(img: np.ndarray, size: int) -> np.ndarray:
    """Largest centred square of ``img``, resized to ``size x size`` (anti-aliased); RGB uint8."""
    from skimage.transform import resize

    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    sq = img[top : top + s, left : left + s]
    if s == size:
        return sq.copy()
    out = resize(sq, (size, size), order=1, anti_aliasing=s > size, preserve_range=True)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def load_image(path: str | os.PathLike, *, size: int | None = None) -> np.ndarray:
    """Read one image file as RGB uint8; with ``size``, centre-crop to a square and resize.

    Raises :class:`ImageReadError` naming the file when it is missing or cannot be decoded.
    """
    import imageio.v3 as iio

    p = Path(path)
    if not p.is_file():
        raise ImageReadError(f"image file not found: {p.resolve()}")
    try:
        img = iio.imread(p)
    except Exception as e:  # noqa: BLE001 - decoders raise many types; all mean "unreadable"
        raise ImageReadError(
            f"cannot read image {p} ({type(e).__name__}: {e}); is it a valid image file? "
            f"Supported: {', '.join(IMAGE_SUFFIXES)}"
        ) from e
    if img.ndim == 4:  # animated gif / multipage: first frame
        img = img[0]
    img = _as_rgb_uint8(img, str(p))
    return center_crop_resize(img, size) if size else img


def folder_images(
    path: str | os.PathLike, *, size: int | None = None, limit: int | None = None, skip_unreadable: bool = False
) -> Named:
    """All images in a folder (sorted by name, non-recursive), e.g. an ImageNet subset at thesis scale.

    An unreadable file raises :class:`ImageReadError` naming it, unless ``skip_unreadable`` (then it is left
    out with a warning). An empty or missing folder raises ``ValueError``/``ImageReadError`` with the fix.
    """
    import warnings

    d = Path(path)
    if not d.is_dir():
        raise ImageReadError(
            f"image folder not found: {d.resolve()} (set the experiment's image_dir config to "
            f"a folder of .jpg/.png images)"
        )
    files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if limit:
        files = files[:limit]
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {d.resolve()}")
    out = []
    for f in files:
        try:
            out.append((f.stem, load_image(f, size=size)))
        except ImageReadError as e:
            if not skip_unreadable:
                raise
            warnings.warn(f"skipping {e}")
    return out


def split_named(images: Named, heldout_fraction: float = 0.1, *, seed: int = 0) -> tuple[Named, Named]:
    """Fixed random train / held-out split of a folder set (same ``seed`` -> same split)."""
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    idx = np.random.default_rng(seed).permutation(len(images))
    n_held = max(1, int(round(len(images) * heldout_fraction)))
    held = set(idx[:n_held].tolist())
    return ([im for i, im in enumerate(images) if i not in held], [im for i, im in enumerate(images) if i in held])


def random_crop(
    img: np.ndarray, size: int, rng: np.random.Generator, *, scale: tuple[float, float] = (1.0, 1.0), flip: bool = False
) -> np.ndarray:
    """One random ``size x size`` crop of the image seen at a scale drawn from ``scale``; float32 RGB.

    A scale ``f`` < 1 crops a ``size / f`` square and resizes it to ``size`` (anti-aliased), so the crop
    covers more of the scene, as a photo scaled down to ``f`` of its size would; only that square is resampled,
    never the whole image. With ``flip`` the crop is mirrored left-right with probability 1/2.
    """
    from skimage.transform import resize

    h, w = img.shape[:2]
    lo, hi = scale
    f = rng.uniform(lo, hi) if hi > lo else lo
    side = min(int(round(size / f)), h, w)
    side = max(side, min(size, h, w))
    top = int(rng.integers(0, h - side + 1))
    left = int(rng.integers(0, w - side + 1))
    region = img[top : top + side, left : left + side]
    if side != size:
        region = resize(region, (size, size), order=1, anti_aliasing=side > size, preserve_range=True)
    if flip and rng.random() < 0.5:
        region = region[:, ::-1]
    return np.asarray(region, np.float32)


def random_crops(
    images: Sequence[np.ndarray] | Named,
    size: int,
    n: int,
    *,
    rng: np.random.Generator,
    scale: tuple[float, float] = (1.0, 1.0),
    flip: bool = False,
) -> np.ndarray:
    """``n`` random crops from randomly chosen images: float32 RGB ``(n, size, size, 3)`` in [0, 255]."""
    arrays = [im[1] if isinstance(im, tuple) else im for im in images]
    if not arrays:
        raise ValueError("random_crops needs at least one image")
    small = [a.shape[:2] for a in arrays if min(a.shape[:2]) < size and scale[1] <= 1.0]
    if small and len(small) == len(arrays):
        raise ValueError(f"crop size {size} exceeds every image ({small[:3]}...); use a smaller crop")
    picks = rng.integers(0, len(arrays), n)
    return np.stack([random_crop(arrays[i], size, rng, scale=scale, flip=flip) for i in picks])


def pyramid(img: np.ndarray, scales: Sequence[float], *, min_side: int = 1) -> list[np.ndarray]:
    """Downscaled copies of ``img`` (anti-aliased; float32 RGB) at each factor in ``scales`` whose shorter side
    is still at least ``min_side``; factor 1 is the image itself."""
    from skimage.transform import resize

    out = []
    h, w = img.shape[:2]
    for f in scales:
        hh, ww = int(round(h * f)), int(round(w * f))
        if min(hh, ww) < min_side:
            continue
        if (hh, ww) == (h, w):
            out.append(np.asarray(img, np.float32))
        else:
            out.append(resize(img, (hh, ww), order=1, anti_aliasing=True, preserve_range=True).astype(np.float32))
    return out


@dataclass(frozen=True, eq=False)
class CropBatches:
    """``step -> (batch_size, crop, crop, 3)`` float32 RGB [0, 255] random crops, a pure function of the step.

    Each crop picks an image, then one of its pyramid levels (the photo downscaled by one of ``scales``; scale
    augmentation, so the modules also see the denser detail of a whole photo shown small), then a position,
    and with ``flip`` mirrors it left-right with probability 1/2. The generator is seeded by ``(seed, step)``,
    so a run resumed at step t sees the same batches as an uninterrupted one. :meth:`fingerprint` identifies
    the batch stream (the images' bytes and every setting), so trained weights can be keyed by the data they
    saw.
    """

    images: tuple
    levels: tuple
    crop: int
    batch_size: int
    seed: int = 0
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False

    def __call__(self, step: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, int(step)])
        picks = rng.integers(0, len(self.levels), self.batch_size)
        out = np.empty((self.batch_size, self.crop, self.crop, 3), np.float32)
        for n, i in enumerate(picks):
            levels = self.levels[i]
            img = levels[int(rng.integers(0, len(levels)))] if len(levels) > 1 else levels[0]
            top = int(rng.integers(0, img.shape[0] - self.crop + 1))
            left = int(rng.integers(0, img.shape[1] - self.crop + 1))
            region = img[top : top + self.crop, left : left + self.crop]
            if self.flip and rng.random() < 0.5:
                region = region[:, ::-1]
            out[n] = region
        return out

    def fingerprint(self) -> str:
        import hashlib

        h = hashlib.sha1()
        for im in self.images:
            a = np.ascontiguousarray(im)
            h.update(f"{a.shape}{a.dtype}".encode())
            h.update(a.tobytes())
        h.update(repr(("pyramid/1", self.crop, self.batch_size, self.seed, self.scales, self.flip)).encode())
        return h.hexdigest()

    def describe(self) -> str:
        aug = []
        if self.scales != (1.0,):
            aug.append("scales " + ", ".join(f"{f:g}" for f in self.scales))
        if self.flip:
            aug.append("left-right flips")
        return f"batches of {self.batch_size} random {self.crop} px crops of {len(self.images)} images" + (
            f" ({'; '.join(aug)})" if aug else ""
        )


def crop_batches(
    images, *, crop: int, batch_size: int, seed: int = 0, scales: Sequence[float] = (1.0,), flip: bool = False
) -> CropBatches:
    """Checked constructor of :class:`CropBatches`; ``images``: arrays or ``(name, array)`` pairs."""
    arrays = tuple(im[1] if isinstance(im, tuple) else np.asarray(im) for im in images)
    if not arrays:
        raise ValueError("crop_batches needs at least one training image")
    for name, v in (("crop", crop), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    scales = tuple(float(f) for f in scales)
    if not scales or not all(0 < f <= 1 for f in scales):
        raise ValueError(f"scales must be factors in (0, 1], got {scales!r}")
    small = [i for i, im in enumerate(arrays) if min(im.shape[:2]) < crop]
    if small:
        raise ValueError(f"training images {small} are smaller than the crop size {crop}; lower `crop`")
    levels = tuple(tuple(pyramid(a, scales, min_side=crop)) or (np.asarray(a, np.float32),) for a in arrays)
    return CropBatches(arrays, levels, int(crop), int(batch_size), int(seed), scales, bool(flip))


def fixed_crops(images: Named, size: int, per_image: int = 1) -> Named:
    """Deterministic evaluation crops: ``per_image`` crops of ``size`` per image.

    ``per_image=1`` is the centred square resized to ``size``; ``k**2`` crops tile a ``k x k`` grid over the
    centred square resized to ``k*size``. Names are ``"<image>"`` or ``"<image>#<i>"``. float32 RGB in [0, 255].
    """
    k = int(round(np.sqrt(per_image)))
    if k * k != per_image:
        raise ValueError(f"per_image must be a square number (1, 4, 9, ...), got {per_image}")
    out = []
    for name, img in images:
        sq = center_crop_resize(img, size * k).astype(np.float32)
        if k == 1:
            out.append((name, sq))
            continue
        for i in range(k):
            for j in range(k):
                out.append((f"{name}#{i * k + j}", sq[i * size : (i + 1) * size, j * size : (j + 1) * size]))
    return out


def batches(
    images: Sequence[np.ndarray] | Named,
    batch_size: int,
    crop: int,
    *,
    seed: int = 0,
    scale: tuple[float, float] = (1.0, 1.0),
) -> Iterator[np.ndarray]:
    """Endless iterator of random-crop batches, float32 RGB ``(batch_size, crop, crop, 3)``; seeded."""
    rng = np.random.default_rng(seed)
    while True:
        yield random_crops(images, crop, batch_size, rng=rng, scale=scale)
