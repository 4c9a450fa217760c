"""The one body of every trained-inversion figure (thesis Figs. 3-13 and their analogues).

A figure file declares a :class:`TrainedInversionFigure` (net, the stack(s) as :class:`Chain` rules, training
mode, its words, its quick/thesis differences) and calls :func:`experiment`. Here: the declarations, the config
(:class:`RunConfig`) and data, and :func:`run_figure`, whose steps live in :mod:`._train_stacks` (training with the
module store, held-out and depth evaluation) and :mod:`._stack_report` (artifacts and the typed report payload).

Config keys (``python -m restoration_experiments fig06 print_config`` shows them with values):
``net``/``weights`` (``tiny_vgg`` for tests), ``variant`` (which of the figure's chains), ``image_dir`` ...
(``None`` = the embedded scikit-image photos), ``crop``, ``batch_size``, ``steps``, ``lr``, ``lr_schedule``
(``[[step, lr], ...]`` or None), ``scales`` / ``flip`` (augmentation), ``module_steps`` (per-module step counts),
``lr_decay`` (the last fraction of the steps over which the rate decays to zero), ``finetune_steps`` /
``finetune_lr_schedule`` (merged mode), ``eval_size`` / ``eval_per_image`` /
``whole_heldout`` / ``max_heldout`` (held-out images), ``reuse_modules`` (take separately trained modules from
the module store when an identical training already ran), logging cadence, ``rows``, ``seed``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Mapping

from restoration_experiments import _schema as schema
from restoration_experiments import _stack_report as stack_report
from restoration_experiments import _steps as steps
from restoration_experiments._train_stacks import StackData, train_and_score
from restoration import tracking
from restoration.optim.schedule import Schedule
from restoration.stacks.training import MERGED_SCHEDULE, MODES


def _schedule_config(schedule) -> list:
    """A schedule as a Sacred config value (``[[step, lr], ...]``)."""
    return [list(p) for p in schedule.points]


# ----------------------------------------------------------------------------------------------------------
# Declarations
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chain:
    """A stack as a rule: from ``top`` down to the image through every conv (``targets`` = ``lin``/``relu``),
    pool and LRN output, or through explicit ``points``; ``kinds``, ``kernel``, ``hidden`` one for all or one per
    module (deepest first; ``hidden=None`` = the input layer's channels). ``label`` names it in words."""

    top: str
    kinds: str | tuple = "DC"
    targets: str = "lin"
    kernel: int | tuple = 5
    hidden: int | tuple | None = None
    points: tuple | None = None
    label: str = ""

    def specs(self, net):
        from restoration import stacks

        return stacks.chain_specs(
            net,
            self.top,
            points=self.points,
            kinds=self.kinds,
            kernel=self.kernel,
            hidden=self.hidden,
            targets=self.targets,
        )


@dataclass(frozen=True)
class TrainedInversionFigure:
    """One trained-inversion figure as data (see the module docstring).

    ``variants`` maps a variant name to ``{stack label: Chain}``; the first variant is the default and the
    config key ``variant`` picks another (a named config of the same name is added for each). Most figures have
    one stack; a figure with several (e.g. reconstructions from before and after AlexNet's LRN) trains and
    scores each, and qualifies every summary key with the stack's label. ``depth`` scores the sub-stacks from
    every pooling layer the stack passes. ``quick`` / ``thesis`` are this figure's differences from the shared
    named configs; ``configs`` adds further named configs.
    """

    id: str
    net: str
    mode: str
    variants: Mapping[str, Mapping[str, Chain]]
    what: str
    thesis_note: str
    rows_caption: str = ""
    depth: bool = False
    quick: Mapping = field(default_factory=dict)
    thesis: Mapping = field(default_factory=dict)
    configs: Mapping[str, Mapping] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The figure's title, from its one source: its entry in ``experiments/registry.toml``."""
        from restoration.contract import registry

        return registry.title(self.id)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"figure {self.id}: mode {self.mode!r} is not one of {MODES}")
        if not self.variants or not all(self.variants.values()):
            raise ValueError(f"figure {self.id}: declare at least one variant with at least one stack")
        if self.net not in ("vgg16", "alexnet"):
            raise ValueError(f"figure {self.id}: net {self.net!r} is not 'vgg16' or 'alexnet'")
        if self.depth and self.mode != "stacked":
            raise ValueError(
                f"figure {self.id}: depth evaluation reads sub-stacks of separately trained modules; "
                f"it needs mode 'stacked', not {self.mode!r}"
            )

    @property
    def default_variant(self) -> str:
        return next(iter(self.variants))


