"""What the prior experiments that *use* trained priors share (``prior_compare``, ``prior_featmap``,
``prior_combined``, ``prior_whitening``): their Sacred experiment, the config check, loading priors by name
with the fix in the error, the held-out images with the net, the weighting of a learned prior, the inversions and
their scores (:class:`Inversions`), and the natural-vs-shuffled patch check (:class:`NaturalCheck`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from restoration_experiments import _schema as schema
from restoration import tracking

PriorBody = Callable[..., float]

HELD_OUT = {
    "profile": "quick",
    "net": "vgg16",
    "weights": "hed",
    "images": ["chelsea", "rocket"],  # held out from every prior's training patches
    "image_dir": None,  # or a folder (thesis profile); the first n_images are used
    "n_images": 2,
}
"""The config every prior user starts from: the net and the held-out images it inverts."""


def experiment(fig_id: str, body: PriorBody, base: Mapping, thesis: Mapping):
    """The Sacred experiment of one prior experiment: config ``base`` (the quick profile), named configs
    ``quick`` and ``thesis``, and ``body(_run, _config, fig_id, title)`` as its main command (the title from
    the registry, its one source)."""
    ex = tracking.make_experiment(fig_id)
    ex.add_config(dict(base))
    ex.add_named_config("quick", {"profile": "quick"})
    ex.add_named_config("thesis", dict(thesis))

    @ex.main
    def main(_run, _config):
        from restoration.contract import registry

        return body(_run, _config, fig_id, registry.title(fig_id))

    return ex


#: the prior experiments' shared config keys (:mod:`restoration_experiments._schema`)
SCHEMA = {
    **{
        k: schema.count(200)
        for k in ("n_images", "size", "steps", "thesis_steps", "mse_steps", "prior_steps", "project_steps")
    },
    "layers": schema.names(("conv3_3",)),
    "lr": schema.number(1.0),
}


def check(cfg: Mapping) -> None:
    """The shared config keys, checked at the entry; errors name the key and an example fix."""
    schema.check(cfg, SCHEMA)


def load_prior(name: str, layer: str | None = None):
    """The trained prior ``name`` from ``runs/priors/``; a missing one fails naming the make target that trains
    it, one of another layer (when ``layer`` is given) naming both."""
    from restoration.priors import learned as learned_priors

    try:
        params = learned_priors.load_prior(name, tracking.runs_dir())
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e.args[0].split(';')[0]}; train it first: make reproduce-prior_{name}") from e
    if layer is not None and params.spec.patch.layer != layer:
        raise ValueError(
            f"prior {name!r} models {params.spec.patch.describe()}, but this experiment needs priors of {layer!r}"
        )
    return params


def load_priors(names, layer: str | None = "input") -> dict:
    return {name: load_prior(name, layer) for name in names}


def origins(priors) -> str:
    """Which run trained each prior and on which photos, for a report paragraph (``priors``: params, or a
    name -> params mapping)."""
    items = priors.values() if isinstance(priors, Mapping) else priors
    return "; ".join(f"{p.spec.name}: run {p.run_id}, {p.describe_photos()}" for p in items)


#: per-image score names (restoration.metrics.score_batch's, and the experiments' own) -> the measure key they
#: stand behind in the payload summary
def image_ids(names) -> list[str]:
    """Ids for the images of one evaluation, stable across runs: the image's name, with ``(k)`` appended to the
    k-th repeat of a name (two files of a folder with one stem)."""
    seen: dict[str, int] = {}
    out = []
    for n in map(str, names):
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}({seen[n]})")
    return out


def image_scores(ids, scores: Mapping):
    """:class:`restoration.contract.payload.ImageScores` of one evaluation (:meth:`ImageScores.from_batch`: ``psnr``,
    ``ssim``, ``mse``, ``nerr`` from :func:`restoration.metrics.score_batch`; ``feat_err``, ``map_err``)."""
    from restoration.contract.payload import ImageScores

    return ImageScores.from_batch(ids, scores)


def pooled_scores(parts: Mapping):
    """The per-image scores behind a mean over ``parts`` (e.g. over layers: ``{"conv2_2": ImageScores, ...}``):
    ids ``"conv2_2/chelsea"``, values concatenated, measures those every part has. Their mean is the mean over
    parts of the parts' means when each part scores the same images."""
    from restoration.contract.payload import ImageScores

    parts = dict(parts)
    if not parts:
        raise ValueError("pooled_scores needs at least one part")
    keys = [k for k in next(iter(parts.values())).values if all(k in sc.values for sc in parts.values())]
    return ImageScores(
        [f"{label}/{i}" for label, sc in parts.items() for i in sc.images],
        {k: [v for sc in parts.values() for v in sc.values[k]] for k in keys},
    )


def net_and_images(cfg: Mapping):
    """``(net, image names, RGB images (N, S, S, 3) float32)`` of the config's held-out images."""
    from restoration_experiments._mv_figure import load_images
    from restoration import nets

    fnet = nets.build(cfg["net"], cfg["weights"], seed=cfg["seed"], precision=cfg["precision"])
    named = load_images(cfg["images"], cfg["image_dir"], cfg["n_images"], cfg["size"])
    return fnet, [n for n, _ in named], np.stack([im for _, im in named]).astype(np.float32)


