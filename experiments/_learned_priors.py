"""Shared body of the prior-training experiments (``prior_*``): a prior is a declaration, this trains it.

A :class:`PriorFigure` says which prior (store name, layer, patch size, components, expert, CICA or not, the
whitening switches, its default weight) and the words; :func:`experiment` makes its Sacred experiment with
``quick`` and ``thesis`` configs. The body draws patches from the training photos (validation patches from the
held-out photos), trains by score matching (:mod:`restoration.priors.training`), saves the prior under its name
in ``runs/priors/`` with its whitening, this run's id and the photos it saw, and reports (naming those photos):
the filters projected back through the whitening, the score-matching loss curves, HMC samples beside real
held-out patches, and whether natural patches get lower energy than the same patches with their pixels shuffled.

Training photos: the thesis profile takes a folder (90 % / 10 % split); the quick profile the embedded colour
photos of ``photos``, by default :data:`restoration.data.PRIOR_TRAIN` (astronaut, coffee, stereo_motorcycle).
scikit-image also bundles hubble_deep_field, immunohistochemistry and retina, which the trained inverters use,
but they are not natural photographs, and until issue 17 the "natural image" priors learned from them too.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from typing import Mapping

from restoration_experiments import _schema as schema
from restoration_experiments import _steps as steps
from restoration_experiments._prior_common import NaturalCheck
from restoration import tracking
from restoration.data import EMBEDDED_HELDOUT, NOT_NATURAL, PRIOR_TRAIN

BASE = {
    "profile": "quick",
    "net": "vgg16",  # the net whose layer a feature-map prior models ("vgg16" | "tiny_vgg" for tests)
    "weights": "hed",
    "image_dir": None,  # thesis: a folder of natural images (90 % train / 10 % held out)
    # quick profile (no image_dir): the embedded photos patches are drawn from, natural photographs only
    # (restoration.data.PRIOR_TRAIN; not hubble_deep_field, immunohistochemistry, retina: issue 17)
    "photos": list(PRIOR_TRAIN),
    "image_size": 256,  # photos are centre-cropped and resized to this before patches are drawn
    "max_images": None,
    "n_train": 20_000,
    "n_val": 500,
    "batch": 250,
    "steps": 2000,
    "hmc_chains": 32,
    "hmc_steps": 120,
    "seed": 0,
    # score-matching training stays float32 on every machine (a family exception to "auto"): bfloat16 gained
    # only 1.26x even on AMX, and its products round before a reduction whose terms cancel
    "precision": "float32",
    "progress": True,
}
THESIS = {
    "profile": "thesis",
    "n_train": 100_000,
    "n_val": 500,
    "steps": 25_000,
    "image_size": 224,
    "hmc_chains": 64,
    "hmc_steps": 400,
}


@dataclasses.dataclass(frozen=True)
class PriorFigure:
    """One prior to train: ``prior`` is its name in the store (what inversions load), the rest its model."""

    id: str
    prior: str
    n_components: int
    net: str = "vgg16"  # the net whose layer a feature-map prior models (image priors: its mean only)
    expert: str = "student"
    layer: str = "input"
    patch: int = 8
    channelwise: bool = False
    mean: str = "dataset_channel"
    sdev: str = "none"
    whitening: str = "pca"
    n_drop: int | None = 1  # None: keep every dimension the patches span (drop the degenerate ones)
    dims: int | None = None  # PCA to this many dimensions (overrides n_drop; all when the patch has fewer)
    weight: float = 1e-5
    what: str = ""
    thesis_note: str = ""
    quick: Mapping = dataclasses.field(default_factory=dict)
    thesis: Mapping = dataclasses.field(default_factory=dict)

    @property
    def title(self) -> str:
        """The figure's title, from its one source: its entry in ``experiments/registry.toml``."""
        from restoration.contract import registry

        return registry.title(self.id)


