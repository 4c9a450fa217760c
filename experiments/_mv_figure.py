"""Shared body of the Mahendran & Vedaldi figures (fig01 AlexNet, fig02 VGG16): variants (which paper's recipe),
images, layer sweep, the recipe's optimiser vs L-BFGS, artifacts and report payload (with per-image scores). Not
an experiment itself (no Sacred ``ex`` here).

Each figure declares its :class:`Variant` s, ``{name: Variant(recipe, note)}`` with the default first, and calls
:func:`add_variants`, which adds a named config per variant; the config keys are ``variant`` and ``recipe``
(``None`` = the variant's recipe; a recipe of the same paper may replace it, e.g. ``mv2016_authors_jitter``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

from restoration_experiments import _schema as schema
from restoration import tracking


@dataclass(frozen=True)
class Variant:
    """One way to make an M&V figure: the recipe (:mod:`restoration.preimage.recipes`) and why it is offered."""

    recipe: str
    note: str


def add_variants(ex, variants) -> None:
    """A named config per variant (``with mv2016``) that sets ``variant``."""
    for name in variants:
        ex.add_named_config(name, {"variant": name})


def resolve_recipe(variant, recipe, variants):
    """The recipe a run uses: the variant's, or ``recipe`` when given (it must follow the variant's paper)."""
    from restoration.preimage import recipes

    if variant not in variants:
        raise ValueError(
            f"config variant={variant!r}: choose one of {list(variants)}, e.g. `with {next(iter(variants))}`"
        )
    own = recipes.get_recipe(variants[variant].recipe)
    if recipe is None:
        return own
    if not isinstance(recipe, str):
        raise ValueError(f"config recipe={recipe!r}: a recipe name or None (the variant's), e.g. recipe=None")
    r = recipes.get_recipe(recipe)  # unknown names: a ValueError listing the recipes
    if r.paper != own.paper:
        other = [n for n, v in variants.items() if recipes.get_recipe(v.recipe).paper == r.paper]
        raise ValueError(
            f"config recipe={recipe!r} follows {recipes.PAPERS.get(r.paper, 'no named paper')}, but "
            f"variant {variant!r} is {recipes.PAPERS[own.paper]}; "
            + (f"pick variant {other[0]!r} (`with {other[0]}`) or " if other else "pick ")
            + "a recipe of the variant's paper"
        )
    return r


def variant_text(variant, variants, r) -> str:
    """The payload's ``variant``: ``"mv2015 (default): Mahendran & Vedaldi 2015 (CVPR), recipe mv2015"``."""
    from restoration.preimage import recipes

    default = " (default)" if variant == next(iter(variants)) else ""
    own = variants[variant].recipe
    changed = f" (set by config recipe; the variant's is {own})" if r.name != own else ""
    return f"{variant}{default}: {recipes.PAPERS.get(r.paper, r.name)}, recipe {r.name}{changed}"


#: the M&V figures' config keys (:mod:`restoration_experiments._schema`)
SCHEMA = {
    "n_images": schema.count(10),
    "size": schema.count(64, least=16, unit=" px"),
    "steps": schema.count(10, optional=True),
    "compare_steps": schema.count(10, optional=True),
    "log_every": schema.count(10),
    "lr_scale": schema.number(1.0),
    "layers": schema.names(("conv3_3",)),
}


def check_config(config: Mapping) -> None:
    """The M&V figures' config, checked once at the entry; errors name the key and an example fix."""
    schema.check(config, SCHEMA)


def load_images(images, image_dir, n_images, size):
    """``[(name, rgb uint8 (size, size, 3))]``: embedded photos by name, or the first images of a folder."""
    from restoration import data

    if image_dir is not None:
        named = data.folder_images(image_dir, size=size)[:n_images]
    else:
        by_name = dict(data.embedded_images("all"))
        unknown = [n for n in images if n not in by_name]
        if unknown:
            raise ValueError(f"config images: {unknown} are not embedded photos; choose from {sorted(by_name)}")
        named = [(n, data.center_crop_resize(by_name[n], size)) for n in images[:n_images]]
    if not named:
        raise ValueError("no images to invert: check `images`/`image_dir` and `n_images`")
    names = [n for n, _ in named]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # per-image scores are keyed by the photo's name
        raise ValueError(
            f"images {twice} appear more than once (files of one name with different suffixes, or a "
            f"name listed twice in `images`); each image is scored under its name, so give each once"
        )
    return named


def image_scores(names, images, rgb, feat_err):
    """:class:`restoration.contract.payload.ImageScores` of one evaluation: PSNR, SSIM, MSE, normalised error (RGB
    clipped to [0, 255], :func:`restoration.metrics.score_batch`) and the feature error, one per image, keyed by
    the photo's name."""
    import numpy as np

    from restoration import metrics
    from restoration.contract.payload import ImageScores

    scores = metrics.score_batch(np.asarray(images, np.float64), np.clip(np.asarray(rgb, np.float64), 0, 255))
    return ImageScores.from_batch(names, {**scores, "feat_err": feat_err})


