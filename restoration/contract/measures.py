"""The registry of measures: what every number a run reports means (key, label, unit, which way is better).

Experiments put numbers in their report payload under these keys (:mod:`restoration.contract.payload`), ``tracking``
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
    short: str = ""  # for tight spaces (the claims table): "PSNR", "SSIM", ...
    delta: float | None = None  # the practical difference: a claim's effect within ±delta is "no practical
    #                              difference" (None: the measure does not vote, see ``family``)
    family: str = ""  # measures of one family are monotone in the same per-image number (PSNR, MSE and
    #                       the normalised errors all in the per-image MSE): only the family's first votes

    def __post_init__(self):
        if self.better not in ("higher", "lower", None):
            raise ValueError(f"measure {self.key!r}: better must be 'higher', 'lower' or None")

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"

    def oriented(self, expected: float, other: float) -> float:
        """``expected - other`` signed so that positive means ``expected`` is better on this measure."""
        if self.better is None:
            raise ValueError(f"measure {self.key!r} has no direction; a claim cannot be judged on it")
        return expected - other if self.better == "higher" else other - expected

    def beats(self, a: float, b: float) -> bool:
        """Whether ``a`` is better than ``b`` on this measure (never, for a measure without a direction)."""
        if self.better is None:
            return False
        return a > b if self.better == "higher" else a < b


#: Practical differences (``delta``): 0.5 dB PSNR (a difference a reader sees in a side-by-side crop at these
#: quality levels, and about half the run-to-run spread per photo at the quick profile), 0.01 SSIM, 0.02 of the
#: VGG Gram score (its values span 1e-5 to 0.7 in the thesis's table), 0.05 of the energy gap. The pixel-error
#: family votes once: on PSNR, per image 10 log10(255^2 / MSE), so an MSE claim is judged in dB.
_ALL = (
    Measure("psnr_mean", "PSNR, mean", "dB", "higher", "PSNR", delta=0.5, family="pixel error"),
    Measure("psnr_min", "PSNR, worst image", "dB", "higher", "worst PSNR"),
    Measure("ssim_mean", "SSIM, mean", "", "higher", "SSIM", delta=0.01),
    Measure("mse_mean", "MSE, mean", "", "lower", "MSE", family="pixel error"),
    Measure("nerr_mean", "normalised error, mean", "", "lower", "norm. error", family="pixel error"),
    Measure("feat_err", "normalised feature error", "", "lower", "feature error"),
    Measure("wall_s", "wall time", "s", "lower", "time"),
    Measure("layers", "layers", "", None),
    Measure("images", "images", "", None),
    Measure("steps", "steps", "", None),
    Measure("size_px", "image size", "px", None),
    Measure("modules", "modules", "", None),
    Measure("sm_loss", "score-matching loss, held-out patches", "", "lower", "score matching"),
    Measure(
        "energy_gap", "energy of shuffled minus natural held-out patches, mean", "", "higher", "energy gap", delta=0.05
    ),
    Measure(
        "natural_lower", "held-out patches with lower energy than their shuffled copy", "", "higher", "natural lower"
    ),
    # not in the pixel-error family: its denominator depends on the reconstruction, so it is not monotone in the
    # per-image MSE (x = 0.5 x0: NMSE 0.5 at MSE 2500; x0 + noise of variance 3000: NMSE 0.3 at MSE 3000); it
    # votes on its own, at a tenth of the thesis's own gap between methods (0.06-0.22 vs 0.01-0.10)
    Measure("nmse_thesis", "thesis NMSE, sum((x0 - x)^2) / sum(x0 x)", "", "lower", "thesis NMSE", delta=0.01),
    Measure("vgg_score", "VGG16 Gram score (the thesis used VGG19)", "", "lower", "VGG score", delta=0.02),
    Measure("map_err", "normalised feature-map error", "", "lower", "map error"),
    # derived for claims only (no run stores it): the thesis's MSE estimand, the mean MSE over images, compared
    # per seed as 10 log10(MSE of the other side / MSE of the expected side); positive favours the expected side
    Measure("mse_db", "MSE of the mean over images, as a ratio in dB", "dB", "higher", "MSE (dB)", delta=0.5),
    Measure("accept_rate", "sampler acceptance rate", "", None),
    Measure("components", "components", "", None),
    Measure("dims", "whitened dimensions", "", None),
)

#: the measure a family votes with, by the first of the family's members a claim names: a claim on PSNR or the
#: normalised error is judged on per-image PSNR; a claim on MSE alone on the thesis's estimand, the mean MSE
FAMILY_VOTER = {"pixel error": {"psnr_mean": "psnr_mean", "nerr_mean": "psnr_mean", "mse_mean": "mse_db"}}


def voters(keys) -> list[str]:
    """Which of a claim's measures vote: one per family (judged on the family's voter: per-image PSNR when the
    claim names PSNR, the mean MSE as dB when it names MSE alone), and every measure with a practical difference
    outside any family; the rest are shown, not counted."""
    keys = list(keys)
    out: list[str] = []
    families = set()
    for key in keys:
        m = get(key)
        if m.family:
            if m.family not in families:
                families.add(m.family)
                named = [get(k).key for k in keys if get(k).family == m.family]
                choice = FAMILY_VOTER[m.family]
                out.append(choice["psnr_mean"] if "psnr_mean" in named else choice[named[0]])
        elif m.delta is not None and m.key not in out:
            out.append(m.key)
    return out


MEASURES: dict[str, Measure] = {m.key: m for m in _ALL}


def split_key(key: str) -> tuple[str, str]:
    """``"psnr_mean@pool2"`` -> ``("psnr_mean", "pool2")``; ``"psnr_mean"`` -> ``("psnr_mean", "")``."""
    base, _, qualifier = str(key).partition("@")
    return base, qualifier


def get(key: str) -> Measure:
    """The measure of ``key`` (qualifier ignored); ``KeyError`` naming the known keys."""
    base, _ = split_key(key)
    if base not in MEASURES:
        raise KeyError(
            f"unknown measure {base!r} (from {key!r}); known measures: {', '.join(MEASURES)}. "
            f"Declare new ones in restoration/contract/measures.py"
        )
    return MEASURES[base]


def label(key: str, *, unit: bool = True, short: bool = False) -> str:
    """Display label: ``"PSNR, mean (dB), pool2"`` for ``psnr_mean@pool2`` (``short``: ``"PSNR, pool2"``)."""
    m = get(key)
    _, q = split_key(key)
    text = (m.short or m.label) if short else m.label
    text += f" ({m.unit})" if unit and m.unit else ""
    return f"{text}, {q}" if q else text