def experiment(fig: PriorFigure):
    ex = tracking.make_experiment(fig.id)
    ex.add_config({**BASE, **dict(fig.quick)})
    ex.add_named_config("quick", {"profile": "quick", **dict(fig.quick)})
    ex.add_named_config("thesis", {**THESIS, **dict(fig.thesis)})

    @ex.main
    def main(_run, _config):
        return run_prior(_run, _config, fig)

    return ex


def _check(cfg: Mapping) -> None:
    schema.check(
        cfg,
        {
            **{k: schema.count(BASE[k]) for k in ("n_train", "n_val", "batch", "steps", "hmc_chains", "hmc_steps")},
            "image_size": schema.count(256, least=16, unit=" px"),
        },
    )
    check_photos(cfg.get("photos", PRIOR_TRAIN))


def check_photos(photos) -> None:
    """The quick profile's ``photos``: a non-empty list of embedded names, none of them held out."""
    if isinstance(photos, str) or not isinstance(photos, (list, tuple)) or not photos:
        raise ValueError(
            f"config photos={photos!r}: must be a list of embedded photo names, e.g. `with photos={list(PRIOR_TRAIN)}`"
        )
    held = [p for p in photos if p in EMBEDDED_HELDOUT]
    if held:
        raise ValueError(
            f"config photos: {held} are held out from every prior's training (the prior experiments "
            f"invert them); use others, e.g. {list(PRIOR_TRAIN)}"
        )


def _photos(cfg):
    """``(train, held)`` lists of RGB arrays at ``image_size``, and their names. The quick profile's training
    photos are ``cfg["photos"]`` (default :data:`restoration.data.PRIOR_TRAIN`), its held-out ones chelsea and
    rocket."""
    import numpy as np

    from restoration import data

    size = cfg["image_size"]
    if cfg["image_dir"] is None:
        if cfg["profile"] == "thesis":
            raise ValueError(
                "the thesis profile draws patches from a folder of images: pass image_dir=/path "
                "(e.g. an ImageNet subset); the embedded photos are the quick profile"
            )
        photos = cfg.get("photos", PRIOR_TRAIN)
        check_photos(photos)
        train, held = data.embedded_named(list(photos)), data.embedded_images("heldout")
    else:
        images = data.folder_images(cfg["image_dir"], size=size, limit=cfg["max_images"])
        train, held = data.split_named(images, 0.1, seed=cfg["seed"])
    prep = lambda named: np.stack([data.center_crop_resize(im, size) for _, im in named]).astype(np.float32)  # noqa
    return prep(train), prep(held), [n for n, _ in train], [n for n, _ in held]


def photos_line(cfg: Mapping, train_names, held_names) -> str:
    """The report line naming the photos a prior saw (and, for the embedded set, which were left out and why)."""
    if cfg["image_dir"] is None:
        left = [n for n in NOT_NATURAL if n not in train_names]
        kept = [n for n in NOT_NATURAL if n in train_names]
        note = (
            f"; {', '.join(left)} ship with it too but are not natural photographs and are left out by default"
            if left
            else ""
        )
        note += f"; {', '.join(kept)} are not natural photographs but were asked for (config photos)" if kept else ""
        return (
            f"Photos the prior saw: {', '.join(train_names)} (scikit-image's embedded colour photos{note}); "
            f"validation patches from {', '.join(held_names)}. The thesis drew its patches from ImageNet "
            f"photographs."
        )
    first = ", ".join(train_names[:8]) + (f" and {len(train_names) - 8} more" if len(train_names) > 8 else "")
    return (
        f"Photos the prior saw: {len(train_names)} images of {cfg['image_dir']} (90 % of the folder, split "
        f"with seed {cfg['seed']}: {first}); validation patches from the other {len(held_names)}."
    )


def photo_source(cfg: Mapping) -> str:
    return "scikit-image's embedded set" if cfg["image_dir"] is None else str(cfg["image_dir"])


