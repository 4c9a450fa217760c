"""Body of the image-prior comparison (``prior_compare``): the same held-out images inverted from the same layers
with no prior, with Mahendran & Vedaldi 2016's hand-made priors, and with each trained learned image prior in
their place; a prior-weight sweep; and the thesis's own two-phase procedure at one layer.

Arms of the main table (all M&V 2016's recipe: normalised feature loss, its schedule, jitter and step budget):

* **none**: the recipe with neither alpha-norm nor TV;
* **mv2016**: the recipe as published (alpha-norm + TV);
* **each learned prior** (loaded by name from ``runs/priors/``): the recipe with TV replaced by the prior, weighted
  like TV: M&V normalise TV so that a natural image scores about 1 and weight it by its stage's lambda_TV; we
  divide the prior by its mean energy on natural held-out patches (stored with the prior) and use the same
  lambda_TV, times ``weight_scale`` (30: chosen on two training photos, see ``BASE``). The thesis wondered about
  this normalisation ("maybe normalize priors for same average score on natural images", July 2).

The thesis's procedure (:mod:`restoration.preimage.learned_prior`: mean squared feature error alone, then with the prior
at its absolute weight, e.g. 1e-4 for VGG16) runs at ``thesis_layer`` as a second table, with and without the
sweep prior, jittered by the thesis's rule (zero padding, ``T + 1`` positions) with its ``T`` for the layer scaled
from 224 px to ``size``. Every arm is scored the same way: PSNR and SSIM against the original (RGB, clipped) and M&V's
normalised feature error at the inverted layer. The payload keeps those per image under each summary qualifier:
``<arm>/<layer>`` by image (``chelsea``), ``<arm>`` (the mean over layers) by ``<layer>/<image>``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping

from restoration_experiments._prior_common import (
    HELD_OUT,
    Inversions,
    check,
    image_ids,
    image_scores,
    load_priors,
    net_and_images,
    origins,
    pooled_scores,
    prior_weight_on,
)
from restoration import tracking
from restoration.contract.payload import FigureRef, Payload, Table

BASE = {
    **HELD_OUT,
    "size": 64,
    "layers": ["conv2_2", "conv3_3", "conv4_3"],
    "priors": ["full512", "full512_logistic", "cica_image"],
    "steps": 200,  # per arm (M&V 2016's schedule compressed into them)
    "weight_scale": 30.0,  # learned prior weight = weight_scale * lambda_TV / natural energy; 30 was
    # the best of 1, 3, 10, 30, 100, 300 on two training photos (astronaut,
    # coffee) at conv3_3 for full512, chosen there, not on the held-out images
    "sweep_layer": "conv3_3",
    "sweep_prior": "full512",
    "sweep_scales": [3.0, 300.0],  # besides weight_scale, at sweep_layer
    "thesis_layer": "conv3_3",  # the thesis's two-phase procedure here ('' to skip)
    "thesis_steps": 100,  # per phase
    "thesis_weights": [1e-7, 1e-6, 1e-5, 1e-4],  # the thesis's absolute weights on its mean squared error
    "lr": 1.0,  # the thesis procedure's Adam rate (VGG16 in the thesis: 0.3)
    "seed": 0,
    "precision": "auto",  # the inversions' net: bfloat16 where this machine measures it faster (restoration.precision)
    "progress": True,
}
THESIS = {
    "profile": "thesis",
    "size": 224,
    "n_images": 10,
    "steps": 3500,
    "thesis_steps": 10_000,
    "lr": 0.3,
    "priors": ["full512", "full512_logistic", "full1024", "cica_image"],
}


@dataclass
class ComparisonRun:
    """What every arm of the comparison shares: the config, the inversions of the held-out images and their
    scores (:class:`Inversions`), the learned priors by name, M&V 2016's recipe."""

    cfg: Mapping
    fig_id: str
    inv: Inversions
    names: list
    priors: dict

    @property
    def fnet(self):
        return self.inv.fnet

    @property
    def mv(self):
        from restoration.preimage import recipes

        return recipes.get_recipe("mv2016")

    @property
    def steps(self) -> int:
        return self.cfg["steps"]

    def arm(self, layer, arm, recipe, extra=()):
        return self.inv.run(layer, recipe, extra, prefix=f"{layer}/{arm}/")

    def weight(self, name: str, lam: float, scale: float) -> float:
        """Learned prior ``name``'s weight as TV's is at a stage with lambda_TV ``lam``, times ``scale``."""
        return prior_weight_on(self.fnet, self.priors[name], lam, scale, self.cfg["size"])

    def prior(self, name: str, weight: float):
        """Learned prior ``name`` as an energy term of ``weight``."""
        from restoration.priors.learned import PatchPrior

        return PatchPrior(self.priors[name], weight=weight)