def prior_weight(params, lambda_tv: float, scale: float, map_hw: tuple[int, int] | None = None) -> float:
    """A learned prior's weight in M&V's recipe: ``scale * lambda_TV / (its natural-patch energy x
    energy_factor)``, so the term scores about ``scale * lambda_TV`` on a natural image. ``energy_factor`` is 1 for
    ICA / FoE (mean over positions) and ``M / (C K)`` for CICA, whose energy sums over the ``M`` positions as the
    thesis's did (:func:`restoration.priors.learned.energy_factor`): a CICA prior needs ``map_hw``, the height and
    width of the maps it scores (the image size for an image prior; the net's input, not an ``authors`` jitter
    canvas a few pixels larger)."""
    from restoration.priors.learned import energy_factor

    e = params.natural_energy
    if not e or not np.isfinite(e) or e <= 0:
        raise ValueError(
            f"prior {params.spec.name!r} has no natural-patch energy stored (trained before it was "
            f"recorded); retrain it: make reproduce-prior_{params.spec.name}"
        )
    if map_hw is None:
        if params.spec.channelwise:
            raise ValueError(
                f"prior {params.spec.name!r} is a CICA prior, whose energy sums over patch positions; "
                f"pass map_hw=(height, width) of the maps it scores to weigh it"
            )
        return scale * lambda_tv / e
    return scale * lambda_tv / (e * energy_factor(params.spec, *map_hw))


def prior_weight_on(fnet, params, lambda_tv: float, scale: float, size: int) -> float:
    """:func:`prior_weight` for ``size x size`` images, with the maps the prior scores at its own layer
    (CICA's energy sums over their positions)."""
    return prior_weight(params, lambda_tv, scale, map_hw(fnet, params.spec.patch.layer, size))


def map_hw(fnet, layer: str, size: int) -> tuple[int, int]:
    """Height and width of ``layer``'s maps for ``size x size`` images (``"input"``: the image itself)."""
    import tensorflow as tf

    if layer == "input":
        return size, size
    shape = fnet(tf.zeros((1, size, size, 3)), fnet.resolve(layer)).shape
    return int(shape[1]), int(shape[2])


@dataclass
class Inversions:
    """The held-out ``images`` inverted from a layer with M&V 2016's recipe (or a variant of it) plus extra terms,
    ``cfg["steps"]`` steps, logged under a prefix; every result scored the same way (:meth:`score`)."""

    cfg: Mapping
    fnet: object
    images: np.ndarray
    log: Callable

    @property
    def log_every(self) -> int:
        """About 30 logged points per inversion."""
        return max(self.cfg["steps"] // 30, 1)

    def run(self, layer: str, recipe, extra=(), *, prefix: str):
        from restoration import preimage

        return preimage.invert_layer(
            self.fnet,
            self.images,
            layer,
            recipe=recipe,
            n_steps=self.cfg["steps"],
            extra_terms=extra,
            report=preimage.Reporting(
                log=self.log, log_prefix=prefix, log_every=self.log_every, progress=self.cfg["progress"]
            ),
            seed=self.cfg["seed"],
        )

    def score(self, layer: str, res) -> dict:
        """Per image: PSNR, SSIM, MSE, normalised error (pixels, RGB clipped) and M&V's normalised feature error
        at ``layer`` (``feat_err``)."""
        from restoration import metrics
        from restoration.preimage.learned_prior import feature_error

        pixels = metrics.score_batch(self.images, res.rgb)
        return {**pixels, "feat_err": feature_error(self.fnet, self.images, layer, res.x_bgr)}


def means(scores: Mapping, keys=("psnr", "ssim", "feat_err")) -> tuple[float, ...]:
    """The mean over images of each of ``keys``."""
    return tuple(float(np.mean(scores[k])) for k in keys)


@dataclass
class NaturalCheck:
    """Held-out patches (``real``, (N, C, P)) against the same pixels shuffled inside each patch: their energies
    under a prior, the mean gap (shuffled minus natural) and the share of patches given the lower energy."""

    real: np.ndarray
    e_real: np.ndarray
    e_shuf: np.ndarray

    @classmethod
    def of(cls, params, store: Path, seed: int) -> NaturalCheck:
        """The check for prior ``params`` on the validation patches in ``store``, shuffled with ``seed``."""
        from restoration.priors import learned as learned_priors
        from restoration.priors import patches

        real = np.asarray(patches.PatchStore(store).data, np.float32)
        shuffled = real[:, :, np.random.default_rng(seed).permutation(real.shape[2])]
        return cls(real, learned_priors.energy_np(params, real), learned_priors.energy_np(params, shuffled))

    @property
    def gap(self) -> float:
        return float(np.mean(self.e_shuf - self.e_real))

    @property
    def lower(self) -> float:
        return float(np.mean(self.e_real < self.e_shuf))