@dataclass(frozen=True)
class MVFigure:
    """What an M&V figure declares besides its config: its id, the registry's title, its variants and the
    paragraphs only it says (e.g. which weights)."""

    name: str
    title: str
    variants: Mapping[str, Variant]
    paragraphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class MVRun:
    """The settings of one M&V figure run, read once from its Sacred config."""

    layers: tuple[str, ...]
    variant: str
    recipe: object  # the resolved restoration.preimage.recipes.Recipe
    compare_layer: str | None
    compare_steps: int
    log_every: int
    seed: int

    @classmethod
    def from_config(cls, cfg: Mapping, variants: Mapping[str, Variant]) -> "MVRun":
        r = resolve_recipe(cfg["variant"], cfg["recipe"], variants)
        if cfg["steps"] is not None:
            r = r.with_steps(int(cfg["steps"]))
        if cfg["lr_scale"] != 1.0:
            r = r.with_lr_scale(float(cfg["lr_scale"]))
        compare_steps = r.n_steps if cfg["compare_steps"] is None else int(cfg["compare_steps"])
        return cls(
            tuple(cfg["layers"]), cfg["variant"], r, cfg["compare_layer"], compare_steps, cfg["log_every"], cfg["seed"]
        )


def run_figure(_run, fig: MVFigure, fnet, named) -> float:
    """The shared body of fig01/fig02: sweep, comparison, artifacts, report. The payload's ``variant`` names the
    recipe's paper. Returns the mean feature error at the deepest layer (Sacred's float result)."""
    import numpy as np

    t0 = time.time()
    run = MVRun.from_config(_run.config, fig.variants)
    images = np.stack([im for _, im in named]).astype(np.float32)
    names = [n for n, _ in named]
    log = tracking.metric_logger(_run)
    sweep, tables = _layer_sweep(fnet, images, names, run, log)
    cmp = _optimizer_comparison(fnet, images, run, log, tables)
    _store_artifacts(_run, fig.name, sweep, images, names, run)
    summary, per_image = _scores(sweep, images, names, run, cmp, t0)
    _set_payload(_run, fig, fnet, run, summary, per_image, tables, (len(names), bool(cmp)))
    return float(np.mean(sweep.scores[run.layers[-1]]["feat_err"]))


def _layer_sweep(fnet, images, names, run: MVRun, log):
    """The pre-image of every image from every layer, and its table."""
    from restoration import preimage
    from restoration_reports.tables import preimage as inversion_tables

    r = run.recipe
    report = preimage.Reporting(log=log, log_every=run.log_every)
    sweep = preimage.sweep_layers(
        fnet, images, list(run.layers), image_names=names, recipe=r, report=report, seed=run.seed
    )
    title = (
        f"{fnet.name}: pre-image quality per layer ({r.name}, {r.n_steps} steps, {images.shape[1]} px, "
        f"{len(names)} images)"
    )
    return sweep, [inversion_tables.sweep_table(sweep, title)]


def _optimizer_comparison(fnet, images, run: MVRun, log, tables: list):
    """The recipe's optimiser against L-BFGS at ``compare_layer`` (same images, objective and budget); its table is
    appended to ``tables``. None without a ``compare_layer``."""
    from restoration import preimage
    from restoration_reports.tables import preimage as inversion_tables

    if not run.compare_layer:
        return None
    r = run.recipe
    opts = (r.optimizer, "lbfgs") if r.optimizer != "lbfgs" else ("adam", "lbfgs")
    cmp = preimage.compare_optimizers(
        fnet,
        images,
        run.compare_layer,
        optimizers=opts,
        n_steps=run.compare_steps,
        recipe=r,
        report=preimage.Reporting(log=log),
        seed=run.seed,
    )
    label = " vs ".join("L-BFGS" if o == "lbfgs" else o.capitalize() for o in opts)
    tables.append(
        inversion_tables.comparison_table(
            cmp, run.compare_layer, f"{label} at {run.compare_layer}: same images, objective and iteration budget"
        )
    )
    return cmp


def _store_artifacts(_run, name: str, sweep, images, names, run: MVRun) -> None:
    """The grid figure, the pre-images (npz) and the per-layer scores with the settings (json)."""
    import numpy as np

    from restoration_reports.tables import preimage as inversion_tables

    r = run.recipe
    tracking.add_figure(_run, inversion_tables.sweep_figure(sweep), f"{name}_grid.png")
    arrays = {f"rec_{layer.replace('/', '_')}": sweep.results[layer].rgb.astype(np.float32) for layer in run.layers}
    tracking.add_npz(_run, f"{name}_reconstructions.npz", originals=images, **arrays)
    scores = {layer: {k: v.tolist() for k, v in sweep.scores[layer].items()} for layer in run.layers}
    tracking.add_json(
        _run,
        {
            "images": names,
            "layers": list(run.layers),
            "scores": scores,
            "settings": sweep.settings,
            "variant": run.variant,
            "recipe": r.name,
            "steps": r.n_steps,
            "lr_schedule": r.lr_schedule,
        },
        f"{name}_scores.json",
    )


