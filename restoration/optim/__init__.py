"""The one training loop: Adam on a sum of weighted loss terms, with checkpoints, resume, a NaN guard, progress
and logging. Used by every inversion-stack training mode (:mod:`restoration.stacks.training`) and by the score-matching
priors (:mod:`restoration.priors.training`); nothing in it knows what the terms are.

* **One trace per run**: the train step is a ``tf.function`` with a fixed input signature (the first batch's
  shape); the held-out step accepts any batch size.
* **Learning rate**: constant, or piecewise constant (``TrainSettings.lr_schedule``, e.g. the thesis's
  fine-tuning schedule 3e-6 -> 1e-6 at step 1000 -> 3e-7 at 2000) as a Keras schedule on the optimizer's own
  step count, so a resumed run continues the schedule where it stopped; ``TrainSettings.lr_decay`` multiplies
  it by a cosine decay to zero over the last part of the steps (:func:`restoration.optim.schedule.decay_factor`).
* **Checkpoints** (``tf.train.CheckpointManager`` under ``ckpt_dir``, the newest two kept): calling again with
  the same directory resumes at the saved step with the same batches (``batches`` is a pure function of the
  step). A checkpoint is written only when every weight and optimiser slot is finite, and on resume the newest
  checkpoint that restores and is finite is used; the ones skipped are named in a warning.
* **NaN guard**: a NaN/inf objective or gradient raises :class:`restoration.errors.DivergenceError` *before*
  the update is applied, naming the step, the terms and the last checkpoint kept.
* **Logging**: ``log(name, value, step)`` receives ``"<term>/train_loss"`` every ``log_every`` steps and
  ``"<term>/heldout_loss"`` every ``eval_every`` steps, plus ``"<name>/..."`` for the weighted objective when
  it is more than one term; progress shows as a tqdm bar in a terminal, as plain lines in a log
  (:mod:`restoration.optim.progress`).

Package ``restoration.optim``: ``run_loop``, ``Objective``, ``TrainSettings``, ``TrainResult`` (this module),
:mod:`restoration.optim.schedule` (the one learning-rate ``Schedule``) and
:mod:`restoration.optim.progress` (progress lines for long loops).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from restoration.errors import DivergenceError
from restoration.optim.schedule import Schedule, check_decay, decay_factor

LogFn = Callable[[str, float, int], None]
BatchFn = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by every training mode (thesis: Adam 3e-4, batch 32, 3000 steps).

    ``lr_schedule``: ``((step, lr), ...)`` with increasing steps, the first at 0; empty = ``lr`` throughout.
    ``clip_value``: clip every gradient element to ``[-clip_value, clip_value]`` before the update (the
    thesis's score-matching priors use 1e-3); None = no clipping.
    ``lr_decay``: the fraction of ``steps``, at the end, over which the rate (``lr`` or ``lr_schedule``) falls to
    zero along a half cosine (:func:`restoration.optim.schedule.decay_factor`); 0 = none, the thesis code's
    constant Adam rate. The trained-inversion figures' quick profile sets it (config key ``lr_decay``): at a
    constant rate their last weights sit wherever Adam's noise left them, and the figures' PSNR varied by seed.
    """

    steps: int = 3000
    lr: float = 3e-4
    lr_schedule: tuple[tuple[int, float], ...] = ()
    log_every: int = 10
    eval_every: int = 100
    ckpt_every: int = 100
    progress: bool = True
    clip_value: float | None = None
    lr_decay: float = 0.0

    def __post_init__(self):
        for f in ("steps", "log_every", "eval_every", "ckpt_every"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"TrainSettings.{f} must be an int >= 1, got {v!r}")
        if (
            isinstance(self.lr, bool)
            or not isinstance(self.lr, (int, float))
            or not (self.lr > 0 and math.isfinite(self.lr))
        ):
            raise ValueError(f"TrainSettings.lr must be a positive finite number, got {self.lr!r}")
        if self.lr_schedule:
            try:
                sched = Schedule(self.lr_schedule).points
            except ValueError:
                raise ValueError(
                    f"TrainSettings.lr_schedule must be ((0, lr0), (s1, lr1), ...) with increasing "
                    f"steps and positive rates, got {self.lr_schedule!r}"
                ) from None
            object.__setattr__(self, "lr_schedule", sched)
        object.__setattr__(self, "lr_decay", check_decay(self.lr_decay))
        if self.clip_value is not None and not (isinstance(self.clip_value, (int, float)) and self.clip_value > 0):
            raise ValueError(f"TrainSettings.clip_value must be a positive number or None, got {self.clip_value!r}")

    def lr_at(self, step: int) -> float:
        """The learning rate used for the update at ``step`` (0-based)."""
        return self.schedule(step) * decay_factor(step, self.steps, self.lr_decay)

    @property
    def schedule(self) -> Schedule:
        """``lr_schedule`` as a :class:`Schedule` (``lr`` throughout when it is empty)."""
        return Schedule(self.lr_schedule) if self.lr_schedule else Schedule.of(self.lr)

    def describe(self) -> str:
        tail = f", cosine decay to 0 over the last {self.lr_decay:.0%}" if self.lr_decay else ""
        return f"{self.steps} Adam steps (lr {self.schedule.describe()}{tail})"