@dataclass
class Arms:
    """The main table's inversions: per (arm, layer) the scores per image, the reconstructions and, for learned
    priors, the weight used."""

    names: list
    layers: list
    arms: list  # "none", "mv2016", then each learned prior
    scores: dict = field(default_factory=dict)
    recs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)


@dataclass
class WeightSweep:
    """The prior-weight sweep at one layer: one row per weight scale."""

    layer: str
    prior: str
    rows: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    psnr: list = field(default_factory=list)
    ssim: list = field(default_factory=list)


@dataclass
class ThesisProcedure:
    """The thesis's two-phase procedure at one layer: its rows, its settings in words and the jitter note."""

    layer: str = ""
    rows: list = field(default_factory=list)
    settings: str = ""
    jitter_note: str = ""


def run_comparison(_run, cfg: Mapping, fig_id: str, title: str) -> float:
    """Every arm at every layer, the weight sweep, the thesis's procedure; their tables, figures and payload.
    Returns the best learned prior's mean PSNR (no learned prior: the bare recipe's)."""
    check(cfg)
    t0 = time.time()
    fnet, names, images = net_and_images(cfg)
    priors = load_priors(cfg["priors"])
    if cfg["sweep_prior"] and cfg["sweep_prior"] not in priors:
        priors.update(load_priors([cfg["sweep_prior"]]))
    r = ComparisonRun(cfg, fig_id, Inversions(cfg, fnet, images, tracking.metric_logger(_run)), names, priors)
    arms = _main_arms(_run, r)
    summary, rows, per_image = _summarise(arms)
    sweep = _weight_sweep(_run, r, arms)
    thesis = _thesis_procedure(r, sweep.prior or (cfg["priors"][0] if cfg["priors"] else ""))
    learned = list(cfg["priors"])
    best = max(learned, key=lambda a: summary[f"psnr_mean@{a}"]) if learned else None
    figures = _artifacts(_run, r, arms, sweep, thesis)
    payload = Payload(
        title=title,
        net=fnet.weights_label,
        summary=summary,
        scores=per_image,
        paragraphs=_paragraphs(r, summary, best, thesis, time.time() - t0),
        figures=figures,
        tables=_tables(r, rows, sweep, thesis),
    )
    tracking.set_report(_run, payload)
    return float(summary[f"psnr_mean@{best}"]) if best else float(summary["psnr_mean@none"])


