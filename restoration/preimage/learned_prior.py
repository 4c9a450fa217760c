"""Inversion with a learned prior, the thesis's way (``foe_inv_funcs.py``): two phases from the same start.

Phase 1: Adam on the layer's mean squared feature error alone (:class:`restoration.objectives.FeatureMSE`), from
``N(114.8, 1.1)`` RGB noise, with jitter for the first 64 % of the steps (the thesis: 3200 of 5000). Phase 2:
from phase 1's image, the same loss plus ``weight x prior``, again with jitter for its first 64 %. Every arm
of a comparison (no prior, each learned prior, each weight) shares phase 1, so they differ only in phase 2.

Thesis settings (``get_imagerec_jitter_and_prior_weight``): AlexNet lr 1.0, 5000 + 5000 steps; VGG16 lr 0.3,
10k + 15k steps; the jitter and prior weight by layer are in :func:`thesis_jitter_and_weight`.

Jitter is the thesis's rule (``net_inversion.train_pre_featmap``'s "new jitter", :mod:`restoration.objectives.jitter`
``thesis``): the pre-image padded with black (zero RGB), ``T // 2`` pixels before and ``T - T // 2`` after, and a
window at one of ``T + 1`` starts per axis; the un-shifted image once jitter stops. Until issue 17 this module used
the ``mirror`` rule (mirrored borders, ``2T + 1`` positions). ``T`` is the thesis's for the layer at its image
size (VGG16 224 px, AlexNet 227 px), scaled to a smaller image as M&V recipes scale theirs (``size``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from restoration.preimage import QUIET, InversionResult, InvertSettings, Reporting, invert
from restoration.objectives.jitter import Jitter
from restoration.objectives import FeatureLoss, FeatureMSE, Term

__all__ = ["PriorInversion", "thesis_jitter_and_weight", "phase_one", "phase_one_to", "phase_two", "feature_error"]

JITTER_FRACTION = 3200 / 5000
INIT_RGB = (114.8, 1.1)


def thesis_jitter_and_weight(
    net_name: str, layer: str, *, size: int | None = None, default_size: int | None = None
) -> tuple[int, float]:
    """The thesis's jitter ``T`` and image-prior weight for a layer: VGG16 weight 1e-4 (1e-3 at pools), jitter 0
    in block 1-2, 1 in block 3 (2 at pool3), 2 in block 4 (4 at pool4), 4 in block 5 (8 at pool5); AlexNet by
    its table (1e-6 conv1/lin ... 1e-4 conv4 and up).

    ``T`` is in pixels of the thesis's images (``default_size``: the net's, 224 / 227). With ``size`` (the images
    inverted) it is scaled by ``size / default_size``, rounded, at least 1 where the thesis jittered, so the
    jitter stays the same fraction of the image (as :meth:`restoration.preimage.recipes.Recipe.jitter_for` scales
    M&V's)."""
    t, w = _thesis_table(net_name, layer)
    if size is None:
        return t, w
    for key, v in (("size", size), ("default_size", default_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"thesis_jitter_and_weight: {key}={v!r} must be a positive integer (pixels)")
    if t and size != default_size:
        t = max(1, int(round(t * size / default_size)))
    return t, w


def _thesis_table(net_name: str, layer: str) -> tuple[int, float]:
    name = layer.split("/")[0]
    kind = name.rstrip("0123456789_")
    digits = "".join(ch for ch in name if ch.isdigit())
    block = int(digits[0]) if digits else 0
    if net_name.startswith("alexnet"):
        table = {
            1: (0, 1e-6 if layer.endswith("/lin") else 1e-4),
            2: (2, 3e-3),
            3: (4, 1e-3),
            4: (4, 1e-4),
            5: (4, 1e-4),
        }
        if name == "pool1":
            return 2, 1e-3
        if name == "pool2":
            return 4, 1e-3
        if name == "pool5":
            return 8, 1e-4
        if name == "lrn1":
            return 1, 3e-4
        if name.startswith("fc"):
            return 8, 1e-4
        return table.get(block, (8, 1e-4))
    if kind == "pool":
        return {1: 0, 2: 1, 3: 2, 4: 4, 5: 8}.get(block, 8), 1e-3
    return {1: 0, 2: 0, 3: 1, 4: 2, 5: 4}.get(block, 8), 1e-4


@dataclasses.dataclass(frozen=True)
class PriorInversion:
    """Steps and rate of the two phases; ``jitter`` ``T`` in pixels (on for the first 64 % of each phase) by
    ``jitter_rule`` (the thesis's zero padding with ``T + 1`` positions; :mod:`restoration.objectives.jitter`)."""

    mse_steps: int = 10_000
    prior_steps: int = 15_000
    lr: float = 0.3
    jitter: int = 0
    seed: int = 0
    jitter_rule: str = "thesis"

    def __post_init__(self):
        Jitter(self.jitter_rule, self.jitter)  # a bad rule or amount fails here, naming it

    def settings(self, steps: int) -> InvertSettings:
        on = int(round(JITTER_FRACTION * steps))
        return InvertSettings(
            optimizer="adam",
            n_steps=steps,
            lr=self.lr,
            jitter=self.jitter,
            jitter_rule=self.jitter_rule,
            jitter_off_steps=steps - on if self.jitter else 0,
            seed=self.seed,
        )

    def describe(self) -> str:
        """The jitter in words, for a report."""
        if not self.jitter:
            return "no jitter"
        j = Jitter(self.jitter_rule, self.jitter)
        pad = {"thesis": "zero (black) padding", "mirror": "mirrored borders", "authors": "a larger canvas"}
        return (
            f"jitter T = {self.jitter} px by the {self.jitter_rule!r} rule ({pad[self.jitter_rule]}, "
            f"{j.n_positions} positions per axis) for the first {JITTER_FRACTION:.0%} of each phase"
        )


def _start(net, n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgb = rng.normal(INIT_RGB[0], INIT_RGB[1], (n, size, size, 3)).astype(np.float32)
    return np.asarray(net.preprocess(rgb), np.float32)


def phase_one(net, images_rgb, layer: str, cfg: PriorInversion, report: Reporting = QUIET) -> InversionResult:
    """MSE alone from noise; returns the result whose ``x_bgr`` every phase 2 starts from."""
    images = np.asarray(images_rgb, np.float32)
    layer = net.resolve(layer)
    phi0 = net(tf.constant(net.preprocess(images)), layer).numpy()
    return phase_one_to(net, layer, phi0, images.shape[1], cfg, report)


def phase_one_to(net, layer: str, target, size: int, cfg: PriorInversion, report: Reporting = QUIET) -> InversionResult:
    """MSE alone from noise onto given activations ``target`` at ``layer`` (e.g. a reconstructed feature map:
    this projects it to an image); ``cfg.mse_steps`` steps."""
    target = np.asarray(target, np.float32)
    x0 = _start(net, len(target), size, cfg.seed)
    return invert(net, FeatureMSE(net.resolve(layer), target), cfg.settings(cfg.mse_steps), x_init=x0, report=report)


def phase_two(
    net,
    images_rgb,
    layer: str,
    start: InversionResult,
    prior: Term | None,
    cfg: PriorInversion,
    report: Reporting = QUIET,
) -> InversionResult:
    """From ``start``'s image: MSE plus ``prior`` (None: MSE alone, the no-prior arm)."""
    images = np.asarray(images_rgb, np.float32)
    layer = net.resolve(layer)
    phi0 = net(tf.constant(net.preprocess(images)), layer).numpy()
    objective = FeatureMSE(layer, phi0) if prior is None else FeatureMSE(layer, phi0) + prior
    return invert(net, objective, cfg.settings(cfg.prior_steps), x_init=start.x_bgr, report=report)


def feature_error(net, images_rgb, layer: str, x_bgr) -> np.ndarray:
    """M&V's normalised feature error ``||phi(x) - phi0||^2 / ||phi0||^2`` per image (the comparison's common
    measure, whatever loss an arm optimised)."""
    layer = net.resolve(layer)
    phi0 = net(tf.constant(net.preprocess(np.asarray(images_rgb, np.float32))), layer).numpy()
    return FeatureLoss(layer, phi0).energy(net(tf.constant(np.asarray(x_bgr, np.float32)), layer)).numpy()