def prior_spec(fig: PriorFigure, fnet, size: int):
    """The :class:`PriorSpec` of ``fig`` on ``fnet`` (channel count from the layer's shape)."""
    import tensorflow as tf

    from restoration.priors.learned import PriorSpec
    from restoration.priors.patches import PatchSpec

    layer = "input" if fig.layer == "input" else fnet.resolve(fig.layer)
    channels = 3 if layer == "input" else int(fnet(tf.zeros((1, size, size, 3)), layer).shape[-1])
    return PriorSpec(
        fig.prior,
        PatchSpec(layer, channels, fig.patch, fig.patch),
        fig.n_components,
        fig.expert,
        fig.channelwise,
        fig.weight,
    )


@dataclass
class TrainedPrior:
    """One prior run after training and sampling: what the payload and the figures are made from."""

    fig: PriorFigure
    cfg: Mapping
    spec: object  # learned.PriorSpec
    params: object  # learned.PriorParams
    result: object  # optim.TrainResult
    pt: object  # training.PriorTraining
    names: tuple[list, list]  # training and held-out photo names
    natural: NaturalCheck | None = None
    hmc: object = None
    mala: object = None
    saved: object = None
    seconds: float = 0.0

    @property
    def sm(self) -> float:
        return float(self.result.heldout_loss.get("score_matching", float("nan")))


def run_prior(_run, cfg: Mapping, fig: PriorFigure) -> float:
    """Train ``fig``'s prior by score matching, save it under its name, sample it, and report it. Returns the
    held-out score-matching loss."""
    from restoration import nets

    _check(cfg)
    t0 = time.time()
    fnet = nets.build(cfg["net"], cfg["weights"], seed=cfg["seed"], precision=cfg["precision"])
    folder = tracking.checkpoint_dir(fig.id, dict(cfg))
    log = steps.curve_log(_run)
    tp = _train(cfg, fig, fnet, folder, log)
    tp.natural = NaturalCheck.of(tp.params, folder / "patches" / "val", cfg["seed"])
    tp.saved = _save(_run, tp)
    tp.hmc, tp.mala = _sample(_run, tp)
    _figures(_run, tp, log)
    shutil.rmtree(folder / "patches", ignore_errors=True)  # raw stores are re-drawn (seeded) when needed
    tp.seconds = time.time() - t0
    steps.finish(_run, _payload(_run, tp, fnet), folder)
    (folder / "prior.json").write_text(json.dumps({"prior": tp.spec.name, "saved": str(tp.saved)}))
    return tp.sm


