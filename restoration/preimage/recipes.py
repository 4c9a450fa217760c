"""Optimisation-inversion recipes as data: Mahendran & Vedaldi 2016 (IJCV) and 2015 (CVPR).

A :class:`Recipe` holds every number of one published setting, with where it comes from;
:func:`restoration.preimage.invert_layer` turns it into an objective and an optimiser run. Depth-dependent
numbers (feature-loss weight ``C``, jitter ``T``, TV weight) are tables keyed by a layer's *stage*
(:func:`layer_stage`), so the same recipe applies to AlexNet and VGG16.

Sources
-------
[MV16] A. Mahendran, A. Vedaldi, "Visualizing deep convolutional neural networks using natural pre-images",
       IJCV 120(3):233-255, 2016, Sec. 3.3 (normalisation: B = 80, V = B/6.5, lambda_alpha = 1/(HW B^alpha),
       lambda_V = 1/(HW V^beta), loss weight C) and Sec. 3.4 (jitter, optimiser, schedule).
[MV15] A. Mahendran, A. Vedaldi, "Understanding deep image representations by inverting them", CVPR 2015,
       Sec. 3-4 (Phi(sigma x) with sigma = the average Euclidean norm of the images, alpha = 6, beta = 2,
       momentum 0.9, learning-rate decay).
[TH]   The thesis's TF1 code, github.com/frhrdr/deep_restoration (read for settings, not copied):
       ``opt_inv_funcs.get_imagerec_jitter_and_prior_weight`` (per-layer C and T tables for AlexNet, which the
       stage rule below reproduces exactly), ``mahendran_vedaldi_2016.py`` (B = 80, V = 80/6.5, alpha 6,
       beta 2), ``mahendran_vedaldi.py`` (2015: sigma = 2.7098e4, lambda_alpha = 2.16e8, lambda_TV = 50 at
       AlexNet conv3, momentum 0.9, lr 0.004 divided by 10 on a schedule).
[NNPRE] The authors' MATLAB code, github.com/aravindhm/nnpreimage, as issue 9 quotes it (not readable offline).
[ISSUE] The project issue's reading of the papers (numbers marked so where we could not check the paper's text
       from this machine).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Mapping

from restoration.objectives.jitter import RULES as JITTER_RULES
from restoration.objectives.jitter import authors_amount
from restoration.optim.schedule import Schedule

PIXEL_CONSTRAINTS = ("ball", "clip", "none")
INITS = ("random", "target")
#: The paper a recipe follows (``Recipe.paper``), in words.
PAPERS = {"mv2015": "Mahendran & Vedaldi 2015 (CVPR)", "mv2016": "Mahendran & Vedaldi 2016 (IJCV)"}

__all__ = [
    "Recipe",
    "MV2016",
    "MV2015",
    "MV2016_THESIS_VGG16",
    "MV2016_AUTHORS_JITTER",
    "MV2016_TARGET_START",
    "RECIPES",
    "get_recipe",
    "layer_stage",
    "PIXEL_CONSTRAINTS",
    "INITS",
    "PAPERS",
]


def layer_stage(layer: str) -> int:
    """Depth stage of a canonical or alias layer name, the key of a recipe's depth tables.

    ``convK*``, ``reluK*``, ``lrnK`` -> ``K``; ``poolK`` -> ``K + 1`` (a pool belongs with the block it feeds,
    which is how [TH]'s AlexNet tables group them: pool1 gets conv2's jitter, pool5 gets fc's weight);
    ``fc*``/``prob`` -> 6; ``input`` -> 0. Works for AlexNet (conv1..conv5) and VGG16 (conv1_1..conv5_3).
    """
    name = layer.split("/")[0]
    if name in ("input", "bgr_normed"):
        return 0
    if name.startswith("fc") or name == "prob":
        return 6
    m = re.match(r"(conv|relu|lrn|pool)(\d+)", name)
    if not m:
        raise ValueError(
            f"cannot place layer {layer!r} in a recipe's depth table; expected convK, convK_J, "
            f"reluK_J, lrnK, poolK, fcK or prob"
        )
    k = int(m.group(2))
    return k + 1 if m.group(1) == "pool" else k


def _by_stage(table: Mapping[int, float], layer: str) -> float:
    s = min(layer_stage(layer), max(table))
    return table[s]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One published optimisation-inversion setting (see the module's Sources for the bracketed tags).

    The optimised variable is ``u`` with the preprocessed image ``x = scale * u`` (pixel units, BGR minus the
    mean); learning rates apply to ``u``. ``image_size`` is per net name.
    """

    name: str
    optimizer: str  # "adam" | "momentum" | "lbfgs"
    n_steps: int
    lr_schedule: tuple[tuple[int, float], ...]  # (first step, learning rate), ascending steps
    momentum: float
    scale: float
    feature_weight: Mapping[int, float]  # stage -> C
    jitter: Mapping[int, int]  # stage -> T (pixels at the net's default size)
    jitter_off_steps: int  # jitter is switched off for the last this-many steps
    alpha: float
    alpha_B: float
    alpha_weight: Mapping[int, float]  # stage -> weight of the AlphaNorm term
    alpha_normalise: bool
    beta: float
    tv_B: float
    tv_weight: Mapping[int, float]  # stage -> weight of the TotalVariation term
    tv_normalise: bool
    image_size: Mapping[str, int]
    init_std: float  # std of the random initial image x, pixel units
    pixel_constraint: str = "ball"  # "ball" (||x_ij|| <= ball_radius), "clip" ([0, 255]), "none"
    ball_radius: float = 160.0  # [NNPRE] get_defaults.m x0_max = 2B; [TH] range_clip 2 * 80
    jitter_rule: str = "thesis"  # "thesis" | "authors" | "mirror" (restoration.objectives.jitter)
    init: str = "random"  # "random" (N(0, init_std^2)) or "target" (the image itself)
    reset_momentum: bool = False  # zero the momentum buffer when the learning rate changes
    feature_weight_layers: Mapping[str, float] = dataclasses.field(default_factory=dict)  # per-layer C (wins)
    jitter_layers: Mapping[str, int] = dataclasses.field(default_factory=dict)  # per-layer T (wins)
    paper: str = ""  # the paper it follows, a key of PAPERS ("" = none named)
    grad_clip: float = 0.0  # clip gradient elements (w.r.t. u) to +-grad_clip; 0 = none

    def feature_weight_for(self, layer: str) -> float:
        base = layer.split("/")[0]
        if base in self.feature_weight_layers:
            return float(self.feature_weight_layers[base])
        return float(_by_stage(self.feature_weight, layer))

    def alpha_weight_for(self, layer: str) -> float:
        return float(_by_stage(self.alpha_weight, layer))

    def tv_weight_for(self, layer: str) -> float:
        return float(_by_stage(self.tv_weight, layer))

    def __post_init__(self):
        if self.pixel_constraint not in PIXEL_CONSTRAINTS:
            raise ValueError(
                f"recipe {self.name}: pixel_constraint {self.pixel_constraint!r} is not one of {PIXEL_CONSTRAINTS}"
            )
        if self.jitter_rule not in JITTER_RULES:
            raise ValueError(f"recipe {self.name}: jitter_rule {self.jitter_rule!r} is not one of {JITTER_RULES}")
        if self.init not in INITS:
            raise ValueError(f"recipe {self.name}: init {self.init!r} is not one of {INITS}")
        if self.paper and self.paper not in PAPERS:
            raise ValueError(f"recipe {self.name}: paper {self.paper!r} is not one of {sorted(PAPERS)}")

    def jitter_amount(self, net, layer: str, size: int | None = None) -> int:
        """``T`` for ``layer`` of ``net`` under this recipe's rule: the authors' ``max(round(stride / 4), 1)``
        from the layer's cumulative stride (a property of the feature grid, so not rescaled with the image),
        else the depth table rescaled to ``size`` (:meth:`jitter_for`)."""
        if self.jitter_rule == "authors":
            if not any(self.jitter.values()) and not self.jitter_layers:
                return 0  # a recipe without jitter stays without
            return authors_amount(net.stride(layer))
        return self.jitter_for(layer, size, net.default_size)

    def jitter_for(self, layer: str, size: int | None = None, default_size: int | None = None) -> int:
        """Jitter ``T`` in pixels; scaled by ``size / default_size`` (rounded, at least 1 where T > 0) when
        the image is smaller than the net's default (quick profiles), so jitter stays the same fraction."""
        base = layer.split("/")[0]
        t = int(self.jitter_layers[base]) if base in self.jitter_layers else int(_by_stage(self.jitter, layer))
        if t and size and default_size and size != default_size:
            t = max(1, int(round(t * size / default_size)))
        return t

    def lr_at(self, step: int) -> float:
        """Learning rate of the piecewise-constant schedule at ``step``."""
        return Schedule(self.lr_schedule)(step)

    def with_steps(self, n_steps: int) -> "Recipe":
        """The same recipe compressed to ``n_steps`` (quick profiles): schedule boundaries and the jitter-off
        window scale by ``n_steps / self.n_steps``."""
        if n_steps <= 0:
            raise ValueError(f"n_steps must be positive, got {n_steps}")
        f = n_steps / self.n_steps
        sched = Schedule(self.lr_schedule).compressed(f).points  # colliding boundaries keep the later rate
        return dataclasses.replace(
            self, n_steps=int(n_steps), lr_schedule=sched, jitter_off_steps=int(round(self.jitter_off_steps * f))
        )

    def with_lr_scale(self, factor: float) -> "Recipe":
        """Every learning rate multiplied by ``factor`` (quick profiles that compress the schedule into far
        fewer steps need larger steps to travel as far)."""
        if factor <= 0:
            raise ValueError(f"lr scale factor must be positive, got {factor}")
        return dataclasses.replace(self, lr_schedule=Schedule(self.lr_schedule).scaled(factor).points)

    def replace(self, **kw) -> "Recipe":
        return dataclasses.replace(self, **kw)


MV2016 = Recipe(
    name="mv2016",
    # [ISSUE] reading of [MV16] Sec. 3.4, as the thesis ran it ([TH] opt_inv_funcs / db_mv_comparison
    # ``mv_script_fun``): Adam, 3500 steps, lr 1e-2 -> 3e-3 at step 1000 -> 1e-3 at step 2000, each multiplied
    # by B^2 / alpha = 80^2 / 6 ("scaled as in the paper"; [TH]'s ``lr_factor``), on the image in pixel units:
    # 10.7, 3.2, 1.07 grey levels per Adam step.
    optimizer="adam",
    n_steps=3500,
    lr_schedule=((0, 1e-2 * 80.0**2 / 6.0), (1000, 3e-3 * 80.0**2 / 6.0), (2000, 1e-3 * 80.0**2 / 6.0)),
    momentum=0.9,  # unused by Adam; kept for optimizer="momentum" variants
    scale=1.0,  # the optimised variable is the preprocessed image itself
    # [MV16] Sec. 3.3 / [TH] ``get_jitter_and_mean_weight``: C = 300 up to conv3, 100 at conv4, 20 at conv5,
    # 1 from pool5 on (AlexNet's table, which [ISSUE] asks for on both nets). Deviation: [TH]'s own VGG16 table
    # (``db_mv_comparison.get_jitter_and_mse_weight``) kept C = 300 through conv4_x and 100 at pool4-conv5_x.
    feature_weight={0: 300.0, 1: 300.0, 2: 300.0, 3: 300.0, 4: 100.0, 5: 20.0, 6: 1.0},
    # [MV16] Sec. 3.4 / [TH]: jitter T = 1 px up to lrn1, 2 up to lrn2, 4 up to conv5, then 8 (AlexNet). VGG16
    # uses the same stage rule (block k <-> AlexNet conv k); [TH]'s VGG16 table used 0/1/2/4/8 instead.
    jitter={0: 0, 1: 1, 2: 2, 3: 4, 4: 4, 5: 4, 6: 8},
    # [TH] ``jitter_stop_point = 2750`` of 3500: no jitter for the last 750 steps ("stopped near the end").
    jitter_off_steps=750,
    # [MV16] Sec. 3.3 / [TH]: alpha = 6, B = 80, weight 1/(HW B^alpha) - the AlphaNorm normalisation.
    alpha=6.0,
    alpha_B=80.0,
    alpha_weight={0: 1.0},
    alpha_normalise=True,
    # [MV16] Sec. 3.3 / [TH]: beta = 2, V = B / 6.5, weight 1/(HW V^beta) - the TotalVariation normalisation.
    beta=2.0,
    tv_B=80.0,
    tv_weight={0: 1.0},
    tv_normalise=True,
    # [MV16] / [TH] ``classifier_stats``: 224 x 224 for VGG16, 227 x 227 for AlexNet.
    image_size={"vgg16": 224, "alexnet": 227, "tiny_vgg": 32},
    # M&V start from noise; [TH]'s benchmark runs (utils/mv_benchmark.py ``mv_script_fun``) started from the
    # target image itself: recipe ``mv2016_target`` (init="target") is that row of the benchmark.
    init_std=1.0,
    # [NNPRE] ``x0_max = 160`` / [TH] ``range_clip``: each pixel's mean-subtracted colour vector is rescaled to
    # norm <= 2B = 160 after every step (issue 9, correction 2; before it we clipped each channel to [0, 255]).
    # Pixels may then leave [0, 255] in one channel: images are clipped for display and scoring.
    pixel_constraint="ball",
    ball_radius=2 * 80.0,
    # [TH] ``train_pre_featmap``: pad T // 2 black pixels before and T - T // 2 after, T + 1 window positions
    # (issue 9, correction 1; before it we shifted in [-T, T] with mirrored borders, rule "mirror").
    jitter_rule="thesis",
    paper="mv2016",
)

_SIGMA_2015 = 2.7098e4  # [TH] mahendran_vedaldi.py: average Euclidean norm of mean-subtracted 224x224 images

MV2015 = Recipe(
    name="mv2015",
    optimizer="momentum",  # [MV15]: gradient descent with momentum 0.9
    # [NNPRE] (the authors' MATLAB code, aravindhm/nnpreimage, as issue 9 read it): 400 steps, 100 at lr, 200 at
    # lr / 10, 100 at lr / 100, the momentum buffer reset at each change; lr 0.004 ([MV15] / [ISSUE]).
    n_steps=400,
    lr_schedule=((0, 4e-3), (100, 4e-4), (300, 4e-5)),
    momentum=0.9,
    reset_momentum=True,
    scale=_SIGMA_2015,  # [MV15]: the loss sees Phi(sigma * u); u is the optimised variable
    feature_weight={0: 1.0},  # [MV15]: plain normalised loss
    jitter={0: 0},
    jitter_off_steps=0,  # [MV15] has no jitter
    # [MV15] / [TH]: lambda_alpha = 2.16e8 on u = x / sigma, i.e. 2.16e8 / sigma^6 on pixels (AlphaNorm with
    # B = sigma and no area normalisation). [ISSUE] quotes 8e-10, which we could not reconcile with any unit
    # of x (it makes the term either negligible or dominant); the thesis value is used.
    alpha=6.0,
    alpha_B=_SIGMA_2015,
    alpha_weight={0: 2.16e8},
    alpha_normalise=False,
    # [NNPRE]: lambda_TV = 1 / 10 / 100 by depth (conv1-conv2, conv3-conv5, pool5/fc), applied as
    # lambda / 2 * R_TV / sigma^2; on u that is 0.5 / 5 / 50. (Before issue 9 this read 5 / 50 / 500, 10x too
    # large, from [ISSUE]'s anchoring at [TH]'s lambda_TV = 50 for AlexNet conv3.)
    beta=2.0,
    tv_B=_SIGMA_2015,
    tv_weight={0: 0.5, 1: 0.5, 2: 0.5, 3: 5.0, 4: 5.0, 5: 5.0, 6: 50.0},
    tv_normalise=False,
    image_size={"vgg16": 224, "alexnet": 227, "tiny_vgg": 32},
    init_std=1.0,
    # Deviation kept from before issue 9: no pixel constraint for the 2015 recipe (the 2015 paper bounds the
    # image through the alpha-norm only; the ball is [NNPRE]'s 2016 code).
    pixel_constraint="none",
    # [TH] mahendran_vedaldi.py ``grad_clip=100.0``: each gradient element w.r.t. u clipped to +-100. Without it
    # the first steps overshoot and the alpha-norm reaches inf: measured on the HED VGG16 at step 3 from conv3_3
    # and step 2 from pool5 at 64 px (3 photos, 300 steps), at step 3 from pool5 at 224 px (1 photo, 40 steps);
    # with it, all of these ran to the end.
    # (The thesis: "mv on vgg16 also had some issues with overshooting gradients ... with gradient clipping and
    # several tries, results were obtained for all layers.")
    grad_clip=100.0,
    # Known differences from [TH]'s own 2015 runs (May 16, 2017, server_script.py; they made the progress log's
    # June 15 Figs. 1-2): lambda_TV 0.5 / 5 / 50 by *block* there (conv1-conv2 with pool2 / conv3-conv4 with
    # pool4 / conv5 on), so conv5 had 50 where the stage table here has 5, and pool2 had 0.5 where it has 5;
    # 2000-4000 steps with lr 0.004 divided by 10 every 500 steps; reruns of VGG16 layers that still overshot
    # used other clip bounds; a 224 px TF AlexNet.
    paper="mv2015",
)

# [TH] ``utils/mv_benchmark.get_jitter_and_mse_weight``, VGG16: C = 300 through conv4_x, 100 at pool4 and
# conv5_1, 20 at conv5_2-conv5_3, 1 from pool5; jitter 0 through conv2_2, 1 at pool2 and block 3, 2 at pool3 and
# block 4, 4 at pool4 and block 5, 8 from pool5 (applied by the thesis's rule, T + 1 positions).
_VGG16_C = {
    **{f"conv{b}_{j}": 300.0 for b in (1, 2, 3, 4) for j in (1, 2, 3)},
    **{f"pool{b}": 300.0 for b in (1, 2, 3)},
    "pool4": 100.0,
    "conv5_1": 100.0,
    "conv5_2": 20.0,
    "conv5_3": 20.0,
    "pool5": 1.0,
    "fc6": 1.0,
    "fc7": 1.0,
    "fc8": 1.0,
    "prob": 1.0,
}
_VGG16_T = {
    **{f"conv{b}_{j}": t for b, t in ((1, 0), (2, 0), (3, 1), (4, 2), (5, 4)) for j in (1, 2, 3)},
    "pool1": 0,
    "pool2": 1,
    "pool3": 2,
    "pool4": 4,
    "pool5": 8,
    "fc6": 8,
    "fc7": 8,
    "fc8": 8,
    "prob": 8,
}
MV2016_THESIS_VGG16 = dataclasses.replace(
    MV2016, name="mv2016_thesis_vgg16", feature_weight_layers=_VGG16_C, jitter_layers=_VGG16_T
)

# [NNPRE] jitter: a canvas T - 1 px larger than the input, T window positions, T = max(round(stride / 4), 1)
# from the layer's cumulative stride (get_preimage_opts.m, JitterLayer.m). Everything else as mv2016.
MV2016_AUTHORS_JITTER = dataclasses.replace(MV2016, name="mv2016_authors_jitter", jitter_rule="authors")

# [TH] utils/mv_benchmark.py ``mv_script_fun``: the benchmark's M&V runs started from the target image
# (``pre_featmap_init = load_image(img_path)``), with the ball constraint and everything else as mv2016.
MV2016_TARGET_START = dataclasses.replace(MV2016, name="mv2016_target", init="target")

RECIPES = {
    "mv2016": MV2016,
    "mv2015": MV2015,
    "mv2016_thesis_vgg16": MV2016_THESIS_VGG16,
    "mv2016_authors_jitter": MV2016_AUTHORS_JITTER,
    "mv2016_target": MV2016_TARGET_START,
}


def get_recipe(recipe: "str | Recipe") -> Recipe:
    """A recipe by name (``"mv2016"``, ``"mv2015"``) or passed through."""
    if isinstance(recipe, Recipe):
        return recipe
    try:
        return RECIPES[recipe]
    except KeyError:
        raise ValueError(f"unknown inversion recipe {recipe!r}; choose one of {sorted(RECIPES)}") from None
