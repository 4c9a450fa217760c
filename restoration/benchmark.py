"""The thesis's benchmark table: every reconstruction method from every layer, three metrics, one image set.

The thesis closed its visualisation part with one table (thesis repo ``notes``, "avg losses cxl layers";
``utils/rec_evaluation.py``): M&V 2016, the trained inverters and the FoE image prior, each from AlexNet
conv1/lin ... conv5/lin, scored on ten ImageNet validation images by MSE, the thesis's NMSE and the VGG (Gram)
score. This module holds that table's data types (what a method is, what a cell scored), the scoring, the
evaluation set, the thesis's own numbers (:data:`THESIS_ALEXNET`) and the thesis's two-phase prior inversion
that made its FoE row (:func:`two_phase_inversion`); :mod:`restoration_reports.plots.benchmark` draws it and
``experiments/benchmark.py`` runs it.

The FoE prior has two rows here. ``foe_thesis:<prior>`` is the thesis's procedure (``foe_inv_funcs.py``,
``run_image_opt_inversions``): phase 1 minimises the layer's mean squared feature error alone from noise, phase 2
continues from phase 1's image with that error plus the prior at the thesis's per-layer weight
(:func:`restoration.preimage.learned_prior.thesis_jitter_and_weight`); the thesis's AlexNet numbers stand beside it.
``prior:<prior>`` is M&V 2016's recipe with TV replaced by the prior (this project's own form, no thesis row).

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

__all__ = [
    "Method",
    "CellScores",
    "METRICS",
    "DISPLAYS",
    "THESIS_ALEXNET",
    "THESIS_IDS",
    "display",
    "score",
    "cell_key",
    "evaluation_set",
    "depth_layers",
    "thesis_value",
    "summary_key",
    "cell_qualifier",
    "TwoPhase",
    "THESIS_TWO_PHASE",
    "two_phase_schedule",
    "two_phase_inversion",
]

METRICS = ("mse", "nmse_thesis", "vgg_score")
"""The thesis's three metrics (all lower-is-better); PSNR and SSIM are scored besides."""

DISPLAYS = ("clip", "minmax")

#: ImageNet-2012 validation ids of the thesis's ten images (``utils/rec_evaluation.py``, ``subset10_paths``).
THESIS_IDS = (53, 76, 81, 99, 106, 108, 129, 153, 157, 160)

#: The thesis's table (AlexNet, mean over its ten images), ``(method, metric) -> conv1/lin ... conv5/lin``. Its FoE
#: row came from the two-phase procedure (``foe_inv_funcs.py``, ``full512/rec_10000.png``), so it is keyed by our
#: ``foe_thesis:full512``, not by the M&V-with-prior row ``prior:full512``.
THESIS_ALEXNET: Mapping[tuple[str, str], tuple[float, ...]] = {
    ("mv2016_target", "vgg_score"): (0.180, 0.445, 0.530, 0.647, 0.729),
    ("mv2016_target", "mse"): (868.6, 1391.6, 1714.5, 2197.0, 3085.1),
    ("mv2016_target", "nmse_thesis"): (0.0610, 0.0959, 0.1189, 0.1522, 0.2198),
    ("trained_merged", "vgg_score"): (0.0610, 0.517, 0.664, 0.694, 0.730),
    ("trained_merged", "mse"): (188.4, 457.8, 845.2, 1022.6, 1419.9),
    ("trained_merged", "nmse_thesis"): (0.0135, 0.0343, 0.0619, 0.0747, 0.0980),
    ("foe_thesis:full512", "vgg_score"): (9.5e-6, 0.216, 0.371, 0.439, 0.599),
    ("foe_thesis:full512", "mse"): (2.8, 543.2, 923.2, 1334.4, 2317.4),
    ("foe_thesis:full512", "nmse_thesis"): (0.0002, 0.0446, 0.0734, 0.1005, 0.1761),
}
THESIS_LAYERS = ("conv1/lin", "conv2/lin", "conv3/lin", "conv4/lin", "conv5/lin")