def _main_arms(_run, r: ComparisonRun) -> Arms:
    """At each layer: the bare recipe, the recipe as published, and the recipe with each learned prior in TV's
    place."""
    import numpy as np

    mv, cfg = r.mv, r.cfg
    no_tv = mv.replace(tv_weight={0: 0.0})
    bare = mv.replace(tv_weight={0: 0.0}, alpha_weight={0: 0.0})
    arms = Arms(r.names, list(cfg["layers"]), ["none", "mv2016"] + list(cfg["priors"]))
    for li, layer in enumerate(cfg["layers"]):
        lam = mv.tv_weight_for(r.fnet.resolve(layer))
        print(f"[{r.fig_id}] {layer}: none, mv2016, {', '.join(cfg['priors'])} ({r.steps} steps each)", flush=True)
        results = {"none": r.arm(layer, "none", bare), "mv2016": r.arm(layer, "mv2016", mv)}
        for name in cfg["priors"]:
            w = arms.weights[(name, layer)] = r.weight(name, lam, float(cfg["weight_scale"]))
            results[name] = r.arm(layer, name, no_tv, [r.prior(name, w)])
        for arm, res in results.items():
            arms.scores[(arm, layer)] = r.inv.score(layer, res)
            arms.recs[(arm, layer)] = res.rgb
            _run.log_scalar(f"psnr/{arm}", float(np.mean(arms.scores[(arm, layer)]["psnr"])), li + 1)
    return arms


def _summarise(arms: Arms) -> tuple[dict, list, dict]:
    """The summary (per arm and layer, and per arm over layers), the main table's rows, and the per-image scores
    under each summary qualifier: ``<arm>/<layer>`` by image, ``<arm>`` (the mean over layers) by
    ``<layer>/<image>``."""
    import numpy as np

    layers = arms.layers
    summary, rows, per_image, ids = {}, [], {}, image_ids(arms.names)
    for arm in arms.arms:
        per_layer = {la: image_scores(ids, arms.scores[(arm, la)]) for la in layers}
        per_image.update({f"{arm}/{la}": sc for la, sc in per_layer.items()})
        per_image[arm] = pooled_scores(per_layer)
        for layer in layers:
            sc = arms.scores[(arm, layer)]
            p, q, f = float(np.mean(sc["psnr"])), float(np.mean(sc["ssim"])), float(np.mean(sc["feat_err"]))
            summary[f"psnr_mean@{arm}/{layer}"] = p
            summary[f"ssim_mean@{arm}/{layer}"] = q
            summary[f"feat_err@{arm}/{layer}"] = f
            w = arms.weights.get((arm, layer))
            rows.append([arm, layer, "" if w is None else f"{w:.3g}", round(p, 2), round(q, 4), round(f, 4)])
        for m in ("psnr_mean", "ssim_mean", "feat_err"):
            summary[f"{m}@{arm}"] = float(np.mean([summary[f"{m}@{arm}/{la}"] for la in layers]))
    return summary, rows, per_image


def _weight_sweep(_run, r: ComparisonRun, arms: Arms) -> WeightSweep:
    """The sweep prior at the sweep layer for each weight scale, same recipe (the main table's cell reused)."""
    import numpy as np

    cfg = r.cfg
    sweep = WeightSweep(cfg["sweep_layer"], cfg["sweep_prior"])
    sl, sp = sweep.layer, sweep.prior
    if not (sl and sp):
        return sweep
    lam = r.mv.tv_weight_for(r.fnet.resolve(sl))
    scales = sorted(set([float(cfg["weight_scale"])] + [float(x) for x in cfg["sweep_scales"]]))
    no_tv = r.mv.replace(tv_weight={0: 0.0})
    for sc_ in scales:
        w = r.weight(sp, lam, sc_)
        if sl in arms.layers and sp in cfg["priors"] and sc_ == float(cfg["weight_scale"]):
            s = arms.scores[(sp, sl)]
        else:
            print(f"[{r.fig_id}] sweep: {sp} at {sl}, weight scale {sc_:g}", flush=True)
            s = r.inv.score(sl, r.arm(sl, f"sweep{sc_:g}", no_tv, [r.prior(sp, w)]))
        sweep.labels.append(f"{sc_:g}")
        sweep.psnr.append(float(np.mean(s["psnr"])))
        sweep.ssim.append(float(np.mean(s["ssim"])))
        feat = round(float(np.mean(s["feat_err"])), 4)
        sweep.rows.append([f"{sc_:g}", f"{w:.3g}", round(sweep.psnr[-1], 2), round(sweep.ssim[-1], 4), feat])
        _run.log_scalar(f"sweep/{sp}@{sl}/psnr", sweep.psnr[-1], len(sweep.rows))
    return sweep


