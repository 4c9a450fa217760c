"""Body of the combined-priors experiment (``prior_combined``): a conv4 feature loss with the image prior plus
conv2 and conv3 feature-map priors (computed from the pre-image through the net), with the reduced or the full
conv3 prior, at a few weightings.

Every arm runs M&V 2016's recipe (as ``prior_compare``'s main table): the image prior replaces TV, weighted by
lambda_TV / its natural-patch energy; each feature-map prior is weighted by ``feature_scale x lambda_TV / its
natural-patch energy``, so 1 means "as strong as the image prior". The thesis added them to a mean squared
feature error instead (``prior_compare`` shows that procedure too)."""

from __future__ import annotations

import time
from typing import Mapping

from restoration_experiments._prior_common import (
    HELD_OUT,
    check,
    image_ids,
    image_scores,
    load_prior,
    map_hw,
    net_and_images,
    origins,
    prior_weight,
)
from restoration import tracking

BASE = {
    **HELD_OUT,
    "size": 64,
    "loss_layer": "conv4_3",
    "image_prior": "full512_logistic",
    "conv2_prior": "conv2_reduced",
    "conv3_priors": ["conv3_reduced", "conv3_full"],
    "image_scale": 30.0,  # image prior weight = image_scale * lambda_TV / its natural energy
    "feature_scales": [3.0],  # each feature-map prior: scale * lambda_TV / its natural energy
    "steps": 200,
    "seed": 0,
    "precision": "auto",  # the inversions' net: bfloat16 where this machine measures it faster (restoration.precision)
    "progress": True,
}
THESIS = {"profile": "thesis", "size": 224, "n_images": 10, "steps": 3500}


def run_combined(_run, cfg: Mapping, fig_id: str, title: str) -> float:
    from restoration import preimage
    from restoration import metrics
    from restoration_reports import plots
    from restoration.preimage import recipes
    from restoration.priors.learned import PatchPrior
    from restoration.contract.payload import FigureRef, Payload, Table
    from restoration.preimage.learned_prior import feature_error

    check(cfg)
    t0 = time.time()
    fnet, names, images = net_and_images(cfg)
    img = load_prior(cfg["image_prior"], "input")
    c2 = load_prior(cfg["conv2_prior"])
    c3s = {n: load_prior(n) for n in cfg["conv3_priors"]}
    layer = fnet.resolve(cfg["loss_layer"])
    mv = recipes.get_recipe("mv2016")
    no_tv = mv.replace(tv_weight={0: 0.0})
    lam = mv.tv_weight_for(layer)
    log = tracking.metric_logger(_run)

    def weight(params, scale):  # the maps a prior scores (CICA's energy sums over their positions)
        return prior_weight(params, lam, scale, map_hw(fnet, params.spec.patch.layer, cfg["size"]))

    w_img = weight(img, float(cfg["image_scale"]))
    arms = {"mv2016 (alpha + TV)": (mv, []), f"image prior {img.spec.name}": (no_tv, [PatchPrior(img, weight=w_img)])}
    for c3name, c3 in c3s.items():
        for fs in cfg["feature_scales"]:
            arms[f"image + {c2.spec.name} + {c3name}, feature scale {fs:g}"] = (
                no_tv,
                [
                    PatchPrior(img, weight=w_img),
                    PatchPrior(c2, weight=weight(c2, float(fs))),
                    PatchPrior(c3, weight=weight(c3, float(fs))),
                ],
            )
    rows, summary, recs, per_image, ids = [], {}, {}, {}, image_ids(names)
    for k, (arm, (recipe, extra)) in enumerate(arms.items()):
        print(f"[{fig_id}] {arm}", flush=True)
        res = preimage.invert_layer(
            fnet,
            images,
            layer,
            recipe=recipe,
            n_steps=cfg["steps"],
            extra_terms=extra,
            log=log,
            log_prefix=f"arm{k}/",
            log_every=max(cfg["steps"] // 30, 1),
            seed=cfg["seed"],
            progress=cfg["progress"],
        )
        sc = metrics.score_batch(images, res.rgb)
        fe = feature_error(fnet, images, layer, res.x_bgr)
        recs[arm] = res.rgb
        p, q, f = float(sc["psnr"].mean()), float(sc["ssim"].mean()), float(fe.mean())
        rows.append([arm, round(p, 2), round(q, 4), round(f, 4)])
        key = f"arm{k}"
        summary[f"psnr_mean@{key}"], summary[f"ssim_mean@{key}"], summary[f"feat_err@{key}"] = p, q, f
        per_image[key] = image_scores(ids, {**sc, "feat_err": fe})
    grid = [[images[i]] + [recs[a][i] for a in arms] for i in range(len(names))]
    tracking.add_figure(
        _run,
        plots.image_grid(
            grid, row_labels=names, col_labels=["original"] + [f"arm {k}" for k in range(len(arms))], panel_size=1.2
        ),
        f"{fig_id}_grid.png",
    )
    t_total = time.time() - t0
    origin = origins([img, c2, *c3s.values()])
    payload = Payload(
        title=title,
        net=fnet.weights_label,
        summary=summary,
        scores=per_image,
        paragraphs=[
            f"{len(names)} held-out images ({', '.join(names)}) at {cfg['size']} px inverted from {layer} with M&V "
            f"2016's recipe, {cfg['steps']} steps per arm: as published, with the image prior {img.spec.name!r} in "
            f"place of TV (weight {w_img:.3g} = {cfg['image_scale']:g} x lambda_TV / its natural energy, as in "
            f"prior_compare) and, in the combined arms, "
            f"the feature-map priors {c2.spec.name!r} on {c2.spec.patch.layer} and a conv3 prior on "
            f"{next(iter(c3s.values())).spec.patch.layer} (reduced: {', '.join(n for n in c3s if 'reduced' in n)}; "
            f"full: {', '.join(n for n in c3s if 'full' in n)}), each weighted at the listed scale of lambda_TV / its "
            f"own natural energy. The feature-map priors "
            f"score the pre-image's activations, so their gradients flow back through the net to the image.",
            f"Priors (the run that trained each and the photos it saw): {origin}. Took {t_total:.0f} s.",
            "Thesis: July 23 (conv4 MSE loss with the image ICA prior and conv2/conv3 ICA priors; weightings of "
            "the reduced conv2 prior; reduced vs full conv3 prior).",
        ],
        figures=[
            FigureRef(
                f"{fig_id}_grid.png",
                "Originals and each arm's reconstruction, arms numbered as in "
                "the table (arm 0 = M&V 2016 as published).",
            )
        ],
        tables=[
            Table(
                f"Combined priors at {layer} (mean over images)",
                ["arm", "PSNR (dB)", "SSIM", "feature error"],
                [[f"arm {k}: {r[0]}"] + r[1:] for k, r in enumerate(rows)],
            )
        ],
    )
    tracking.set_report(_run, payload)
    return max(r[1] for r in rows)


def experiment(fig_id: str):
    from restoration_experiments._prior_common import experiment as make

    return make(fig_id, run_combined, BASE, THESIS)