@dataclasses.dataclass(frozen=True)
class Method:
    """One row group of the table: how a reconstruction is made.

    ``kind``: ``"mv"`` (optimisation with recipe ``recipe``), ``"trained"`` (``mode`` ``stacked`` or ``merged``
    inversion stacks), ``"prior"`` (M&V 2016 with TV replaced by the learned image prior ``prior``) or
    ``"foe_thesis"`` (the thesis's two phases with ``prior``: feature MSE alone, then MSE + prior).
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
        if self.kind not in ("mv", "trained", "prior", "foe_thesis"):
            raise ValueError(f"method {self.id}: kind {self.kind!r} is not 'mv', 'trained', 'prior' or 'foe_thesis'")
        if self.kind in ("prior", "foe_thesis") and not self.prior:
            raise ValueError(f"method {self.id}: name the prior, e.g. '{self.kind}:full512'")
        if self.kind == "trained" and self.mode not in ("stacked", "merged"):
            raise ValueError(f"method {self.id}: trained mode {self.mode!r} is not 'stacked' or 'merged'")

    @classmethod
    def parse(cls, text: str) -> "Method":
        """A method from its id: ``mv2016``, ``mv2016_target`` (any recipe name), ``trained_stacked``,
        ``trained_merged``, ``prior:<name>`` (M&V 2016 with the prior in place of TV), ``foe_thesis:<name>``
        (the thesis's two-phase inversion with the prior)."""
        from restoration.preimage import recipes

        if text in ("trained_stacked", "trained_merged"):
            mode = text.split("_")[1]
            return cls(
                text,
                f"trained inverters ({mode})",
                "trained",
                mode=mode,
                thesis_row="trained inverters" if mode == "merged" else "",
            )
        if text.startswith("prior:"):
            name = text.split(":", 1)[1]
            return cls(text, f"M&V 2016 + prior {name} (in place of TV)", "prior", prior=name)
        if text.startswith("foe_thesis:"):
            name = text.split(":", 1)[1]
            return cls(
                text,
                f"prior {name}, thesis's 2 phases (MSE, then MSE + prior)",
                "foe_thesis",
                prior=name,
                thesis_row="FoE image prior" if name == "full512" else "",
            )
        if text in recipes.RECIPES:
            label = {"mv2016": "M&V 2016 (random start)", "mv2016_target": "M&V 2016 (start: the image)"}
            return cls(
                text,
                label.get(text, f"M&V ({text})"),
                "mv",
                recipe=text,
                thesis_row="M&V 2016" if text == "mv2016_target" else "",
            )
        raise ValueError(
            f"unknown benchmark method {text!r}: use a recipe name ({sorted(recipes.RECIPES)}), "
            f"'trained_stacked', 'trained_merged', 'prior:<name>' or 'foe_thesis:<name>'"
        )


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
    from restoration.metrics.vgg_score import VGG_SCORE_LAYERS, vgg_score

    x0 = np.asarray(originals, np.float64)
    out = {}
    for mode in DISPLAYS:
        x = display(recs, mode)
        b = metrics.score_batch(x0, x)
        out[mode] = {
            "mse": np.asarray(b["mse"]),
            "nmse_thesis": metrics.thesis_nmse(x, x0, axis=(1, 2, 3)),
            "vgg_score": vgg_score(vgg_net, x0, x, layers=tuple(layers or VGG_SCORE_LAYERS)),
            "psnr": np.asarray(b["psnr"]),
            "ssim": np.asarray(b["ssim"]),
        }
    return CellScores(out)


def cell_key(**parts) -> str:
    """A digest of everything that decides a cell's reconstructions (net digest, layer, method, its settings,
    the images' fingerprint, seed): equal keys mean an earlier run's cell can be reused."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def cell_qualifier(net: str, method: str, depth: str) -> str:
    """The summary qualifier of one cell, ``vgg16/trained_merged/conv3``; the payload's per-image scores of the
    cell are stored under it."""
    return f"{net}/{method}/{depth}"


def summary_key(measure: str, net: str, method: str, depth: str) -> str:
    """The report summary key of one cell's mean, e.g. ``mse_mean@vgg16/trained_merged/conv3``."""
    return f"{measure}@{cell_qualifier(net, method, depth)}"


def depth_layers(net, depths: Sequence[int], targets: str = "lin") -> dict[str, str]:
    """``{"conv1": layer, ...}``: the last convolution of each depth (block) ``k`` of ``net``, pre-ReLU
    (``/lin``, the thesis's choice) or ``/relu``. AlexNet: ``conv3/lin``; VGG16: ``conv3_3/lin``."""
    convs = [op.name.split("/")[0] for op in net.ops if op.kind == "conv"]
    out = {}
    for k in depths:
        mine = [c for c in convs if re.fullmatch(rf"conv{k}(_\d+)?", c)]
        if not mine:
            blocks = sorted({int(re.match(r"conv(\d+)", c).group(1)) for c in convs})
            raise ValueError(
                f"{net.name} has no conv{k} layer (its convolutions: {convs}); choose depths from {blocks}"
            )
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
        return named, (
            f"the embedded held-out photos ({', '.join(n for n, _ in named)}; no trained module or "
            f"prior saw them), centre-cropped to {size} px"
        )
    named = data.folder_images(image_dir, size=size)
    ids = {}
    for name, im in named:
        m = re.search(r"(\d+)$", name)
        if m and int(m.group(1)) in THESIS_IDS:
            ids[int(m.group(1))] = (name, im)
    if ids:
        found = [ids[i] for i in THESIS_IDS if i in ids]
        missing = [i for i in THESIS_IDS if i not in ids]
        return found, (
            f"the thesis's ImageNet validation images from {image_dir} ({len(found)} of 10"
            + (f"; missing ids {missing}" if missing else "")
            + f"), {size} px"
        )
    return named[:n_images], (
        f"the first {min(n_images, len(named))} images of {image_dir} (none of the thesis's "
        f"ten ImageNet ids {list(THESIS_IDS)} found there), {size} px"
    )


# ----------------------------------------------------------------------------------------------------------
# the thesis's two-phase prior inversion (its FoE row)
# ----------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TwoPhase:
    """Steps and rate of the thesis's two-phase prior inversion (``foe_inv_funcs.run_image_opt_inversions``).

    ``mse_steps`` of Adam on the mean squared feature error alone, then ``prior_steps`` on that error plus the
    prior, both at the constant rate ``lr``; jitter is on for the first ``jitter_steps`` steps of *each* phase (the
    thesis's ``jitterations``; its phase 2 stops jitter at ``mse_iterations + jitterations`` with the step counter
    continuing from phase 1).
    """

    mse_steps: int
    prior_steps: int
    jitter_steps: int
    lr: float

    def __post_init__(self):
        for name in ("mse_steps", "prior_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"two-phase inversion: {name}={v!r} must be a positive integer")
        if isinstance(self.jitter_steps, bool) or not isinstance(self.jitter_steps, int) or self.jitter_steps < 0:
            raise ValueError(f"two-phase inversion: jitter_steps={self.jitter_steps!r} must be an integer >= 0")
        if not np.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"two-phase inversion: lr={self.lr!r} must be a positive number")

    def scaled(self, factor: float, lr_scale: float = 1.0) -> "TwoPhase":
        """Every step count times ``factor`` (at least one step per phase), the rate times ``lr_scale``: how the
        quick profile shrinks the thesis's counts, by the factor it shrinks M&V 2016's 3500 steps."""
        if not np.isfinite(factor) or factor <= 0:
            raise ValueError(f"two-phase inversion: step factor {factor!r} must be positive")
        return TwoPhase(
            max(int(round(self.mse_steps * factor)), 1),
            max(int(round(self.prior_steps * factor)), 1),
            int(round(self.jitter_steps * factor)),
            float(self.lr * lr_scale),
        )


#: The thesis's settings by net. AlexNet: ``run_image_opt_inversions``'s defaults, which made its benchmark row
#: (``full512/rec_10000.png`` = 5000 + 5000 steps, lr 1.0, jitter for 3200 steps of each phase). VGG16: its VGG16
#: runs (``stack_script_2.py``: lr 0.3, 10,000 + 15,000 steps, jitter for 6900); the thesis's table had no VGG16.
THESIS_TWO_PHASE: Mapping[str, TwoPhase] = {
    "alexnet": TwoPhase(5000, 5000, 3200, 1.0),
    "vgg16": TwoPhase(10_000, 15_000, 6900, 0.3),
}


def two_phase_schedule(net_name: str) -> TwoPhase:
    """The thesis's :class:`TwoPhase` for a net: AlexNet's for ``alexnet*``, VGG16's for every other (VGG-shaped)
    net, the test nets included."""
    return THESIS_TWO_PHASE["alexnet" if net_name.startswith("alexnet") else "vgg16"]


def two_phase_inversion(
    net,
    images_rgb,
    layer: str,
    prior,
    schedule: TwoPhase,
    *,
    jitter: int,
    seed: int = 0,
    log=None,
    log_prefix: str = "",
    log_every: int = 10,
    progress: bool = False,
):
    """The thesis's prior inversion of ``images_rgb`` ``(N, H, W, 3)`` from ``layer``; returns
    ``(phase 1 result, phase 2 result)`` (:class:`restoration.preimage.InversionResult`; phase 2's is the
    reconstruction).

    Phase 1: Adam on :class:`restoration.objectives.FeatureMSE` (the thesis's ``tf.losses.mean_squared_error``
    of the layer) alone, from ``N(114.8, 1.1)`` RGB noise (:data:`restoration.preimage.learned_prior.INIT_RGB`).
    Phase 2:
    from phase 1's image, the same error plus ``prior`` (a weighted :class:`restoration.objectives.Term`, e.g.
    ``PatchPrior(params, weight=1e-4)``). Both at ``schedule.lr``, with the thesis's jitter rule (zero padding,
    ``jitter`` + 1 positions) for the first ``schedule.jitter_steps`` steps of each phase; no pixel constraint
    (the thesis's ``range_clip=False``). ``log(name, value, step)`` gets phase 1's terms under
    ``<log_prefix>phase1/`` and phase 2's under ``<log_prefix>phase2/``, phase 2's steps counted on from phase 1's
    last (the thesis's ``ckpt_offset``).

    Where this differs from the thesis: no gradient clipping (the thesis clipped each gradient entry at 10,000;
    Adam's step barely depends on the gradient's scale); the images are optimised as one batch (the thesis ran
    them one at a time; the energies are per image, so only the jitter draws are shared); and Adam's moments
    start afresh in phase 2, as the thesis's new ``NetInversion`` did.
    """
    # Kept linear on purpose: it transcribes the thesis's two-phase procedure (foe_inv_funcs.py: MSE only, then MSE
    # plus the prior) step for step, so it can be read beside that file.
    import tensorflow as tf

    from restoration.preimage import InvertSettings, Reporting, invert
    from restoration.objectives import FeatureMSE, Term
    from restoration.preimage.learned_prior import INIT_RGB

    if not isinstance(prior, Term):
        raise ValueError(
            f"two_phase_inversion: prior must be a weighted Term (e.g. PatchPrior(params, weight=1e-4)),"
            f" got {type(prior).__name__}"
        )
    if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
        raise ValueError(f"two_phase_inversion: jitter={jitter!r} must be an integer >= 0 (pixels)")
    images = np.asarray(images_rgb, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"two_phase_inversion: images_rgb must have shape (N, H, W, 3), got {images.shape}")
    layer = net.resolve(layer)
    phi0 = net(tf.constant(net.preprocess(images)), layer).numpy()
    noise = np.random.default_rng(seed).normal(INIT_RGB[0], INIT_RGB[1], images.shape).astype(np.float32)
    x_start = np.asarray(net.preprocess(noise), np.float32)

    def settings(steps: int):
        off = max(steps - schedule.jitter_steps, 0) if jitter else 0
        return InvertSettings(
            optimizer="adam",
            n_steps=steps,
            lr=schedule.lr,
            jitter=jitter,
            jitter_rule="thesis",
            jitter_off_steps=off,
            seed=seed,
        )

    later = None if log is None else (lambda n, v, s: log(n, v, s + schedule.mse_steps))  # noqa: E731
    one = invert(
        net,
        FeatureMSE(layer, phi0),
        settings(schedule.mse_steps),
        x_init=x_start,
        report=Reporting(log=log, log_every=log_every, log_prefix=f"{log_prefix}phase1/", progress=progress),
    )
    two = invert(
        net,
        FeatureMSE(layer, phi0) + prior,
        settings(schedule.prior_steps),
        x_init=one.x_bgr,
        report=Reporting(log=later, log_every=log_every, log_prefix=f"{log_prefix}phase2/", progress=progress),
    )
    return one, two