@dataclass
class TrainResult:
    """Outcome of one training loop.

    ``train_loss``/``heldout_loss`` map each term (and the objective's name when there are several terms) to
    the last logged value; ``start_step`` is where this call began (> 0 after a resume), ``steps`` the final
    step; ``skipped`` lists checkpoints that could not be used on resume.
    """

    name: str
    steps: int
    start_step: int
    train_loss: dict[str, float]
    heldout_loss: dict[str, float]
    ckpt_dir: str | None
    skipped: list[str] = field(default_factory=list)


def _learning_rate(settings: TrainSettings):
    return settings.schedule.keras(steps=settings.steps, decay=settings.lr_decay)


def _all_finite(values) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(v)))) for v in values)


def _restore(ckpt, manager, check: Callable[[], bool]) -> list[str]:
    """Restore the newest usable checkpoint of ``manager``: one that reads back and passes ``check`` (finite
    weights). Returns the paths skipped; with none usable the objects keep their fresh values."""
    skipped = []
    for path in reversed(manager.checkpoints):
        try:
            ckpt.restore(path).assert_existing_objects_matched()
        except Exception as e:  # noqa: BLE001 - a truncated or overwritten file raises many types
            skipped.append(f"{path} (unreadable: {type(e).__name__}: {str(e).splitlines()[0][:120]})")
            continue
        if not check():
            skipped.append(f"{path} (holds NaN/inf)")
            continue
        return skipped
    return skipped


@dataclass
class Objective:
    """What :func:`run_loop` minimises: ``sum_j coefficients[j] * loss_fn(batch)[j]`` over ``variables``.

    ``loss_fn`` maps a batch tensor to one scalar loss per entry of ``terms`` (traced by ``tf.function``); a
    coefficient of 0 logs a term without training on it. ``trackables`` are saved in checkpoints besides the
    optimiser (e.g. ``{"module_DC1": layer}``).
    """

    name: str
    loss_fn: Callable
    variables: Sequence
    terms: Sequence[str]
    coefficients: Sequence[float]
    trackables: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self):
        self.terms, self.variables = list(self.terms), list(self.variables)
        self.coefficients = [float(c) for c in self.coefficients]
        if len(self.terms) != len(self.coefficients):
            raise ValueError(f"{self.name}: {len(self.terms)} terms but {len(self.coefficients)} coefficients")

    @property
    def reports_total(self) -> bool:
        """Whether the weighted total is logged under the objective's name (more than one term, or a weight)."""
        return not (len(self.terms) == 1 and self.coefficients == [1.0])

    def named(self, values: Sequence[float], total: float) -> dict[str, float]:
        """``{term: value}``, plus ``{name: total}`` when :attr:`reports_total`."""
        out = dict(zip(self.terms, values))
        if self.reports_total:
            out[self.name] = total
        return out