def _train(cfg: Mapping, fig: PriorFigure, fnet, folder, log) -> TrainedPrior:
    """Patches of the photos (or of the net's feature maps), whitened, and the prior trained on them."""
    from restoration.priors import patches
    from restoration.priors.training import PriorTraining, maps_source, train_prior

    train_imgs, held_imgs, train_names, held_names = _photos(cfg)
    spec = prior_spec(fig, fnet, cfg["image_size"])
    per = spec.patch.P if fig.channelwise else spec.patch.D  # CICA whitens each channel on its own
    pt = PriorTraining(
        n_train=cfg["n_train"],
        n_val=cfg["n_val"],
        batch=cfg["batch"],
        steps=cfg["steps"],
        norm=patches.Normalisation(fig.mean, fig.sdev),
        whitening=fig.whitening,
        n_drop=fig.n_drop if fig.dims is None else max(per - fig.dims, 0),
        seed=cfg["seed"],
        log_every=max(cfg["steps"] // 200, 1),
        eval_every=max(cfg["steps"] // 20, 1),
        ckpt_every=max(cfg["steps"] // 10, 1),
        progress=cfg["progress"],
        precision=cfg["precision"],
    )
    layer = spec.patch.layer
    params, result = train_prior(
        spec,
        maps_source(fnet, train_imgs, layer),
        len(train_imgs),
        maps_source(fnet, held_imgs, layer),
        len(held_imgs),
        pt,
        work_dir=folder / "patches",
        ckpt_dir=folder / "train",
        log=log,
    )
    return TrainedPrior(fig, cfg, spec, params, result, pt, (list(train_names), list(held_names)))


def _save(_run, tp: TrainedPrior):
    """The prior saved under its name in ``runs/priors/``, with this run's id, its natural energy and its photos."""
    import numpy as np

    from restoration.priors import learned as learned_priors

    params = tp.params
    params.run_id, params.natural_energy = _run._id, float(np.mean(tp.natural.e_real))
    params.photos, params.photo_source = list(tp.names[0]), photo_source(tp.cfg)
    return learned_priors.save_prior(params, tracking.runs_dir())


def _sample(_run, tp: TrainedPrior):
    """HMC chains (step size tuned), then MALA with the step size HMC tuned its leapfrog to (one leapfrog step
    is a Langevin step); their acceptance traces as run metrics."""
    from restoration.priors import sampling

    cfg = tp.cfg
    hmc = sampling.hmc(
        tp.params,
        n=cfg["hmc_chains"],
        steps=cfg["hmc_steps"],
        step_size=0.05,
        leapfrog=10,
        seed=cfg["seed"],
        tune_steps=cfg["hmc_steps"] // 2,
    )
    mala = sampling.mala(
        tp.params, n=cfg["hmc_chains"], steps=cfg["hmc_steps"] * 5, step_size=hmc.step_size, seed=cfg["seed"]
    )
    for t, a in enumerate(hmc.accept_trace):
        _run.log_scalar("hmc/accept", float(a), t + 1)
    for t, a in enumerate(mala.accept_trace[::5]):
        _run.log_scalar("mala/accept", float(a), 5 * t + 1)
    return hmc, mala


def _figures(_run, tp: TrainedPrior, log) -> None:
    """Filters, the loss curves, samples beside real patches; the run's numbers as JSON."""
    import numpy as np

    from restoration.priors import sampling
    from restoration_reports import plots
    from restoration_reports.plots import priors as prior_plots

    spec, params, fig_id = tp.spec, tp.params, tp.fig.id
    shape = (-1, spec.patch.channels, spec.patch.ph, spec.patch.pw)
    samples = sampling.to_patches(params, tp.hmc.z).reshape(shape)
    langevin = sampling.to_patches(params, tp.mala.z).reshape(shape)
    shown_real = tp.natural.real[:16].reshape(shape)
    filt = params.filters()
    order = np.argsort(-params.alpha.reshape(-1)) if not spec.channelwise else np.argsort(-params.alpha[0])
    if spec.channelwise:
        filt = filt[0][:, None]  # channel 0's filters, (K, 1, ph, pw)
    which = "channel 0 of " if spec.channelwise else ""
    tracking.add_figure(
        _run,
        prior_plots.filter_grid(filt, order=order, title=f"{which}{spec.name}: filters, largest alpha first"),
        f"{fig_id}_filters.png",
    )
    loss = {"train": log.get("score_matching/train_loss"), "held-out": log.get("score_matching/heldout_loss")}
    tracking.add_figure(
        _run,
        plots.loss_curves({"score-matching loss": loss}, ncols=1, panel_size=(4.5, 2.2)),
        f"{fig_id}_loss.png",
    )
    tracking.add_figure(
        _run,
        prior_plots.patch_rows(
            {"held-out patches": shown_real, "HMC samples": samples[:16], "Langevin (MALA)": langevin[:16]}
        ),
        f"{fig_id}_samples.png",
    )
    tracking.add_json(
        _run,
        {
            "prior": spec.name,
            "folder": str(tp.saved),
            "sm_loss": tp.result.heldout_loss,
            "energy_real": float(tp.natural.e_real.mean()),
            "energy_shuffled": float(tp.natural.e_shuf.mean()),
            "hmc_accept": tp.hmc.accept_rate,
            "hmc_step_size": tp.hmc.step_size,
            "mala_accept": tp.mala.accept_rate,
        },
        f"{fig_id}_summary.json",
    )


#: the figures every prior run stores, with their captions
_FIGURES = (
    (
        "filters",
        "Filters W projected back through the whitening into (normalised) patch space, each on its own grey/colour "
        "scale.",
        "",
    ),
    ("loss", "Score-matching loss on training batches and on the held-out patches.", "curves"),
    (
        "samples",
        "Real held-out patches (top), then samples from the prior by HMC and by Langevin dynamics (MALA), whitening "
        "and dataset mean undone; each patch on its own scale.",
        "",
    ),
)


def _payload(_run, tp: TrainedPrior, fnet):
    """The run's payload: summary, the prior's table, its text and figures."""
    from restoration.contract.payload import FigureRef, Payload

    spec, d, layer, nat = tp.spec, tp.params.whitening.d, tp.spec.patch.layer, tp.natural
    figures = [
        FigureRef(f"{tp.fig.id}_{name}.png", caption, **({"kind": kind} if kind else {}))
        for name, caption, kind in _FIGURES
    ]
    return Payload(
        title=tp.fig.title,
        net=fnet.weights_label if layer != "input" else "no network (an image prior on patches of the photos)",
        summary={
            "sm_loss": tp.sm,
            "energy_gap": nat.gap,
            "natural_lower": nat.lower,
            "components": spec.n_components,
            "dims": d,
            "steps": tp.result.steps,
            "accept_rate": tp.hmc.accept_rate,
            "wall_s": round(tp.seconds, 1),
        },
        paragraphs=_paragraphs(_run, tp),
        figures=figures,
        tables=[_prior_table(tp)],
    )


def _prior_table(tp: TrainedPrior):
    from restoration.contract.payload import Table

    spec, fig, d = tp.spec, tp.fig, tp.params.whitening.d
    model = spec.kind + (" (overcomplete)" if spec.n_components > d and not spec.channelwise else "")
    header = ["name", "model", "layer", "patch", "whitened dims", "components", "default weight"]
    row = [spec.name, model, spec.patch.layer, f"{fig.patch}x{fig.patch}x{spec.patch.channels}", d, spec.n_components]
    return Table(
        "The prior",
        header + ["held-out SM loss", "natural lower"],
        [row + [fig.weight, round(tp.sm, 5), round(tp.natural.lower, 3)]],
    )


def _paragraphs(_run, tp: TrainedPrior) -> list[str]:
    """What the prior is, its data and preprocessing, the photos, and what training and sampling gave."""
    cfg, fig, spec, nat, hmc, mala = tp.cfg, tp.fig, tp.spec, tp.natural, tp.hmc, tp.mala
    train_names, held_names = tp.names
    d, sm, t_total = tp.params.whitening.d, tp.sm, tp.seconds
    src = (
        ("the training photos (" + ", ".join(train_names) + ")")
        if cfg["image_dir"] is None
        else f"{len(train_names)} images of {cfg['image_dir']}"
    )
    return [
        fig.what,
        f"{spec.describe(d)}. Patches: {cfg['n_train']} drawn from {src} at {cfg['image_size']} px, {cfg['n_val']} "
        f"validation patches from held-out images "
        f"({', '.join(held_names) if cfg['image_dir'] is None else 'a 10 % split'}"
        f"). Preprocessing: mean {fig.mean}, sdev {fig.sdev}, {fig.whitening.upper()} to {d} dimensions"
        f"{' per channel' if spec.channelwise else ''}. Training: {tp.pt.train_settings().describe()}, batch "
        f"{cfg['batch']}, element-wise gradient clip {tp.pt.clip_value:g}.",
        photos_line(cfg, train_names, held_names),
        f"Held-out score-matching loss {sm:.4g}. The prior gives {100 * nat.lower:.0f} % of held-out patches a "
        f"lower energy than the same patch with its pixels shuffled (mean energy {nat.e_real.mean():.4g} vs "
        f"{nat.e_shuf.mean():.4g}). HMC ({hmc.steps} steps of 10 leapfrog steps, {cfg['hmc_chains']} chains, "
        f"step size tuned to {hmc.step_size:.3g}) accepted {100 * hmc.accept_rate:.0f} % of its proposals "
        f"after tuning; Metropolis-adjusted Langevin ({mala.steps} steps of size {mala.step_size:.3g}) "
        f"{100 * mala.accept_rate:.0f} %. Saved as {spec.name!r} (run {_run._id}); took {t_total:.0f} s.",
        fig.thesis_note,
    ]
