"""The thesis's benchmark table: every reconstruction method from every layer, three metrics, one image set.

The thesis closed its visualisation part with one table (thesis repo ``notes``, "avg losses cxl layers";
``utils/rec_evaluation.py``): M&V 2016, the trained inverters and the FoE image prior, each from AlexNet
conv1/lin ... conv5/lin, scored on ten ImageNet validation images by MSE, the thesis's NMSE and the VGG (Gram)
score. This module holds that table's data types (what a method is, what a cell scored), the scoring, the
evaluation set, and the thesis's own numbers (:data:`THESIS_ALEXNET`); :mod:`restoration.benchmark_plots` draws
it and ``experiments/benchmark.py`` runs it.

Scoring (:func:`score`): reconstructions are RGB floats that may leave [0, 255] (the ball constraint allows it).
Two displays are scored: ``clip`` (clipped to [0, 255], the thesis's "bound plots") and ``minmax`` (each image
rescaled to [0, 255] by its own min and max, which is how the thesis's M&V PNGs were written by
``skimage.io.imsave``); which of the two reproduces the thesis's numbers is reported, not assumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Method", "CellScores", "METRICS", "DISPLAYS", "THESIS_ALEXNET", "THESIS_IDS", "display", "score",
           "cell_key", "evaluation_set", "depth_layers", "thesis_value", "summary_key"]

METRICS = ("mse", "nmse_thesis", "vgg_score")
"""The thesis's three metrics (all lower-is-better); PSNR and SSIM are scored besides."""

DISPLAYS = ("clip", "minmax")

#: ImageNet-2012 validation ids of the thesis's ten images (``utils/rec_evaluation.py``, ``subset10_paths``).
THESIS_IDS = (53, 76, 81, 99, 106, 108, 129, 153, 157, 160)

#: The thesis's table (AlexNet, mean over its ten images), ``(method, metric) -> conv1/lin ... conv5/lin``.
THESIS_ALEXNET: Mapping[tuple[str, str], tuple[float, ...]] = {
    ("mv2016_target", "vgg_score"): (0.180, 0.445, 0.530, 0.647, 0.729),
    ("mv2016_target", "mse"): (868.6, 1391.6, 1714.5, 2197.0, 3085.1),
    ("mv2016_target", "nmse_thesis"): (0.0610, 0.0959, 0.1189, 0.1522, 0.2198),
    ("trained_merged", "vgg_score"): (0.0610, 0.517, 0.664, 0.694, 0.730),
    ("trained_merged", "mse"): (188.4, 457.8, 845.2, 1022.6, 1419.9),
    ("trained_merged", "nmse_thesis"): (0.0135, 0.0343, 0.0619, 0.0747, 0.0980),
    ("prior:full512", "vgg_score"): (9.5e-6, 0.216, 0.371, 0.439, 0.599),
    ("prior:full512", "mse"): (2.8, 543.2, 923.2, 1334.4, 2317.4),
    ("prior:full512", "nmse_thesis"): (0.0002, 0.0446, 0.0734, 0.1005, 0.1761),
}
THESIS_LAYERS = ("conv1/lin", "conv2/lin", "conv3/lin", "conv4/lin", "conv5/lin")


@dataclasses.dataclass(frozen=True)
class Method:
    """One row group of the table: how a reconstruction is made.

    ``kind``: ``"mv"`` (optimisation with recipe ``recipe``), ``"trained"`` (``mode`` ``stacked`` or ``merged``
    inversion stacks) or ``"prior"`` (M&V 2016 with TV replaced by the learned image prior ``prior``).
    ``thesis_row`` names the thesis's row it corresponds to (empty: the thesis had none).
    """

    id: str
    label: str
    kind: str
    recipe: str = ""
    mode: str = ""
    prior: str = ""
    thesis_row: str = ""

    def __post_init__(self):
        if self.kind not in ("mv", "trained", "prior"):
            raise ValueError(f"method {self.id}: kind {self.kind!r} is not 'mv', 'trained' or 'prior'")
        if self.kind == "trained" and self.mode not in ("stacked", "merged"):
            raise ValueError(f"method {self.id}: trained mode {self.mode!r} is not 'stacked' or 'merged'")

    @classmethod
    def parse(cls, text: str) -> "Method":
        """A method from its id: ``mv2016``, ``mv2016_target`` (any recipe name), ``trained_stacked``,
        ``trained_merged``, ``prior:<name>``."""
        from restoration import recipes

        if text in ("trained_stacked", "trained_merged"):
            mode = text.split("_")[1]
            return cls(text, f"trained inverters ({mode})", "trained", mode=mode,
                       thesis_row="trained inverters" if mode == "merged" else "")
        if text.startswith("prior:"):
            name = text.split(":", 1)[1]
            return cls(text, f"learned image prior {name}", "prior", prior=name,
                       thesis_row="FoE image prior" if name == "full512" else "")
        if text in recipes.RECIPES:
            label = {"mv2016": "M&V 2016 (random start)", "mv2016_target": "M&V 2016 (start: the image)"}
            return cls(text, label.get(text, f"M&V ({text})"), "mv", recipe=text,
                       thesis_row="M&V 2016" if text == "mv2016_target" else "")
        raise ValueError(f"unknown benchmark method {text!r}: use a recipe name ({sorted(recipes.RECIPES)}), "
                         f"'trained_stacked', 'trained_merged' or 'prior:<name>'")