def _scores(sweep, images, names, run: MVRun, cmp, t0: float):
    """The summary (headline first: the report's overview shows the first two entries; per-layer numbers are in
    the table) and the per-image scores behind it, keyed by its qualifiers (a layer, "mean over layers",
    "adam, conv3"); ``wall_s`` counts from ``t0``."""
    import numpy as np

    from restoration.contract.payload import ImageScores

    layers, r = list(run.layers), run.recipe
    per_image = {
        layer: image_scores(names, images, sweep.results[layer].rgb, sweep.scores[layer]["feat_err"])
        for layer in layers
    }
    per_image["mean over layers"] = ImageScores(
        names, {"feat_err": [float(v) for v in np.mean([sweep.scores[la]["feat_err"] for la in layers], axis=0)]}
    )
    head = run.compare_layer if run.compare_layer in layers else layers[-1]
    summary = {
        f"feat_err@{head}": float(np.mean(sweep.scores[head]["feat_err"])),
        f"ssim_mean@{head}": float(np.mean(sweep.scores[head]["ssim"])),
        "feat_err@mean over layers": float(np.mean([np.mean(sweep.scores[la]["feat_err"]) for la in layers])),
        "layers": len(layers),
        "images": len(names),
        "steps": r.n_steps,
        "size_px": int(images.shape[1]),
        "wall_s": round(time.time() - t0, 1),
    }
    for opt, c in (cmp or {}).items():
        summary[f"feat_err@{opt}, {run.compare_layer}"] = float(np.mean(c["feat_err"]))
        summary[f"wall_s@{opt}, {run.compare_layer}"] = round(float(c["wall_s"]), 2)
        per_image[f"{opt}, {run.compare_layer}"] = image_scores(names, images, c["result"].rgb, c["feat_err"])
    return summary, per_image


def method_paragraph(r) -> str:
    """What the recipe ``r`` does, in one paragraph (optimiser, schedule, priors, jitter, constraint, start)."""
    return (
        f"Recipe {r.name}: {r.optimizer}, {r.n_steps} steps, learning rate schedule "
        f"{[(s, round(lr, 4)) for s, lr in r.lr_schedule]} "
        f"{'on the image in grey levels' if r.scale == 1 else f'on u = x / {r.scale:g}'}, jitter off for the "
        f"last {r.jitter_off_steps} steps; feature-loss weight C and jitter by depth (table); "
        + (
            f"alpha-norm (alpha {r.alpha:g}, B {r.alpha_B:g}) and TV (beta {r.beta:g}, V = B/6.5) normalised as "
            f"in Mahendran & Vedaldi 2016"
            if r.alpha_normalise and r.tv_normalise
            else f"alpha-norm (alpha {r.alpha:g}) and TV (beta {r.beta:g}) with Mahendran & Vedaldi 2015's "
            f"unnormalised weights on u = x / {r.scale:g}"
        )
        + f". Jitter rule {r.jitter_rule!r} (restoration.objectives.jitter); pixel constraint {r.pixel_constraint!r}"
        + (
            f" (each pixel's mean-subtracted colour vector kept within norm {r.ball_radius:g}, M&V's 2B)"
            if r.pixel_constraint == "ball"
            else ""
        )
        + f"; start {'from the target image (the thesis benchmark)' if r.init == 'target' else 'from noise'}."
        + " Errors are measured without jitter on the final pre-image; SSIM/PSNR on RGB clipped to [0, 255]."
    )


def _set_payload(_run, fig: MVFigure, fnet, run: MVRun, summary, per_image, tables, counts) -> None:
    """The report payload; ``counts`` is ``(number of images, whether optimisers were compared)``."""
    from restoration.contract.payload import FigureRef, Payload

    n_images, compared = counts
    r, variants = run.recipe, fig.variants
    chosen = variant_text(run.variant, variants, r)
    paras = list(fig.paragraphs) + [
        f"Variant {chosen}. {variants[run.variant].note} Other variants: "
        + "; ".join(f"{n} (recipe {v.recipe}, `with {n}`)" for n, v in variants.items() if n != run.variant)
        + ".",
        method_paragraph(r),
    ]
    if compared:
        paras.append(
            "L-BFGS (scipy L-BFGS-B on TensorFlow gradients) runs without jitter, since its line search "
            "needs a fixed objective; an iteration may cost several objective evaluations."
        )
    grid = FigureRef(
        f"{fig.name}_grid.png",
        f"Pre-images from each layer (columns; first column: original) for "
        f"{n_images} images (rows), {r.name}, {r.n_steps} steps.",
    )
    payload = Payload(
        title=fig.title,
        net=fnet.weights_label,
        summary=summary,
        paragraphs=paras,
        figures=[grid],
        tables=tables,
        variant=chosen,
        scores=per_image,
    )
    tracking.set_report(_run, payload)