def _thesis_procedure(r: ComparisonRun, prior: str) -> ThesisProcedure:
    """The thesis's two phases at ``thesis_layer``: mean squared feature error alone, then with or without
    ``prior`` at each of the thesis's absolute weights, jittered by the thesis's rule scaled to this size."""
    import numpy as np

    from restoration.preimage import Reporting
    from restoration.preimage.learned_prior import PriorInversion, phase_one, phase_two, thesis_jitter_and_weight
    from restoration.priors.learned import PatchPrior

    cfg, fnet, tl = r.cfg, r.fnet, r.cfg["thesis_layer"]
    if not (tl and prior):
        return ThesisProcedure()
    canon = fnet.resolve(tl)
    t_thesis, _ = thesis_jitter_and_weight(fnet.name, canon)
    jitter, w_thesis = thesis_jitter_and_weight(fnet.name, canon, size=int(cfg["size"]), default_size=fnet.default_size)
    thesis_ws = sorted(set([w_thesis] + [float(w) for w in cfg["thesis_weights"]]))
    pi = PriorInversion(cfg["thesis_steps"], cfg["thesis_steps"], float(cfg["lr"]), jitter, cfg["seed"])
    out = ThesisProcedure(
        tl,
        settings=pi.describe(),
        jitter_note=(
            f"The thesis's procedure ran with {pi.describe()}: the thesis's T = {t_thesis} px for {tl} at "
            f"{fnet.default_size} px, scaled to {cfg['size']} px (the thesis's own rule and amount at its "
            f"size; older runs of this table used mirrored borders with 2T + 1 positions)."
        ),
    )
    print(f"[{r.fig_id}] thesis procedure at {tl}", flush=True)
    report = Reporting(
        log=r.inv.log, log_every=r.inv.log_every, log_prefix=f"thesis/{tl}/p1/", progress=cfg["progress"]
    )
    start = phase_one(fnet, r.inv.images, canon, pi, report)
    for arm, term in [("MSE only", None)] + [
        (f"{prior}, weight {w:g}" + (" (the thesis's)" if w == w_thesis else ""), PatchPrior(r.priors[prior], weight=w))
        for w in thesis_ws
    ]:
        s = r.inv.score(
            canon, phase_two(fnet, r.inv.images, canon, start, term, pi, Reporting(progress=cfg["progress"]))
        )
        out.rows.append(
            [
                arm,
                round(float(np.mean(s["psnr"])), 2),
                round(float(np.mean(s["ssim"])), 4),
                round(float(np.mean(s["feat_err"])), 4),
            ]
        )
    return out


def _artifacts(_run, r: ComparisonRun, arms: Arms, sweep: WeightSweep, thesis: ThesisProcedure) -> list:
    """The scores as JSON, a reconstruction grid for the first two images, the sweep's trend; their FigureRefs."""
    from restoration_reports import plots

    fig_id, layers, names = r.fig_id, arms.layers, r.names
    tracking.add_json(
        _run,
        {
            "names": names,
            "scores": {f"{a}/{la}": v for (a, la), v in arms.scores.items()},
            "weights": {f"{a}/{la}": w for (a, la), w in arms.weights.items()},
            "sweep": sweep.rows,
            "thesis_procedure": thesis.rows,
        },
        f"{fig_id}_scores.json",
    )
    names_arms = arms.arms
    for i, n in enumerate(names[:2]):
        grid = [[r.inv.images[i]] * len(layers)] + [[arms.recs[(arm, la)][i] for la in layers] for arm in names_arms]
        tracking.add_figure(
            _run,
            plots.image_grid(grid, row_labels=["original"] + names_arms, col_labels=layers, panel_size=1.3),
            f"{fig_id}_{i}.png",
        )
    figures = [
        FigureRef(f"{fig_id}_{i}.png", f"{n}: reconstructions by arm (rows) from each layer (columns).")
        for i, n in enumerate(names[:2])
    ]
    if len(sweep.rows) > 1:
        sp, sl = sweep.prior, sweep.layer
        trend = plots.measure_trend(
            sweep.labels, {"PSNR (dB)": sweep.psnr, "SSIM": sweep.ssim}, xlabel=f"weight scale of {sp} at {sl}"
        )
        tracking.add_figure(_run, trend, f"{fig_id}_sweep.png")
        figures.append(
            FigureRef(
                f"{fig_id}_sweep.png",
                f"Prior-weight sweep: {sp} in place of TV at {sl} (PSNR and SSIM, mean over images).",
            )
        )
    return figures


