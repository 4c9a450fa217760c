"""The registry of measures: what every number a run reports means (key, label, unit, which way is better).

Experiments put numbers in their report payload under these keys (:mod:`restoration.payload`), ``tracking``
refuses a payload with an unknown key, the report builder takes labels and units from here, and claims name
the measures they are judged on. A key may carry a qualifier after ``@`` that says where or of what the number
is: ``psnr_mean@pool2`` (PSNR from pool2), ``feat_err@conv3_3``, ``wall_s@lbfgs, conv3``.

The image measures are those of :mod:`restoration.metrics` (RGB in [0, 255], reconstructions clipped); the
normalised error is Mahendran & Vedaldi's ||x - x0||^2 / ||x0||^2, not the thesis code's division by
sum(x0 * x).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    """One kind of number: ``better`` is ``"higher"``, ``"lower"`` or ``None`` (a count or a setting)."""

    key: str
    label: str
    unit: str = ""
    better: str | None = "higher"
    short: str = ""       # for tight spaces (the claims table): "PSNR", "SSIM", ...

    def __post_init__(self):
        if self.better not in ("higher", "lower", None):
            raise ValueError(f"measure {self.key!r}: better must be 'higher', 'lower' or None")

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    def beats(self, a: float, b: float) -> bool:
        """Whether ``a`` is better than ``b`` on this measure (never, for a measure without a direction)."""
        if self.better is None:
            return False
        return a > b if self.better == "higher" else a < b


_ALL = (
    Measure("psnr_mean", "PSNR, mean", "dB", "higher", "PSNR"),
    Measure("psnr_min", "PSNR, worst image", "dB", "higher", "worst PSNR"),
    Measure("ssim_mean", "SSIM, mean", "", "higher", "SSIM"),
    Measure("mse_mean", "MSE, mean", "", "lower", "MSE"),
    Measure("nerr_mean", "normalised error, mean", "", "lower", "norm. error"),
    Measure("feat_err", "normalised feature error", "", "lower", "feature error"),
    Measure("wall_s", "wall time", "s", "lower", "time"),
    Measure("layers", "layers", "", None),
    Measure("images", "images", "", None),
    Measure("steps", "steps", "", None),
    Measure("size_px", "image size", "px", None),
    Measure("modules", "modules", "", None),
    Measure("sm_loss", "score-matching loss, held-out patches", "", "lower", "score matching"),
    Measure("energy_gap", "energy of shuffled minus natural held-out patches, mean", "", "higher", "energy gap"),
    Measure("natural_lower", "held-out patches with lower energy than their shuffled copy", "", "higher",
            "natural lower"),
    Measure("nmse_thesis", "thesis NMSE, sum((x0 - x)^2) / sum(x0 x)", "", "lower", "thesis NMSE"),
    Measure("vgg_score", "VGG16 Gram score (the thesis used VGG19)", "", "lower", "VGG score"),
    Measure("map_err", "normalised feature-map error", "", "lower", "map error"),
    Measure("accept_rate", "sampler acceptance rate", "", None),
    Measure("components", "components", "", None),
    Measure("dims", "whitened dimensions", "", None),
)

MEASURES: dict[str, Measure] = {m.key: m for m in _ALL}


def split_key(key: str) -> tuple[str, str]:
    """``"psnr_mean@pool2"`` -> ``("psnr_mean", "pool2")``; ``"psnr_mean"`` -> ``("psnr_mean", "")``."""
    base, _, qualifier = str(key).partition("@")
    return base, qualifier


def get(key: str) -> Measure:
    """The measure of ``key`` (qualifier ignored); ``KeyError`` naming the known keys."""
    base, _ = split_key(key)
    if base not in MEASURES:
        raise KeyError(f"unknown measure {base!r} (from {key!r}); known measures: {', '.join(MEASURES)}. "
                       f"Declare new ones in restoration/measures.py")
    return MEASURES[base]


def label(key: str, *, unit: bool = True, short: bool = False) -> str:
    """Display label: ``"PSNR, mean (dB), pool2"`` for ``psnr_mean@pool2`` (``short``: ``"PSNR, pool2"``)."""
    m = get(key)
    _, q = split_key(key)
    text = (m.short or m.label) if short else m.label
    text += f" ({m.unit})" if unit and m.unit else ""
    return f"{text}, {q}" if q else text
