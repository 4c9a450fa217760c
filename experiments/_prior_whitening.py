"""Body of the whitening-variants experiment (``prior_whitening``): the same image prior trained after different
preprocessing pipelines (the mean and sdev switches, PCA or ZCA; the thesis's Aug. 7 plan), each judged on one
task: a VGG16 conv3_3 inversion with the prior in place of TV in M&V 2016's recipe (as ``prior_compare``), and
on how often it gives a natural held-out patch lower energy than the same patch shuffled."""

from __future__ import annotations

import time
from typing import Mapping

from restoration_experiments._prior_common import (
    HELD_OUT,
    Inversions,
    NaturalCheck,
    check,
    image_ids,
    image_scores,
    means,
    net_and_images,
    prior_weight,
)
from restoration import tracking
from restoration.contract.payload import Payload, Table
from restoration.data import PRIOR_TRAIN

VARIANTS = [  # label, mean switch, sdev switch, whitening, dims dropped
    ["dataset channel mean + sdev, PCA (default)", "dataset_channel", "dataset_channel", "pca", 1],
    ["dataset feature mean + sdev, PCA", "dataset_feature", "dataset_feature", "pca", 1],
    ["sample channel mean, no sdev, PCA", "sample_channel", "none", "pca", 3],
    ["sample mean + sample sdev, PCA", "sample_feature", "sample", "pca", 1],
]
BASE = {
    **HELD_OUT,
    "size": 64,
    "layer": "conv3_3",
    "variants": VARIANTS,
    "n_components": 128,
    "expert": "student",
    "train_size": 256,  # training photos centre-cropped to this
    "photos": list(PRIOR_TRAIN),  # quick profile: the embedded natural photos the priors train on (issue 17)
    "n_train": 20_000,
    "n_val": 500,
    "train_steps": 1000,
    "weight_scale": 30.0,  # as prior_compare
    "steps": 200,  # inversion steps per variant
    # score-matching training stays float32 on every machine (a family exception to "auto"): bfloat16 gained
    # only 1.26x even on AMX, and its products round before a reduction whose terms cancel
    "precision": "float32",
    "seed": 0,
    "progress": True,
}
THESIS = {
    "profile": "thesis",
    "size": 224,
    "n_images": 10,
    "n_components": 512,
    "n_train": 100_000,
    "train_steps": 25_000,
    "steps": 3500,
    "variants": VARIANTS + [["dataset channel mean + sdev, ZCA", "dataset_channel", "dataset_channel", "zca", 0]],
}


def run_whitening(_run, cfg: Mapping, fig_id: str, title: str) -> float:
    """Per preprocessing variant: train the prior, check it on natural vs shuffled patches, invert with it in
    TV's place. Returns the best variant's mean PSNR."""
    from restoration_experiments._learned_priors import _photos

    check(cfg)
    t0 = time.time()
    fnet, names, images = net_and_images(cfg)
    photo_cfg = _photo_config(cfg)
    photos = _photos(photo_cfg)  # train and held-out images, their names
    layer = fnet.resolve(cfg["layer"])
    folder = tracking.checkpoint_dir(fig_id, dict(cfg))
    inv = Inversions(cfg, fnet, images, tracking.metric_logger(_run))
    rows, summary, per_image, ids = [], {}, {}, image_ids(names)
    for k, variant in enumerate(cfg["variants"]):
        print(f"[{fig_id}] variant {k}: {variant[0]}", flush=True)
        params = _train_variant(cfg, fnet, k, variant, photos, folder, inv.log)
        natural = NaturalCheck.of(params, folder / f"v{k}" / "val", cfg["seed"])
        params.natural_energy = float(natural.e_real.mean())
        sc = _invert_with(inv, params, layer, prefix=f"variant{k}/inversion/")
        p, q, fe = means(sc)
        rows.append([variant[0], params.whitening.d, round(natural.lower, 3), round(p, 2), round(q, 4), round(fe, 4)])
        summary[f"psnr_mean@variant{k}"], summary[f"ssim_mean@variant{k}"] = p, q
        summary[f"natural_lower@variant{k}"] = natural.lower  # a share of held-out patches: no per-image values
        per_image[f"variant{k}"] = image_scores(ids, sc)
    payload = Payload(
        title=title,
        net=fnet.weights_label,
        summary=summary,
        scores=per_image,
        paragraphs=_paragraphs(cfg, names, layer, photo_cfg, photos, time.time() - t0),
        tables=[
            Table(
                f"Whitening variants on one task ({layer} inversion, mean over images)",
                ["preprocessing", "whitened dims", "natural lower", "PSNR (dB)", "SSIM", "feature error"],
                rows,
            )
        ],
    )
    tracking.set_report(_run, payload)
    return max(r[3] for r in rows)