class _LoopState:
    """The optimiser and the loop's counters, which checkpoints hold with the objective's trackables."""

    def __init__(self, objective: Objective, settings: TrainSettings):
        import keras
        import tensorflow as tf

        self.objective = objective
        self.optimizer = keras.optimizers.Adam(learning_rate=_learning_rate(settings))
        self.optimizer.build(objective.variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.last = tf.Variable(
            tf.fill([len(objective.terms) + 1], np.nan), dtype=tf.float32, trainable=False, name="last_loss"
        )

    @property
    def tensors(self) -> list:
        return list(self.objective.variables) + list(self.optimizer.variables)

    def finite(self) -> bool:
        return _all_finite(v.numpy() for v in self.tensors)

    def checkpoint_manager(self, ckpt_dir: Path):
        import tensorflow as tf

        ckpt = tf.train.Checkpoint(
            step=self.step, optimizer=self.optimizer, last_loss=self.last, **dict(self.objective.trackables)
        )
        return ckpt, tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=2)

    def resume(self, ckpt_dir: Path):
        """The checkpoint manager of ``ckpt_dir`` after restoring its newest usable checkpoint (or starting afresh
        when none is usable), and the checkpoints skipped (warned)."""
        ckpt, manager = self.checkpoint_manager(ckpt_dir)
        if not manager.checkpoints:
            return manager, []
        fresh = [v.numpy() for v in self.tensors]
        skipped = _restore(ckpt, manager, self.finite)
        if skipped:
            if len(skipped) == len(manager.checkpoints):  # nothing usable: start over from the fresh state
                for v, value in zip(self.tensors, fresh):
                    v.assign(value)
                self.step.assign(0)
                self.last.assign(np.full(len(self.objective.terms) + 1, np.nan, np.float32))
            at = int(self.step.numpy())
            warnings.warn(
                f"{self.objective.name}: skipped checkpoint(s) {'; '.join(skipped)}; "
                f"{f'resuming from step {at}' if at else 'starting afresh'}"
            )
        return manager, skipped

    def resumed_train_loss(self) -> dict[str, float]:
        """The last logged training losses a checkpoint carried (empty at step 0 or when they are not finite)."""
        values = self.last.numpy()
        if int(self.step.numpy()) == 0 or not np.all(np.isfinite(values)):
            return {}
        return self.objective.named(values.tolist()[:-1], values.tolist()[-1])


def _train_step(objective: Objective, optimizer, weights, probe: np.ndarray, clip: float | None):
    """The traced train step: the objective, its gradient, the update applied only when both are finite."""
    import tensorflow as tf

    variables = objective.variables

    @tf.function(input_signature=[tf.TensorSpec(probe.shape, tf.float32)])
    def train_step(batch):
        with tf.GradientTape() as tape:
            losses = tf.stack(list(objective.loss_fn(batch)))
            total = tf.reduce_sum(weights * losses)
        grads = tape.gradient(total, variables)
        finite = tf.math.is_finite(total)
        for g in grads:
            if g is not None:
                finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(g)))

        def apply():
            clipped = grads if clip is None else [g if g is None else tf.clip_by_value(g, -clip, clip) for g in grads]
            optimizer.apply_gradients(zip(clipped, variables))
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        return total, losses, finite

    return train_step


def _evaluator(objective: Objective, weights, heldout: np.ndarray, eval_batch: int, log: LogFn | None):
    """``step -> {term: held-out loss}`` (logged as ``<term>/heldout_loss``), in chunks of ``eval_batch``."""
    import tensorflow as tf

    def held_out_losses(batch):
        losses = tf.stack(list(objective.loss_fn(batch)))
        return tf.reduce_sum(weights * losses), losses

    eval_step = tf.function(held_out_losses, input_signature=[tf.TensorSpec((None,) + heldout.shape[1:], tf.float32)])

    def evaluate(step: int) -> dict[str, float]:
        totals, per = [], []
        for b in range(0, len(heldout), eval_batch):
            chunk = heldout[b : b + eval_batch]
            t, l = eval_step(chunk)
            totals.append(float(t) * len(chunk))
            per.append(l.numpy() * len(chunk))
        out = objective.named((np.sum(per, axis=0) / len(heldout)).tolist(), sum(totals) / len(heldout))
        if log is not None:
            for k, v in out.items():
                log(f"{k}/heldout_loss", float(v), step)
        return out

    return evaluate


