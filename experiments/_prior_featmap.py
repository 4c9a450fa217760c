"""Body of the feature-map prior experiment (``prior_featmap``): one conv block inverted in feature space, with
and without a learned prior on the map, the maps shown and projected to the image
(:mod:`restoration.preimage.featmap`).

The CICA priors are weighted absolutely, at the thesis's 1e-4, on the thesis's CICA energy (a sum over the map's
patch positions / channels x components, :mod:`restoration.priors.learned`; issue 17). The thesis set that weight
on AlexNet conv1/lin (55x55 at 227 px); here the map is VGG16 conv1_2/lin at the image size, and the report says how
the positions compare. Per-image scores (PSNR, SSIM, MSE, normalised error, map error) are stored per arm."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from restoration_experiments._prior_common import (
    HELD_OUT,
    check,
    image_ids,
    image_scores,
    load_priors,
    means,
    net_and_images,
    origins,
)
from restoration import tracking
from restoration.contract.payload import FigureRef, Payload, Table

BASE = {
    **HELD_OUT,
    "size": 32,  # a CICA conv1 prior step costs ~0.5 s at 64 px for 2 images on 2 cores
    "map_layer": "conv1_2/lin",  # the map optimised (the net is cut here)
    "loss_layer": "conv2_1/lin",  # the layer whose activations are matched
    "priors": ["cica_conv1", "cica_conv1_12"],  # 8x8 and bigger (12x12) CICA patches
    "weight": 1e-4,  # the thesis's CICA conv1 weight, on its CICA energy normalisation
    "mse_steps": 300,  # MSE only, from the map of a grey image
    "prior_steps": 200,  # then each arm: MSE alone, or MSE + prior
    "lr": 1.0,
    "project_steps": 300,  # image inversion onto each map (MSE at map_layer)
    "seed": 0,
    "precision": "auto",  # the inversions' net: bfloat16 where this machine measures it faster (restoration.precision)
    "progress": True,
}
THESIS = {"profile": "thesis", "size": 224, "mse_steps": 10_000, "prior_steps": 10_000, "project_steps": 5000}


@dataclass
class MapArms:
    """The map optimised at ``start`` so that ``loss`` matches: the true map and each arm's map, by arm."""

    start: str
    loss: str
    h_true: np.ndarray
    maps: dict  # "none" and each prior name -> (N, h, w, C)


def run_featmap(_run, cfg: Mapping, fig_id: str, title: str) -> float:
    """Invert one block in feature space with and without each prior, project every map to the image, score and
    report. Returns the mean map error over the arms."""
    check(cfg)
    t0 = time.time()
    fnet, names, images = net_and_images(cfg)
    start = fnet.resolve(cfg["map_layer"])
    priors = load_priors(cfg["priors"], layer=start)
    arms = _invert_maps(cfg, fnet, images, priors, tracking.metric_logger(_run))
    rows, summary, per_image, shown = _project(cfg, fnet, images, image_ids(names), arms)
    _maps_figure(_run, fig_id, arms, shown)
    payload = Payload(
        title=title,
        net=fnet.weights_label,
        summary=summary,
        scores=per_image,
        paragraphs=_paragraphs(cfg, names, arms, priors, time.time() - t0),
        figures=[
            FigureRef(
                f"{fig_id}_maps.png",
                f"First image: four channels of the {start} map (each on its own "
                f"scale) per arm, and the map projected to the image.",
            )
        ],
        tables=[
            Table(
                f"{arms.loss} -> {start}: map error and the projected image (mean over images)",
                ["arm", "normalised map error", "PSNR (dB)", "SSIM"],
                rows,
            )
        ],
    )
    tracking.set_report(_run, payload)
    return float(np.mean([summary[f"map_err@{a}"] for a in arms.maps]))


def _invert_maps(cfg: Mapping, fnet, images, priors: dict, log) -> MapArms:
    """MSE alone from the map of a grey image, then each arm from there: MSE alone ('none') or with a prior."""
    import tensorflow as tf

    from restoration.preimage.featmap import MapInversion, grey_start, invert_map
    from restoration.priors.learned import PatchPrior

    start, loss = fnet.resolve(cfg["map_layer"]), fnet.resolve(cfg["loss_layer"])
    x = tf.constant(fnet.preprocess(images))
    h_true, target = fnet(x, start).numpy(), fnet(x, loss).numpy()
    ms = MapInversion(cfg["mse_steps"], float(cfg["lr"]), progress=cfg["progress"])
    ps = MapInversion(cfg["prior_steps"], float(cfg["lr"]), progress=cfg["progress"])
    grey = grey_start(fnet, start, len(images), cfg["size"], cfg["seed"])
    first = invert_map(fnet, start, loss, target, grey, None, ms, log=log, log_prefix="phase1/")
    maps = {"none": invert_map(fnet, start, loss, target, first.h, None, ps, log=log, log_prefix="none/").h}
    for name, params in priors.items():
        prior = PatchPrior(params, weight=float(cfg["weight"]))
        maps[name] = invert_map(fnet, start, loss, target, first.h, prior, ps, log=log, log_prefix=f"{name}/").h
    return MapArms(start, loss, h_true, maps)


