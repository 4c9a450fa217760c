"""Training a learned patch prior by score matching, on the one training loop (:mod:`restoration.optim`).

Pipeline: draw raw patches of the image or of a layer into a :class:`restoration.priors.patches.PatchStore` (training
patches from the training images, validation patches from *held-out* images; the thesis drew both from the same
images), fit the whitening on the training store (streaming), whiten both, then Adam on Hyvärinen's objective
(:func:`restoration.priors.learned.score_matching_loss`) with the thesis's schedule and element-wise gradient
clipping, checkpoints, resume and the NaN guard of the shared loop.

The thesis's settings (``test_script.py``): Adam, batch 250, 25k steps, lr 1.0, then 0.1 at 10k, 3e-2 at 13k,
1e-2 at 15k, 3e-3 at 17k, 1e-3 at 19k, 1e-4 at 21k, 3e-5 at 23k; clip 1e-3; 100k training patches, 500
validation patches; init ``a ~ N(0, 1)``, ``W ~ N(0, 1e-3)`` (read here as a standard deviation of 1e-3).
A shorter run compresses the same schedule into its steps (:func:`thesis_schedule`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from restoration.priors.learned import PriorParams, PriorSpec, score_matching_loss
from restoration.priors.patches import Normalisation, PatchStore, fill_store, fit_whitening
from restoration.optim import LogFn, Objective, TrainResult, TrainSettings, run_loop

__all__ = ["THESIS_SCHEDULE", "thesis_schedule", "PriorTraining", "train_prior", "train_prior_on_stores", "maps_source"]

THESIS_STEPS = 25_000
THESIS_SCHEDULE = (
    (0, 1.0),
    (10_000, 0.1),
    (13_000, 3e-2),
    (15_000, 1e-2),
    (17_000, 3e-3),
    (19_000, 1e-3),
    (21_000, 1e-4),
    (23_000, 3e-5),
)


def thesis_schedule(steps: int) -> tuple[tuple[int, float], ...]:
    """The thesis's 25k-step schedule compressed (or stretched) into ``steps``."""
    out = []
    for s, v in THESIS_SCHEDULE:
        at = int(round(s * steps / THESIS_STEPS))
        if out and at <= out[-1][0]:  # compressed onto the same step: the later (lower) rate wins
            out[-1] = (out[-1][0], v)
            continue
        out.append((at, v))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class PriorTraining:
    """How a prior is trained: patch counts, batch, optimiser, whitening and seed."""

    n_train: int = 100_000
    n_val: int = 500
    batch: int = 250
    steps: int = THESIS_STEPS
    clip_value: float = 1e-3
    norm: Normalisation = Normalisation()
    whitening: str = "pca"
    n_drop: int | None = 1  # None: keep the dimensions the patches span (see patches.fit_whitening)
    seed: int = 0
    log_every: int = 50
    eval_every: int = 500
    ckpt_every: int = 1000
    progress: bool = True
    precision: str = "float32"  # the score-matching products in bfloat16 (mixed: W, a, the loss float32)

    def train_settings(self) -> TrainSettings:
        return TrainSettings(
            steps=self.steps,
            lr=1.0,
            lr_schedule=thesis_schedule(self.steps),
            log_every=self.log_every,
            eval_every=self.eval_every,
            ckpt_every=self.ckpt_every,
            progress=self.progress,
            clip_value=self.clip_value,
        )


def maps_source(net, images_rgb, layer: str, batch: int = 1) -> Callable[[int], np.ndarray]:
    """``i -> maps`` of images ``i*batch .. (i+1)*batch``: the preprocessed image (``layer="input"``) or the
    layer's activations, computed one batch at a time."""
    import tensorflow as tf

    images = np.asarray(images_rgb, np.float32)

    def fn(i: int) -> np.ndarray:
        x = net.preprocess(images[i * batch : (i + 1) * batch])
        if layer == "input":
            return np.asarray(x, np.float32)
        return net(tf.constant(x), layer).numpy()

    return fn


def _whiten_store(whitening, store: PatchStore, chunk: int = 10_000) -> np.ndarray:
    return np.concatenate([whitening.apply(x) for x in store.chunks(chunk)], axis=0)


def train_prior_on_stores(
    spec: PriorSpec, train: PatchStore, val: PatchStore, cfg: PriorTraining, *, ckpt_dir=None, log: LogFn | None = None
) -> tuple[PriorParams, TrainResult]:
    """Fit the whitening on ``train``, then score-matching on the whitened patches; ``val`` is scored every
    ``eval_every`` steps (logged as ``score_matching/heldout_loss``)."""
    import tensorflow as tf

    if train.spec != spec.patch or val.spec != spec.patch:
        raise ValueError(
            f"prior {spec.name!r} models {spec.patch.describe()}; the stores hold "
            f"{train.spec.describe()} / {val.spec.describe()}"
        )
    whitening = fit_whitening(train, cfg.norm, cfg.whitening, cfg.n_drop, channelwise=spec.channelwise)
    z_train, z_val = _whiten_store(whitening, train), _whiten_store(whitening, val)
    d, K = whitening.d, spec.n_components
    rng = np.random.default_rng(cfg.seed)
    shape = (spec.patch.channels, K, d) if spec.channelwise else (K, d)
    W = tf.Variable(rng.normal(0.0, 1e-3, shape).astype(np.float32), name="W")
    a = tf.Variable(rng.normal(0.0, 1.0, shape[:-1]).astype(np.float32), name="a")
    n = len(z_train)

    def batches(step: int) -> np.ndarray:
        idx = np.random.default_rng([cfg.seed, step]).integers(0, n, cfg.batch)
        return z_train[idx]

    def loss_fn(b):
        return [score_matching_loss(W, a, b, spec.expert, precision=cfg.precision)]

    objective = Objective(spec.name, loss_fn, [W, a], ["score_matching"], [1.0], {"W": W, "a": a})
    result = run_loop(
        objective,
        batches,
        cfg.train_settings(),
        heldout=z_val,
        ckpt_dir=ckpt_dir,
        log=log,
        eval_batch=max(len(z_val), 1),
    )
    return PriorParams(spec, whitening, W.numpy(), a.numpy()), result


def train_prior(
    spec: PriorSpec,
    train_maps: Callable[[int], np.ndarray],
    n_train_sources: int,
    val_maps: Callable[[int], np.ndarray],
    n_val_sources: int,
    cfg: PriorTraining,
    *,
    work_dir,
    ckpt_dir=None,
    log: LogFn | None = None,
) -> tuple[PriorParams, TrainResult]:
    """Draw ``cfg.n_train`` / ``cfg.n_val`` raw patches into stores under ``work_dir`` (memory-mapped), then
    :func:`train_prior_on_stores`."""
    work = Path(work_dir)
    rng = np.random.default_rng([cfg.seed, 1])
    train = fill_store(
        PatchStore.create(work / "train", spec.patch, cfg.n_train, "training images"), train_maps, n_train_sources, rng
    )
    val = fill_store(
        PatchStore.create(work / "val", spec.patch, cfg.n_val, "held-out images"), val_maps, n_val_sources, rng
    )
    return train_prior_on_stores(spec, train, val, cfg, ckpt_dir=ckpt_dir, log=log)
