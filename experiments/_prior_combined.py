"""Body of the combined-priors experiment (``prior_combined``): a conv4 feature loss with the image prior plus
conv2 and conv3 feature-map priors (computed from the pre-image through the net), with the reduced or the full
conv3 prior, at a few weightings.

Every arm runs M&V 2016's recipe (as ``prior_compare``'s main table): the image prior replaces TV, weighted by
lambda_TV / its natural-patch energy; each feature-map prior is weighted by ``feature_scale x lambda_TV / its
natural-patch energy``, so 1 means "as strong as the image prior". The thesis added them to a mean squared
feature error instead (``prior_compare`` shows that procedure too)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

from restoration_experiments._prior_common import (
    HELD_OUT,
    Inversions,
    check,
    image_ids,
    image_scores,
    load_prior,
    means,
    net_and_images,
    origins,
    prior_weight_on,
)
from restoration import tracking
from restoration.contract.payload import FigureRef, Payload, Table

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


@dataclass
class CombinedPriors:
    """The priors of the combined arms, loaded by name: the image prior, the conv2 prior and each conv3 prior."""

    image: object
    conv2: object
    conv3: dict

    @classmethod
    def load(cls, cfg: Mapping) -> CombinedPriors:
        return cls(
            load_prior(cfg["image_prior"], "input"),
            load_prior(cfg["conv2_prior"]),
            {n: load_prior(n) for n in cfg["conv3_priors"]},
        )


def run_combined(_run, cfg: Mapping, fig_id: str, title: str) -> float:
    """M&V 2016 as published, with the image prior in TV's place, and with the feature-map priors added; scores,
    a grid and the payload. Returns the best arm's mean PSNR."""
    check(cfg)
    t0 = time.time()
    fnet, names, images = net_and_images(cfg)
    priors = CombinedPriors.load(cfg)
    layer = fnet.resolve(cfg["loss_layer"])
    inv = Inversions(cfg, fnet, images, tracking.metric_logger(_run))
    arms, w_img = _arms(cfg, fnet, priors, layer)
    rows, summary, recs, per_image, ids = [], {}, {}, {}, image_ids(names)
    for k, (arm, (recipe, extra)) in enumerate(arms.items()):
        print(f"[{fig_id}] {arm}", flush=True)
        res = inv.run(layer, recipe, extra, prefix=f"arm{k}/")
        sc = inv.score(layer, res)
        recs[arm] = res.rgb
        p, q, f = means(sc)
        rows.append([arm, round(p, 2), round(q, 4), round(f, 4)])
        key = f"arm{k}"
        summary[f"psnr_mean@{key}"], summary[f"ssim_mean@{key}"], summary[f"feat_err@{key}"] = p, q, f
        per_image[key] = image_scores(ids, sc)
    _grid(_run, fig_id, images, names, arms, recs)
    payload = Payload(
        title=title,
        net=fnet.weights_label,
        summary=summary,
        scores=per_image,
        paragraphs=_paragraphs(cfg, names, layer, priors, w_img, time.time() - t0),
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


def _arms(cfg: Mapping, fnet, priors: CombinedPriors, layer: str) -> tuple[dict, float]:
    """``{arm label: (recipe, extra terms)}`` and the image prior's weight: M&V 2016 as published, the image prior
    in TV's place, then per conv3 prior and feature scale the image, conv2 and conv3 priors together."""
    from restoration.preimage import recipes
    from restoration.priors.learned import PatchPrior

    mv = recipes.get_recipe("mv2016")
    no_tv = mv.replace(tv_weight={0: 0.0})
    lam = mv.tv_weight_for(layer)

    def weight(params, scale):
        return prior_weight_on(fnet, params, lam, scale, cfg["size"])

    img, c2 = priors.image, priors.conv2
    w_img = weight(img, float(cfg["image_scale"]))
    arms = {"mv2016 (alpha + TV)": (mv, []), f"image prior {img.spec.name}": (no_tv, [PatchPrior(img, weight=w_img)])}
    for c3name, c3 in priors.conv3.items():
        for fs in cfg["feature_scales"]:
            arms[f"image + {c2.spec.name} + {c3name}, feature scale {fs:g}"] = (
                no_tv,
                [
                    PatchPrior(img, weight=w_img),
                    PatchPrior(c2, weight=weight(c2, float(fs))),
                    PatchPrior(c3, weight=weight(c3, float(fs))),
                ],
            )
    return arms, w_img


def _grid(_run, fig_id: str, images, names, arms: dict, recs: dict) -> None:
    from restoration_reports import plots

    grid = [[images[i]] + [recs[a][i] for a in arms] for i in range(len(names))]
    tracking.add_figure(
        _run,
        plots.image_grid(
            grid, row_labels=names, col_labels=["original"] + [f"arm {k}" for k in range(len(arms))], panel_size=1.2
        ),
        f"{fig_id}_grid.png",
    )


def _paragraphs(cfg: Mapping, names, layer, priors: CombinedPriors, w_img: float, t_total: float) -> list[str]:
    img, c2, c3s = priors.image, priors.conv2, priors.conv3
    origin = origins([img, c2, *c3s.values()])
    return [
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
    ]


def experiment(fig_id: str):
    from restoration_experiments._prior_common import experiment as make

    return make(fig_id, run_combined, BASE, THESIS)