def _tables(r: ComparisonRun, rows: list, sweep: WeightSweep, thesis: ThesisProcedure) -> list:
    tables = [
        Table(
            "M&V 2016's recipe with no prior, its own priors, or a learned prior in place of TV (mean over images)",
            ["arm", "layer", "prior weight", "PSNR (dB)", "SSIM", "feature error"],
            rows,
        )
    ]
    if sweep.rows:
        tables.append(
            Table(
                f"Prior-weight sweep ({sweep.prior} in place of TV at {sweep.layer})",
                ["weight scale", "weight", "PSNR (dB)", "SSIM", "feature error"],
                sweep.rows,
            )
        )
    if thesis.rows:
        steps = r.cfg["thesis_steps"]
        tables.append(
            Table(
                f"The thesis's procedure at {thesis.layer}: {steps} steps of mean squared feature "
                f"error, then {steps} more with or without the prior; {thesis.settings}",
                ["phase 2", "PSNR (dB)", "SSIM", "feature error"],
                thesis.rows,
            )
        )
    return tables


def _paragraphs(r: ComparisonRun, summary: dict, best, thesis: ThesisProcedure, t_total: float) -> list[str]:
    cfg, names, layers = r.cfg, r.names, list(r.cfg["layers"])
    gains = {la: summary[f"psnr_mean@{best}/{la}"] - summary[f"psnr_mean@mv2016/{la}"] for la in layers} if best else {}
    aim = (
        ""
        if not best
        else f"Best learned prior: {best}. Its PSNR minus M&V 2016's: "
        + ", ".join(f"{la} {gains[la]:+.2f} dB" for la in layers)
        + " (the aim set for the learned priors: +2 dB at conv3_3 and deeper)."
    )
    paras = [
        f"{len(names)} held-out images ({', '.join(names)}; no prior saw them) at {cfg['size']} px, inverted "
        f"from {', '.join(layers)} with M&V 2016's recipe for {r.steps} steps per arm. 'none' drops both of its "
        f"priors; each learned prior replaces TV (alpha-norm kept), weighted as TV is: lambda_TV of the stage "
        f"x {cfg['weight_scale']:g} / the prior's mean energy on natural held-out patches (a CICA prior's "
        f"energy sums over patch positions / channels x components, the thesis's normalisation, so its mean "
        f"patch energy is scaled by that factor first).",
        aim,
        f"Priors used (from the store; the run that trained each and the photos it saw): {origins(r.priors)}. Took "
        f"{t_total:.0f} s.",
        thesis.jitter_note,
        "Thesis: July 10-11 (first ICA/FoE reconstructions; 'lower weights are slower to converge, but result "
        "in crisper images'), July 25-26 (prior series, weighting), Aug. 5 (image CICA 'roughly on par with "
        "M&V 2016, but lack behind ICA prior'). Where we differ: the thesis added its priors to a mean squared "
        "feature error after an MSE-only phase (its procedure is the last table); the main table puts them "
        "into M&V's recipe instead, so the prior is the only difference between arms.",
    ]
    return [par for par in paras if par]


def experiment(fig_id: str):
    from restoration_experiments._prior_common import experiment as make

    return make(fig_id, run_comparison, BASE, THESIS)