@dataclasses.dataclass
class CellScores:
    """Per-image scores of one (method, layer) cell, per display: ``scores[display][metric] -> (N,)``."""

    scores: dict

    def mean(self, metric: str, display_mode: str = "clip") -> float:
        return float(np.mean(self.scores[display_mode][metric]))

    def to_json(self) -> dict:
        return {d: {m: np.asarray(v, float).tolist() for m, v in s.items()} for d, s in self.scores.items()}

    @classmethod
    def from_json(cls, obj: Mapping) -> "CellScores":
        return cls({d: {m: np.asarray(v, float) for m, v in s.items()} for d, s in obj.items()})


def display(rgb, mode: str) -> np.ndarray:
    """Reconstructions ``(N, H, W, 3)`` as an image file would hold them: ``clip`` to [0, 255], or ``minmax``
    (each image rescaled by its own min and max to [0, 255]; a constant image becomes mid-grey)."""
    x = np.asarray(rgb, np.float64)
    if mode == "clip":
        return np.clip(x, 0.0, 255.0)
    if mode == "minmax":
        lo = x.min(axis=(1, 2, 3), keepdims=True)
        hi = x.max(axis=(1, 2, 3), keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        return np.where(hi > lo, (x - lo) / span * 255.0, 127.5)
    raise ValueError(f"display mode must be one of {DISPLAYS}, got {mode!r}")


def score(vgg_net, originals, recs, *, layers: Sequence[str] | None = None) -> CellScores:
    """MSE (RGB in [0, 255]), the thesis's NMSE, the VGG score (``vgg_net``: VGG16 with conv{1..5}_1, or the
    given ``layers`` of a test net), PSNR and SSIM of ``recs`` against ``originals`` (both ``(N, H, W, 3)``),
    under each display."""
    from restoration import metrics
    from restoration.vgg_score import VGG_SCORE_LAYERS, vgg_score

    x0 = np.asarray(originals, np.float64)
    out = {}
    for mode in DISPLAYS:
        x = display(recs, mode)
        b = metrics.score_batch(x0, x)
        out[mode] = {"mse": np.asarray(b["mse"]), "nmse_thesis": metrics.thesis_nmse(x, x0, axis=(1, 2, 3)),
                     "vgg_score": vgg_score(vgg_net, x0, x, layers=tuple(layers or VGG_SCORE_LAYERS)),
                     "psnr": np.asarray(b["psnr"]),
                     "ssim": np.asarray(b["ssim"])}
    return CellScores(out)


def cell_key(**parts) -> str:
    """A digest of everything that decides a cell's reconstructions (net digest, layer, method, its settings,
    the images' fingerprint, seed): equal keys mean an earlier run's cell can be reused."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def summary_key(measure: str, net: str, method: str, depth: str) -> str:
    """The report summary key of one cell's mean, e.g. ``mse_mean@vgg16/trained_merged/conv3``."""
    return f"{measure}@{net}/{method}/{depth}"


def depth_layers(net, depths: Sequence[int], targets: str = "lin") -> dict[str, str]:
    """``{"conv1": layer, ...}``: the last convolution of each depth (block) ``k`` of ``net``, pre-ReLU
    (``/lin``, the thesis's choice) or ``/relu``. AlexNet: ``conv3/lin``; VGG16: ``conv3_3/lin``."""
    convs = [op.name.split("/")[0] for op in net.ops if op.kind == "conv"]
    out = {}
    for k in depths:
        mine = [c for c in convs if re.fullmatch(rf"conv{k}(_\d+)?", c)]
        if not mine:
            blocks = sorted({int(re.match(r"conv(\d+)", c).group(1)) for c in convs})
            raise ValueError(f"{net.name} has no conv{k} layer (its convolutions: {convs}); choose depths from "
                             f"{blocks}")
        out[f"conv{k}"] = f"{mine[-1]}/{targets}"
    return out


def thesis_value(method: str, metric: str, depth: str) -> float | None:
    """The thesis's AlexNet number for ``method`` (our id), ``metric`` and ``depth`` (``conv3``), or None."""
    row = THESIS_ALEXNET.get((method, metric))
    if row is None:
        return None
    k = int(depth[4:]) - 1
    return row[k] if 0 <= k < len(row) else None


def evaluation_set(image_dir: str | None, size: int, n_images: int) -> tuple[list[tuple[str, np.ndarray]], str]:
    """``(named images at size x size, a sentence saying which)``.

    Default (no folder): the embedded held-out photos (no trained module or prior saw them). With a folder: the
    thesis's ten ImageNet validation ids (:data:`THESIS_IDS`, files named ``..._000000NN.*``) when present, else
    its first ``n_images`` images; the sentence says which.
    """
    from restoration import data

    if image_dir is None:
        named = [(n, data.center_crop_resize(im, size)) for n, im in data.embedded_images("heldout")][:n_images]
        return named, (f"the embedded held-out photos ({', '.join(n for n, _ in named)}; no trained module or "
                       f"prior saw them), centre-cropped to {size} px")
    named = data.folder_images(image_dir, size=size)
    ids = {}
    for name, im in named:
        m = re.search(r"(\d+)$", name)
        if m and int(m.group(1)) in THESIS_IDS:
            ids[int(m.group(1))] = (name, im)
    if ids:
        found = [ids[i] for i in THESIS_IDS if i in ids]
        missing = [i for i in THESIS_IDS if i not in ids]
        return found, (f"the thesis's ImageNet validation images from {image_dir} ({len(found)} of 10"
                       + (f"; missing ids {missing}" if missing else "") + f"), {size} px")
    return named[:n_images], (f"the first {min(n_images, len(named))} images of {image_dir} (none of the thesis's "
                              f"ten ImageNet ids {list(THESIS_IDS)} found there), {size} px")