# ----------------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------------
BASE = dict(
    profile="quick",  # label of the named config used
    weights="default",  # vgg16: "hed" (default) or a .h5/.npy path; alexnet: bvlc_alexnet.npy path
    image_dir=None,  # folder of images; None = the embedded scikit-image photos
    image_size=None,  # folder images: centre crop + resize to this size (None = as they are)
    max_images=None,  # folder: use at most this many images (sorted by name)
    heldout_fraction=0.1,  # folder images held out for evaluation
    crop=32,  # training crop side
    batch_size=16,
    steps=1000,  # per module (stacked, merged) / of the whole chain (end to end, joint)
    lr=1e-3,
    lr_schedule=None,  # [[step, lr], ...] piecewise constant (first step 0), or None = lr throughout
    # the rate (lr or lr_schedule) decays to zero along a half cosine over this last fraction of each training's
    # steps (TrainSettings.lr_decay). The thesis code (frhrdr/deep_restoration) keeps Adam's rate constant per
    # stage, and so does the thesis profile below; at a constant 1e-3 the quick figures' last weights sat wherever
    # Adam's noise left them: fig05's held-out image MSE went 263 -> 344 from step 750 to 1000 at seed 0, and its
    # per-seed PSNR had an SD of about 1.3 dB (benchmarks/seed_noise.md has the before/after over 5 seeds)
    lr_decay=0.5,
    # scale augmentation (crops of the photos downscaled by each factor) and left-right flips: the quick modules
    # see whole-photo-sized detail too. Leave-one-out over the embedded photos (loo_pool1): mean 25.79 dB, worst
    # 22.80 dB without them; mean 27.59 dB, worst 25.23 dB with them (same steps, measured on this project's CPU)
    scales=[1.0, 0.5, 0.25, 0.125],
    flip=True,
    module_steps={},  # per-module step counts, e.g. {"DC10": 5000}
    finetune_steps=3000,  # merged mode: joint fine-tuning steps
    finetune_lr_schedule=_schedule_config(Schedule(MERGED_SCHEDULE)),  # the thesis's (cnn_inv_script.py)
    eval_size=128,  # held-out image side
    eval_per_image=4,  # held-out crops per held-out image (1, 4, 9, ...)
    whole_heldout=False,  # also score each held-out photo whole (centre square) at eval_size
    max_heldout=16,
    reuse_modules=True,  # take separately trained modules from the module store when an identical one exists
    log_every=10,
    eval_every=250,
    ckpt_every=100,
    rows=4,  # figure rows
    seed=0,
    precision="auto",  # bfloat16 where measured faster here (AMX: 3.3x, same held-out PSNR); else float32
)

#: The merged form's fine-tuning in the quick profile: the thesis's rates at a third of its step boundaries.
# the thesis's 3000 fine-tuning steps compressed to 1000: boundaries at 333 and 667
QUICK_FINETUNE = dict(
    finetune_steps=1000, finetune_lr_schedule=_schedule_config(Schedule(MERGED_SCHEDULE).compressed(1000 / 3000))
)

THESIS = dict(
    profile="thesis",
    image_size=224,
    crop=224,
    batch_size=32,
    steps=3000,
    lr=3e-4,
    eval_size=224,
    eval_per_image=1,
    eval_every=100,
    ckpt_every=250,
    max_heldout=64,
    scales=[1.0],
    flip=False,
    lr_decay=0.0,  # the thesis code's constant Adam rate
)


def _precision(cfg: Mapping) -> str:
    from restoration.precision import check  # a config value; "auto" is resolved where the net is built

    return check(cfg.get("precision", "auto"))


#: the family's config keys (:mod:`restoration_experiments._schema`), checked at the entry by
#: :meth:`RunConfig.from_config`
SCHEMA = {
    **{
        k: schema.count(BASE.get(k) or 1)
        for k in (
            "crop",
            "batch_size",
            "steps",
            "finetune_steps",
            "eval_size",
            "eval_per_image",
            "max_heldout",
            "log_every",
            "eval_every",
            "ckpt_every",
            "rows",
        )
    },
    "image_size": schema.count(224, optional=True),
    "max_images": schema.count(100, optional=True),
    "lr": schema.number(BASE["lr"]),
    "heldout_fraction": schema.fraction(0.1),
    "lr_schedule": schema.schedule(),
    "finetune_lr_schedule": schema.schedule(),
}


