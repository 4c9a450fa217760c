"""The M&V pipeline on top of :func:`~restoration.preimage.optimise.invert`: the objective of a named recipe
(:mod:`restoration.preimage.recipes`) at one layer, :func:`invert_layer` for a batch of RGB images, and the
figure as data: :func:`sweep_layers` (several layers, per-image scores) and :func:`compare_optimizers` (the
recipe's optimiser against L-BFGS on the same objective and budget)."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from restoration.objectives import Objective, Term, feature_loss
from restoration.priors import AlphaNorm, TotalVariation
from restoration.optim.progress import progress as progress_bar
from restoration.preimage.optimise import InversionResult, InvertSettings, Reporting, invert
from restoration.preimage.recipes import Recipe, get_recipe

__all__ = [
    "build_objective",
    "invert_layer",
    "LayerSweep",
    "score_reconstructions",
    "sweep_layers",
    "compare_optimizers",
]


# ----------------------------------------------------------------------------------------------------------
# the M&V pipeline for one layer
# ----------------------------------------------------------------------------------------------------------


def build_objective(recipe: "str | Recipe", layer: str, phi0, *, extra_terms: Sequence[Term] = ()) -> Objective:
    """``C * feature_loss(layer, phi0) + lambda_alpha R_alpha + lambda_V R_TV`` with the recipe's numbers.

    ``extra_terms`` (e.g. a learned prior at another layer, or a second feature loss) are added unchanged.
    """
    r = get_recipe(recipe)
    terms: list[Term] = [feature_loss(layer, phi0, r.feature_weight_for(layer))]
    aw, tw = r.alpha_weight_for(layer), r.tv_weight_for(layer)
    if aw:
        if r.alpha_normalise:
            terms.append(AlphaNorm(r.alpha, r.alpha_B, weight=aw))
        else:  # lambda on u = x / B, i.e. lambda / B^alpha on pixels, no area normalisation
            terms.append(AlphaNorm(r.alpha, r.alpha_B, weight=aw / r.alpha_B**r.alpha, normalise=False))
    if tw:
        if r.tv_normalise:
            terms.append(TotalVariation(r.beta, r.tv_B, weight=tw))
        else:
            terms.append(TotalVariation(r.beta, r.tv_B, weight=tw / r.tv_B**r.beta, normalise=False))
    return Objective(terms) + Objective(list(extra_terms)) if extra_terms else Objective(terms)


def invert_layer(
    net,
    images_rgb,
    layer: str,
    *,
    recipe: "str | Recipe" = "mv2016",
    n_steps: int | None = None,
    optimizer: str | None = None,
    extra_terms: Sequence[Term] = (),
    report: Reporting = Reporting(),
    **overrides,
) -> InversionResult:
    """Invert ``net`` at ``layer`` for a batch of RGB images following a recipe (default M&V 2016).

    Parameters
    ----------
    images_rgb : array_like (N, H, W, 3)
        RGB in ``[0, 255]`` at the size to invert (the recipe's ``image_size`` for full-scale runs).
    n_steps : int, optional
        Override the recipe's step count; the schedule and jitter-off window are compressed to fit
        (:meth:`Recipe.with_steps`).
    optimizer : str, optional
        Override the recipe's optimiser (e.g. ``"lbfgs"`` for the comparison).
    extra_terms : sequence of Term
        Added to the recipe's objective (e.g. a learned prior in place of TV).
    report : Reporting
        Logging, snapshots, callback and progress bar (``QUIET``: none).
    overrides :
        :class:`InvertSettings` fields (``seed``, ``jit_compile``, ``lr``, ``jitter``, ``clip``, ``init_std``, ...)
        or ``x_init``.
    """
    # Long for its docstring and the settings it spells out: the one-call convenience entry (like lucid's
    # render_vis), where the recipe's numbers become the settings, which ``overrides`` may change; the work is
    # done by build_objective and invert.
    r = get_recipe(recipe)
    if n_steps is not None and n_steps != r.n_steps:
        r = r.with_steps(n_steps)
    images = np.asarray(images_rgb, np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images_rgb must have shape (N, H, W, 3), got {images.shape}")
    layer = net.resolve(layer)
    x0 = net.preprocess(images)
    phi0 = net(tf.constant(x0), layer).numpy()
    objective = build_objective(r, layer, phi0, extra_terms=extra_terms)
    size = images.shape[1]
    settings = InvertSettings(
        optimizer=optimizer or r.optimizer,
        n_steps=r.n_steps,
        lr=r.lr_schedule,
        momentum=r.momentum,
        jitter=r.jitter_amount(net, layer, size),
        jitter_rule=r.jitter_rule,
        jitter_off_steps=r.jitter_off_steps,
        scale=r.scale,
        clip=r.pixel_constraint == "clip",
        ball=r.ball_radius if r.pixel_constraint == "ball" else 0.0,
        init_std=r.init_std,
        reset_momentum=r.reset_momentum,
        grad_clip=r.grad_clip,
    )
    x_init = overrides.pop("x_init", x0 if r.init == "target" else None)
    settings = settings.replace(**overrides)
    return invert(
        net, objective, settings, x_init=x_init, shape=None if x_init is not None else images.shape[:3], report=report
    )


# ----------------------------------------------------------------------------------------------------------
# several layers, several images: the M&V figure as data
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class LayerSweep:
    """Pre-images of the same images from several layers (:func:`sweep_layers`).

    ``results[layer]`` is the :class:`InversionResult`; ``scores[layer]`` holds per-image arrays ``(N,)``:
    ``feat_err`` (normalised feature error reached, no jitter), ``nerr`` (normalised pixel error against the
    original), ``ssim``, ``psnr`` (RGB clipped to [0, 255]); ``settings[layer]`` the recipe numbers used.
    """

    images_rgb: np.ndarray
    image_names: list
    layers: list
    results: dict
    scores: dict
    settings: dict


def score_reconstructions(images_rgb, rgb) -> dict:
    """Per-image ``nerr``, ``ssim``, ``psnr`` of reconstructions (clipped to [0, 255]) against the originals."""
    from restoration import metrics

    s = metrics.score_batch(np.asarray(images_rgb, np.float64), np.clip(np.asarray(rgb, np.float64), 0, 255))
    return {"nerr": s["nerr"], "ssim": s["ssim"], "psnr": s["psnr"]}


def sweep_layers(
    net,
    images_rgb,
    layers: Sequence[str],
    *,
    image_names: Sequence[str] | None = None,
    recipe: "str | Recipe" = "mv2016",
    n_steps: int | None = None,
    report: Reporting = Reporting(),
    **overrides,
) -> LayerSweep:
    """Run :func:`invert_layer` for every layer on the same batch of images (one batched optimisation per
    layer); metrics are logged as ``<layer>/<term>`` (after ``report``'s prefix); ``overrides`` as there.
    Returns a :class:`LayerSweep`."""
    images = np.asarray(images_rgb, np.float32)
    r = get_recipe(recipe)
    results, scores, settings = {}, {}, {}
    for layer in progress_bar(list(layers), desc=f"{net.name} layers", enabled=report.progress):
        at = dataclasses.replace(report, log_prefix=f"{report.log_prefix}{layer}/")
        res = invert_layer(net, images, layer, recipe=r, n_steps=n_steps, report=at, **overrides)
        results[layer] = res
        sc = score_reconstructions(images, res.rgb)
        sc["feat_err"] = next(iter(res.feature_errors.values()))
        scores[layer] = sc
        canon = net.resolve(layer)
        settings[layer] = {
            "C": r.feature_weight_for(canon),
            "jitter": r.jitter_amount(net, canon, images.shape[1]),
            "jitter_rule": r.jitter_rule,
            "constraint": r.pixel_constraint,
            "init": r.init,
            "steps": res.n_steps,
            "optimizer": res.optimizer,
        }
    names = list(image_names) if image_names is not None else [f"image{i}" for i in range(len(images))]
    return LayerSweep(images, names, list(layers), results, scores, settings)


def compare_optimizers(
    net,
    images_rgb,
    layer: str,
    *,
    optimizers=("adam", "lbfgs"),
    n_steps: int = 100,
    recipe: "str | Recipe" = "mv2016",
    report: Reporting = Reporting(),
    **overrides,
) -> dict:
    """The same layer, images, objective and step budget under several optimisers.

    Returns ``{optimizer: {"feat_err": (N,), "ssim": (N,), "wall_s": float, "steps": int, "evals": int,
    "result": InversionResult}}``. L-BFGS runs without jitter (its line search needs a fixed objective). Metrics
    are logged as ``compare/<optimizer>/<term>`` (after ``report``'s prefix); ``overrides`` as in
    :func:`invert_layer`.
    """
    images = np.asarray(images_rgb, np.float32)
    out = {}
    for opt in optimizers:
        at = dataclasses.replace(report, log_prefix=f"{report.log_prefix}compare/{opt}/")
        res = invert_layer(net, images, layer, recipe=recipe, n_steps=n_steps, optimizer=opt, report=at, **overrides)
        sc = score_reconstructions(images, res.rgb)
        out[opt] = {
            "feat_err": next(iter(res.feature_errors.values())),
            "ssim": sc["ssim"],
            "wall_s": res.wall_time_s,
            "steps": res.n_steps,
            "evals": res.n_evals,
            "result": res,
        }
    return out