def _project(cfg: Mapping, fnet, images, ids, arms: MapArms):
    """Each map (and the true one, for reference) projected to the image and scored: the table's rows, the
    summary, the per-image scores, and per arm the map and its projection."""
    from restoration import metrics
    from restoration.preimage import Reporting
    from restoration.preimage.featmap import map_error
    from restoration.preimage.learned_prior import PriorInversion, phase_one_to

    proj = PriorInversion(cfg["project_steps"], 1, float(cfg["lr"]), 0, cfg["seed"])
    rows, summary, shown, per_image = [], {}, {}, {}
    for arm, h in [("true map", arms.h_true)] + list(arms.maps.items()):
        res = phase_one_to(fnet, arms.start, h, images.shape[1], proj, Reporting(progress=cfg["progress"]))
        sc = {**metrics.score_batch(images, res.rgb), "map_err": map_error(h, arms.h_true)}
        shown[arm] = (h, res.rgb)
        e, p, q = means(sc, ("map_err", "psnr", "ssim"))
        rows.append([arm, round(e, 4), round(p, 2), round(q, 4)])
        key = "true" if arm == "true map" else arm
        summary[f"map_err@{key}"], summary[f"psnr_mean@{key}"], summary[f"ssim_mean@{key}"] = e, p, q
        per_image[key] = image_scores(ids, sc)
    return rows, summary, per_image, shown


def _maps_figure(_run, fig_id: str, arms: MapArms, shown: dict) -> None:
    """Four channels of the first image's map per arm (each on its own scale), and its projection."""
    from restoration_reports import plots

    panels = []
    for arm, (h, rgb) in shown.items():
        chans = [np.repeat(h[0, :, :, c : c + 1], 3, axis=-1) for c in range(min(4, h.shape[-1]))]
        chans = [(c - c.min()) / (np.ptp(c) + 1e-9) * 255.0 for c in chans]
        panels.append(chans + [rgb[0]])
    labels = [f"channel {c}" for c in range(min(4, arms.h_true.shape[-1]))] + ["projected to the image"]
    tracking.add_figure(
        _run, plots.image_grid(panels, row_labels=list(shown), col_labels=labels, panel_size=1.3), f"{fig_id}_maps.png"
    )


def _cica_note(cfg: Mapping, arms: MapArms, priors: dict) -> str:
    """How the CICA priors' energy normalisation compares with the thesis's (empty without a CICA prior)."""
    from restoration.priors.learned import energy_factor

    hh, ww = arms.h_true.shape[1:3]
    thesis_positions = (55 - 8 + 1) ** 2  # AlexNet conv1/lin at 227 px, 8x8 patches
    norm = [
        f"{n}: {(hh - p.spec.patch.ph + 1) * (ww - p.spec.patch.pw + 1):,} positions of {p.spec.patch.ph}x"
        f"{p.spec.patch.pw} / ({p.spec.patch.channels} x {p.spec.n_components}) = "
        f"{energy_factor(p.spec, hh, ww):.3g} x its mean patch energy, "
        f"{(hh - p.spec.patch.ph + 1) * (ww - p.spec.patch.pw + 1) / thesis_positions:.2g}x the thesis's positions"
        for n, p in priors.items()
        if p.spec.channelwise
    ]
    if not norm:
        return ""
    return (
        f"The CICA energy is normalised as the thesis's (utils/patch_prior_losses.py: summed over the "
        f"patch positions of the map, averaged over channels x components), so weight {cfg['weight']:g} "
        f"means what it meant there: {'; '.join(norm)}. Where we differ: the thesis set its 1e-4 on "
        f"AlexNet conv1/lin, a 55x55 map ({thesis_positions:,} positions of 8x8 at 227 px); this {arms.start} "
        f"map is {hh}x{ww}. The feature error is a mean and does not grow with the map, so at equal "
        f"per-expert energies the same weight pulls against it by the ratio of positions listed."
    )


def _paragraphs(cfg: Mapping, names, arms: MapArms, priors: dict, t_total: float) -> list[str]:
    start, loss = arms.start, arms.loss
    paras = [
        f"The {start} map of {len(names)} held-out images ({', '.join(names)}, {cfg['size']} px) is optimised "
        f"with the net cut there, so that {loss} matches (mean squared error): {cfg['mse_steps']} Adam steps "
        f"(lr {cfg['lr']:g}) from the map of a grey image, then {cfg['prior_steps']} more with the MSE alone "
        f"('none') or with weight {cfg['weight']:g} x each prior on the map. Each map, and the true one for "
        f"reference, is then projected to the image by {cfg['project_steps']} steps of image inversion onto "
        f"it.",
        f"Priors (the run that trained each and the photos it saw): {origins(priors)}. Took {t_total:.0f} s.",
        _cica_note(cfg, arms, priors),
        "Thesis: July 27 (invert a single block, conv2/lin -> conv1/lin, with and without a prior), Aug. 2-6 "
        "(feature maps visualised; CICA conv1 priors). The thesis used AlexNet conv2/lin -> conv1/lin; this is "
        "VGG16's conv2_1/lin -> conv1_2/lin.",
    ]
    return [par for par in paras if par]


def experiment(fig_id: str):
    from restoration_experiments._prior_common import experiment as make

    return make(fig_id, run_featmap, BASE, THESIS)