@dataclass(frozen=True)
class RunConfig:
    """The run's config, checked once at the entry: every error names the config key and an example fix."""

    profile: str
    net: str
    weights: object
    variant: str
    image_dir: str | None
    image_size: int | None
    max_images: int | None
    heldout_fraction: float
    crop: int
    batch_size: int
    steps: int
    lr: float
    lr_schedule: tuple
    scales: tuple
    flip: bool
    module_steps: dict
    finetune_steps: int
    finetune_lr_schedule: tuple
    eval_size: int
    eval_per_image: int
    whole_heldout: bool
    max_heldout: int
    reuse_modules: bool
    log_every: int
    eval_every: int
    ckpt_every: int
    rows: int
    seed: int
    precision: str = "float32"
    lr_decay: float = 0.0

    @classmethod
    def from_config(cls, cfg: Mapping, fig: TrainedInversionFigure) -> "RunConfig":
        """The config checked (the family's schema, then the rules that need the figure), as typed fields; an
        error names the key and the fix."""
        c = dict(cfg)
        schema.check(c, SCHEMA)
        net, variant, scales = _checked_net(c, fig), _checked_variant(c, fig), _checked_scales(c)
        module_steps, per = _checked_module_steps(c, fig), _checked_eval_per_image(c)
        return cls(
            profile=str(c.get("profile", "quick")),
            net=net,
            weights=c.get("weights"),
            variant=variant,
            image_dir=c.get("image_dir"),
            image_size=c.get("image_size"),
            max_images=c.get("max_images"),
            heldout_fraction=float(c["heldout_fraction"]),
            crop=c["crop"],
            batch_size=c["batch_size"],
            steps=c["steps"],
            lr=float(c["lr"]),
            lr_schedule=_schedule_points(c, "lr_schedule"),
            scales=scales,
            flip=bool(c.get("flip")),
            module_steps=module_steps,
            finetune_steps=c["finetune_steps"],
            finetune_lr_schedule=_schedule_points(c, "finetune_lr_schedule"),
            eval_size=c["eval_size"],
            eval_per_image=per,
            whole_heldout=bool(c.get("whole_heldout")),
            max_heldout=c["max_heldout"],
            reuse_modules=bool(c.get("reuse_modules", True)),
            log_every=c["log_every"],
            eval_every=c["eval_every"],
            ckpt_every=c["ckpt_every"],
            rows=c["rows"],
            seed=int(c.get("seed", 0)),
            precision=_precision(c),
            lr_decay=_checked_lr_decay(c),
        )

    def settings(self, steps: int | None = None):
        from restoration.optim import TrainSettings

        return TrainSettings(
            steps=steps or self.steps,
            lr=self.lr,
            lr_schedule=self.lr_schedule,
            lr_decay=self.lr_decay,
            log_every=self.log_every,
            eval_every=self.eval_every,
            ckpt_every=self.ckpt_every,
        )

    def crop_batches(self, train):
        """Training batches of random crops of the photos ``train``, with this config's size, batch, scales, flips
        and seed (:func:`restoration.data.crop_batches`)."""
        from restoration import data

        return data.crop_batches(
            train, crop=self.crop, batch_size=self.batch_size, seed=self.seed, scales=self.scales, flip=self.flip
        )

    def finetune_settings(self):
        from restoration.optim import TrainSettings

        return TrainSettings(
            steps=self.finetune_steps,
            lr=self.finetune_lr_schedule[0][1] if self.finetune_lr_schedule else self.lr,
            lr_schedule=self.finetune_lr_schedule,
            log_every=self.log_every,
            eval_every=self.eval_every,
            ckpt_every=self.ckpt_every,
        )


def _schedule_points(c: Mapping, key: str) -> tuple:
    return () if c.get(key) is None else Schedule.of(c[key]).points


def _checked_net(c: Mapping, fig: TrainedInversionFigure) -> str:
    net = str(c.get("net", fig.net))
    allowed = ("vgg16", "tiny_vgg") if fig.net == "vgg16" else ("alexnet",)
    if net not in allowed:
        raise ValueError(
            f"config net={net!r}: {fig.id} is a {fig.net} figure; use net={allowed[0]!r}"
            + (" (or 'tiny_vgg' for tests)" if fig.net == "vgg16" else "")
        )
    return net


def _checked_variant(c: Mapping, fig: TrainedInversionFigure) -> str:
    variant = c.get("variant") or fig.default_variant
    if variant not in fig.variants:
        raise ValueError(f"config variant={variant!r}: {fig.id} has variants {list(fig.variants)}")
    return variant


def _checked_scales(c: Mapping) -> tuple:
    scales = c.get("scales") or [1.0]
    if not (
        isinstance(scales, (list, tuple))
        and scales
        and all(isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1 for f in scales)
    ):
        raise ValueError(f"config scales={scales!r}: must be factors in (0, 1], e.g. [1.0, 0.5, 0.25]")
    return tuple(float(f) for f in scales)


def _checked_module_steps(c: Mapping, fig: TrainedInversionFigure) -> dict:
    module_steps = dict(c.get("module_steps") or {})
    for k, v in module_steps.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"config module_steps[{k!r}]={v!r}: must be a positive integer")
    if module_steps and fig.mode not in ("stacked", "merged"):
        raise ValueError(
            f"config module_steps={module_steps!r}: {fig.id} trains its modules together "
            f"({fig.mode}), so they all take `steps`; per-module steps need a stacked figure"
        )
    return module_steps