def _photo_config(cfg: Mapping) -> dict:
    """The training photos' config in the prior-training family's keys."""
    return {
        "image_dir": cfg["image_dir"],
        "image_size": cfg["train_size"],
        "max_images": None,
        "profile": cfg["profile"],
        "seed": cfg["seed"],
        "photos": cfg["photos"],
    }


def _train_variant(cfg: Mapping, fnet, k: int, variant, photos, folder, log):
    """The image prior trained after variant ``k``'s preprocessing (label, mean and sdev switches, whitening, dims
    dropped); its patches and checkpoints in ``folder/v<k>``."""
    from restoration.priors import patches
    from restoration.priors.learned import PriorSpec
    from restoration.priors.training import PriorTraining, maps_source, train_prior

    _, mean, sdev, method, n_drop = variant
    train_imgs, held_imgs, _, _ = photos
    spec = PriorSpec(f"whiten{k}", patches.PatchSpec("input", 3, 8, 8), cfg["n_components"], cfg["expert"])
    pt = PriorTraining(
        n_train=cfg["n_train"],
        n_val=cfg["n_val"],
        steps=cfg["train_steps"],
        norm=patches.Normalisation(mean, sdev),
        whitening=method,
        n_drop=int(n_drop),
        seed=cfg["seed"],
        log_every=max(cfg["train_steps"] // 50, 1),
        eval_every=cfg["train_steps"],
        ckpt_every=cfg["train_steps"],
        progress=cfg["progress"],
        precision=cfg["precision"],
    )
    params, _ = train_prior(
        spec,
        maps_source(fnet, train_imgs, "input"),
        len(train_imgs),
        maps_source(fnet, held_imgs, "input"),
        len(held_imgs),
        pt,
        work_dir=folder / f"v{k}",
        ckpt_dir=folder / f"v{k}" / "train",
        log=lambda n, v, s: log(f"variant{k}/{n}", v, s),
    )
    return params


def _invert_with(inv: Inversions, params, layer: str, *, prefix: str) -> dict:
    """M&V 2016's recipe with the prior in TV's place (weighted as prior_compare weights it); per-image scores."""
    from restoration.preimage import recipes
    from restoration.priors.learned import PatchPrior

    cfg = inv.cfg
    mv = recipes.get_recipe("mv2016")
    no_tv, lam = mv.replace(tv_weight={0: 0.0}), mv.tv_weight_for(layer)
    w = prior_weight(params, lam, float(cfg["weight_scale"]), (cfg["size"], cfg["size"]))
    return inv.score(layer, inv.run(layer, no_tv, [PatchPrior(params, weight=w)], prefix=prefix))


def _paragraphs(cfg: Mapping, names, layer, photo_cfg, photos, t_total: float) -> list[str]:
    from restoration_experiments._learned_priors import photos_line

    _, _, train_names, held_names = photos
    return [
        f"One image prior ({cfg['n_components']} {cfg['expert']} experts on 8x8x3 patches, {cfg['train_steps']} "
        f"score-matching steps on {cfg['n_train']} patches of the training photos) trained after each "
        f"preprocessing pipeline, then used in place of TV in M&V 2016's recipe to invert {len(names)} held-out "
        f"images ({', '.join(names)}, {cfg['size']} px) from {layer} for {cfg['steps']} steps (weight "
        f"{cfg['weight_scale']:g} x lambda_TV / the prior's natural-patch energy). "
        f"'natural lower': the share of held-out patches the prior gives "
        f"lower energy than their shuffled copy. Centre first, then scale, in every variant.",
        photos_line(photo_cfg, train_names, held_names),
        f"Took {t_total:.0f} s.",
        "Thesis: Aug. 7 (investigate the whitening assumptions; mean per channel vs per feature, dataset vs "
        "sample statistics, sdev normalisation; 'store truly raw patches').",
    ]


def experiment(fig_id: str):
    from restoration_experiments._prior_common import experiment as make

    return make(fig_id, run_whitening, BASE, THESIS)