def _diverged(name: str, step: int, total: float, terms, losses, manager) -> DivergenceError:
    kept = manager.latest_checkpoint if manager is not None else None
    return DivergenceError(
        f"training {name!r} diverged at step {step}: the objective ({total!r}; terms {terms} = "
        f"{losses.numpy().tolist()}) or its gradient is NaN/inf. The update was not applied; last "
        f"checkpoint (finite): {kept or 'none written yet'}. Lower the learning rate or check the "
        f"inputs."
    )


def run_loop(
    objective: Objective,
    batches: BatchFn,
    settings: TrainSettings,
    *,
    heldout: np.ndarray | None = None,
    ckpt_dir=None,
    log: LogFn | None = None,
    eval_batch: int = 8,
) -> TrainResult:
    """Train ``objective.variables`` on the objective (see :class:`Objective` and the module docstring).

    Parameters
    ----------
    objective : Objective
        The loss terms, their weights and what the optimiser updates.
    batches : callable
        ``step -> array``: the training batch of ``step``, a pure function of it (resume needs that).
    settings : TrainSettings
        Steps, learning rate (schedule), logging, evaluation and checkpoint cadence, clipping, progress.
    heldout : ndarray, optional
        Held-out examples, scored with ``loss_fn`` every ``eval_every`` steps and at the end.
    ckpt_dir : path, optional
        Checkpoint directory; the newest usable checkpoint there is restored and training continues from it.
    log : callable, optional
        ``log(metric_name, value, step)``.
    """
    import tensorflow as tf
    from restoration.optim.progress import progress

    name, terms = objective.name, objective.terms
    weights = tf.constant(objective.coefficients, tf.float32)
    state = _LoopState(objective, settings)
    manager, skipped = None, []
    if ckpt_dir is not None:
        ckpt_dir = Path(ckpt_dir)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        manager, skipped = state.resume(ckpt_dir)

    probe = np.asarray(batches(0), np.float32)
    clip = None if settings.clip_value is None else float(settings.clip_value)
    train_step = _train_step(objective, state.optimizer, weights, probe, clip)
    evaluate = None
    if heldout is not None:
        evaluate = _evaluator(objective, weights, np.asarray(heldout, np.float32), eval_batch, log)

    # From here the loop stays linear on purpose (as big_vision's trainer): step, guard, log, evaluate, checkpoint,
    # in the order a reader checks them; the pieces it calls are above.
    start = int(state.step.numpy())
    train_loss: dict[str, float] = state.resumed_train_loss()
    heldout_loss: dict[str, float] = {}
    bar = progress(
        total=settings.steps,
        initial=min(start, settings.steps),
        desc=name,
        enabled=settings.progress,
        mininterval=2.0,
        leave=False,
    )
    try:
        for step in range(start, settings.steps):
            batch = probe if step == 0 else np.asarray(batches(step), np.float32)
            total, losses, finite = train_step(batch)
            total_v = float(total)
            if not bool(finite):
                raise _diverged(name, step, total_v, terms, losses, manager)
            values = losses.numpy().tolist()
            state.last.assign(np.array(values + [total_v], np.float32))
            state.step.assign(step + 1)
            bar.update(1)
            done = step + 1
            if done % settings.log_every == 0 or done == settings.steps:
                train_loss = objective.named(values, total_v)
                if log is not None:
                    for k, v in train_loss.items():
                        log(f"{k}/train_loss", float(v), done)
                bar.set_postfix(loss=f"{total_v:.4g}")
            if evaluate is not None and (done % settings.eval_every == 0 or done == settings.steps):
                heldout_loss = evaluate(done)
            if manager is not None and (done % settings.ckpt_every == 0 or done == settings.steps):
                if not state.finite():
                    raise DivergenceError(
                        f"training {name!r}: after step {done} a weight or optimiser slot is NaN/inf although the "
                        f"loss was finite; no checkpoint was written. Last checkpoint (finite): "
                        f"{manager.latest_checkpoint or 'none written yet'}. Lower the learning rate."
                    )
                manager.save(checkpoint_number=done)
    finally:
        bar.close()
    if evaluate is not None and not heldout_loss:
        heldout_loss = evaluate(max(start, settings.steps))
    end = max(start, settings.steps)
    return TrainResult(
        name, end, start, train_loss, heldout_loss, str(ckpt_dir) if ckpt_dir is not None else None, skipped
    )