def _checked_lr_decay(c: Mapping) -> float:
    from restoration.optim.schedule import check_decay

    try:
        return check_decay(c.get("lr_decay", 0.0))
    except ValueError as e:
        raise ValueError(f"config lr_decay={c.get('lr_decay')!r}: {e}; e.g. `with lr_decay=0.5`") from None


def _checked_eval_per_image(c: Mapping) -> int:
    per = c["eval_per_image"]
    if round(math.sqrt(per)) ** 2 != per:
        raise ValueError(f"config eval_per_image={per}: must be a square number (1, 4, 9, ...)")
    return per


def experiment(fig: TrainedInversionFigure, body=None):
    """The Sacred experiment of ``fig``: shared config with the figure's differences, named configs ``quick``,
    ``thesis``, one per variant and the figure's own, and ``body(_run, _config, fig)`` (default
    :func:`run_figure`) as its main command."""
    ex = tracking.make_experiment(fig.id)
    # joint training from scratch stays float32: in bfloat16 the quick fig03_vgg16 fell from 28.38 to 22.97 dB
    # (measured with reproduce-all, 2026-11-26), while stacked, end-to-end and merged training kept their PSNR
    precision = "float32" if fig.mode == "joint" else BASE["precision"]
    ex.add_config({**BASE, "net": fig.net, "variant": fig.default_variant, "precision": precision, **dict(fig.quick)})
    ex.add_named_config("quick", {"profile": "quick", **dict(fig.quick)})
    undo_quick = {k: BASE[k] for k in fig.quick if k in BASE}  # quick-only settings do not leak into thesis
    ex.add_named_config("thesis", {**undo_quick, **THESIS, **dict(fig.thesis)})
    clash = [n for n in fig.variants if n in ("quick", "thesis")]
    if clash:
        raise ValueError(
            f"{fig.id}: variant {clash[0]!r} has the name of a profile (quick, thesis); rename the "
            f"variant, e.g. {clash[0]}_variant"
        )
    for name in list(fig.variants)[1:]:
        ex.add_named_config(name, {"variant": name})
    for name, overrides in fig.configs.items():
        ex.add_named_config(name, dict(overrides))

    body = body or run_figure

    @ex.main
    def main(_run, _config):
        return body(_run, _config, fig)

    return ex


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------
def load_images(c: RunConfig):
    """Training images ``[(name, rgb uint8)]`` and held-out evaluation images ``[(name, rgb float32 (S, S, 3))]``."""
    from restoration import data

    if c.image_dir is None:
        if c.profile == "thesis":
            raise ValueError(
                "the thesis profile trains on a folder of images: pass image_dir=/path/to/images "
                "(e.g. an ImageNet validation subset); the embedded photos are the quick profile"
            )
        train, held = data.embedded_images("train"), data.embedded_images("heldout")
    else:
        images = data.folder_images(c.image_dir, size=c.image_size, limit=c.max_images)
        train, held = data.split_named(images, c.heldout_fraction, seed=c.seed)
    evaluation = data.fixed_crops(held, c.eval_size, c.eval_per_image)[: c.max_heldout]
    if c.whole_heldout and c.eval_per_image > 1:
        evaluation += [(f"{n} (whole)", im) for n, im in data.fixed_crops(held, c.eval_size, 1)]
    return train, evaluation


# ----------------------------------------------------------------------------------------------------------
# The run: data, one trained and scored stack per chain, the report side
# ----------------------------------------------------------------------------------------------------------
def run_figure(_run, cfg: Mapping, fig: TrainedInversionFigure) -> float:
    """Train and score ``fig``'s stack(s), store modules, scores, figures and the report payload in the run.
    Returns the held-out mean PSNR (of the first stack)."""
    c = RunConfig.from_config(cfg, fig)
    t0 = time.time()
    on, train = stack_data(c)
    log = steps.curve_log(_run)
    chains = dict(fig.variants[c.variant])
    many = len(chains) > 1
    outcomes = [
        train_and_score(label, chain, fig, c, on, log.prefixed(f"{label}: " if many else ""), _run._id)
        for label, chain in chains.items()
    ]
    trained = stack_report.TrainedRun(fig, c, on, train, outcomes, log.curves, time.time() - t0)
    steps.finish(_run, stack_report.payload(_run, trained), tracking.checkpoint_dir(fig.id, dataclasses.asdict(c)))
    return float(outcomes[0].evaluation.summary["psnr_mean"])


def stack_data(c: RunConfig) -> tuple[StackData, list]:
    """The net (missing AlexNet weights fail here), the training batches and held-out images; and the training
    photos."""
    from restoration import nets

    fnet = nets.build(c.net, c.weights, seed=c.seed, precision=c.precision)
    train, held = load_images(c)
    return StackData(fnet, c.crop_batches(train), held), train
