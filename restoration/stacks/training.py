"""How an inversion stack is trained (thesis Ch. 4): four modes on the one loop of :mod:`restoration.optim`.

* **stacked** (:func:`train_stack`; thesis Figs. 4, 6-10): every module is trained alone on *true* activations of
  the net (input ``phi_in(x)``, target ``phi_out(x)`` of the same image), then the trained modules are chained.
  A module's result depends only on its own spec, the data and the settings, never on its neighbours.
* **end to end** (:func:`train_end_to_end`; Fig. 5): the chain trained at once from the deepest representation,
  loss on the final output only; intermediate modules' errors are logged but carry no gradient.
* **joint** (:func:`train_joint`; Fig. 3, the thesis's May form): the chain trained at once *from scratch* on
  the sum of every module's loss on its own target, each module taking the previous one's reconstruction as
  input.
* **merged** (:func:`train_merged`; the thesis's final form, ``cnn_inv_script.py``): separately trained modules
  (stacked mode) fine-tuned together on that summed loss, with a small decaying learning rate (thesis: 3e-6,
  1e-6 from step 1000, 3e-7 from 2000; 3000 steps, batch 32).

Loss: mean squared error on the target representation, averaged over batch, height, width and channels, in its
own units (raw activations; for the image, the net's normalised BGR input ``bgr - mean`` in [0, 255] pixel units,
so the image loss is the pixel MSE). This is the thesis's ``tf.losses.mean_squared_error``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from restoration.stacks import InversionStack, is_input
from restoration.optim import BatchFn, LogFn, Objective, TrainResult, TrainSettings, run_loop

MODES = ("stacked", "end_to_end", "joint", "merged")

#: The thesis's fine-tuning schedule for merged stacks (``cnn_inv_script.py``).
MERGED_SCHEDULE = ((0, 3e-6), (1000, 1e-6), (2000, 3e-7))


def true_features(net, x_bgr, layers) -> dict:
    """True representations for ``layers`` (input names map to ``x_bgr`` itself), without gradient."""
    import tensorflow as tf

    layers = sorted(set(layers))
    wanted = [l for l in layers if not is_input(l)]
    feats = dict(net.features(x_bgr, wanted)) if wanted else {}
    out = {l: tf.stop_gradient(feats[l]) for l in wanted}
    for l in layers:
        if is_input(l):
            out[l] = x_bgr
    return out


def module_losses(net, stack: InversionStack, rgb, indices: Sequence[int], *, chained: bool) -> list:
    """Per-module MSE for modules ``indices`` (ascending, contiguous when chained) on an RGB batch.

    ``chained=False``: each module gets the true ``phi_in``. ``chained=True``: the first gets the true
    representation, each later one the previous module's output. Every module is told its target's size.
    Returns a list of scalar tensors.
    """
    import tensorflow as tf

    x_bgr = net.preprocess(rgb)
    layers = {stack.specs[i].out_layer for i in indices} | {stack.specs[i].in_layer for i in indices}
    feats = true_features(net, x_bgr, layers)
    losses, h = [], None
    for j, i in enumerate(indices):
        spec = stack.specs[i]
        target = feats[spec.out_layer]
        inp = h if (chained and j > 0) else feats[spec.in_layer]
        h = stack.models[i](inp, out_hw=tuple(int(d) for d in target.shape[1:3]))
        losses.append(tf.reduce_mean(tf.square(h - target)))
    return losses


def check_image_size(net, stack: InversionStack, hw: tuple[int, int], what: str = "training crops") -> None:
    """Refuse images too small for the net's VALID windows on the way to the stack's input layer."""
    try:
        net.layer_hw(stack.in_layer, hw) if not is_input(stack.in_layer) else hw
    except ValueError as e:
        raise ValueError(
            f"{what} of {tuple(hw)} px are too small to reach {stack.in_layer} ({e}); use larger crops"
        ) from e


def _loop(
    name: str,
    net,
    stack: InversionStack,
    indices: Sequence[int],
    *,
    chained: bool,
    coefficients: Sequence[float],
    batches: BatchFn,
    settings: TrainSettings,
    heldout,
    ckpt_dir,
    log: LogFn | None,
) -> TrainResult:
    indices = list(indices)
    probe = np.asarray(batches(0))
    if probe.ndim != 4 or probe.shape[-1] != 3:
        raise ValueError(f"batches(step) must return (N, H, W, 3) RGB arrays, got shape {probe.shape}")
    check_image_size(net, stack, probe.shape[1:3])
    if heldout is not None:
        check_image_size(net, stack, np.shape(heldout)[1:3], "held-out images")

    def loss_fn(rgb):
        return module_losses(net, stack, rgb, indices, chained=chained)

    variables = [v for i in indices for v in stack.models[i].trainable_variables]
    trackables = {f"module_{stack.specs[i].name}": stack.models[i] for i in indices}
    objective = Objective(name, loss_fn, variables, [stack.specs[i].name for i in indices], coefficients, trackables)
    return run_loop(objective, batches, settings, heldout=heldout, ckpt_dir=ckpt_dir, log=log)


def train_module(
    net,
    stack: InversionStack,
    name: str,
    batches: BatchFn,
    settings: TrainSettings,
    *,
    heldout: np.ndarray | None = None,
    ckpt_dir=None,
    log: LogFn | None = None,
) -> TrainResult:
    """Train module ``name`` of ``stack`` alone on true activations: ``phi_in(x) -> phi_out(x)``.

    ``batches``: ``step -> (B, S, S, 3)`` float32 RGB [0, 255]; ``heldout``: (N, S', S', 3) RGB for the
    held-out loss; ``ckpt_dir``: an existing checkpoint there is restored and training continues at its step.
    """
    return _loop(
        name,
        net,
        stack,
        [stack.index(name)],
        chained=False,
        coefficients=[1.0],
        batches=batches,
        settings=settings,
        heldout=heldout,
        ckpt_dir=ckpt_dir,
        log=log,
    )


def train_stack(
    net,
    stack: InversionStack,
    batches: BatchFn,
    settings: TrainSettings | Sequence[TrainSettings],
    *,
    heldout: np.ndarray | None = None,
    ckpt_dir=None,
    log: LogFn | None = None,
    skip: Callable[[int], TrainResult | None] | None = None,
    done: Callable[[int, TrainResult], None] | None = None,
) -> dict[str, TrainResult]:
    """Train every module on its own operation (thesis Fig. 6), one after another, deepest first.

    ``settings`` is one :class:`TrainSettings` for all or one per module (the thesis gave VGG16's block-3
    modules 5000 steps, the rest 3000). Each module gets its own checkpoint subdirectory ``ckpt_dir/<module>``,
    so a killed run resumes inside the module it was training. ``skip(i)`` may return a result for module ``i``
    instead of training it (the caller has loaded trained weights); ``done(i, result)`` is called after each
    module is trained. Returns ``{module: TrainResult}``.
    """
    per = list(settings) if isinstance(settings, (list, tuple)) else [settings] * len(stack)
    if len(per) != len(stack):
        raise ValueError(f"{len(per)} settings for {len(stack)} modules")
    results = {}
    for i, spec in enumerate(stack.specs):
        reused = skip(i) if skip is not None else None
        if reused is not None:
            results[spec.name] = reused
            continue
        sub = Path(ckpt_dir) / spec.name if ckpt_dir is not None else None
        results[spec.name] = train_module(
            net, stack, spec.name, batches, per[i], heldout=heldout, ckpt_dir=sub, log=log
        )
        if done is not None:
            done(i, results[spec.name])
    return results


def train_end_to_end(
    net,
    stack: InversionStack,
    batches: BatchFn,
    settings: TrainSettings,
    *,
    heldout: np.ndarray | None = None,
    ckpt_dir=None,
    log: LogFn | None = None,
    name: str = "e2e",
) -> TrainResult:
    """Train the whole chain at once from ``stack.in_layer`` with the loss only on the final output (Fig. 5).

    The intermediate modules' MSEs against the true intermediate representations are logged (as
    ``"<module>/train_loss"``) but carry no gradient; the objective is logged as ``"<name>/train_loss"``.
    """
    n = len(stack)
    return _loop(
        name,
        net,
        stack,
        list(range(n)),
        chained=True,
        coefficients=[0.0] * (n - 1) + [1.0],
        batches=batches,
        settings=settings,
        heldout=heldout,
        ckpt_dir=ckpt_dir,
        log=log,
    )


def train_joint(
    net,
    stack: InversionStack,
    batches: BatchFn,
    settings: TrainSettings,
    *,
    heldout: np.ndarray | None = None,
    ckpt_dir=None,
    log: LogFn | None = None,
    name: str = "joint",
) -> TrainResult:
    """Train the chain at once on the sum of every module's MSE on its own target, each module fed the previous
    module's reconstruction (chained). From scratch this is the thesis's May form (Fig. 3); on trained modules
    it is the fine-tuning step of :func:`train_merged`."""
    n = len(stack)
    return _loop(
        name,
        net,
        stack,
        list(range(n)),
        chained=True,
        coefficients=[1.0] * n,
        batches=batches,
        settings=settings,
        heldout=heldout,
        ckpt_dir=ckpt_dir,
        log=log,
    )


def train_merged(
    net,
    stack: InversionStack,
    batches: BatchFn,
    solo: TrainSettings | Sequence[TrainSettings],
    finetune: TrainSettings,
    *,
    heldout: np.ndarray | None = None,
    ckpt_dir=None,
    log: LogFn | None = None,
    skip=None,
    done=None,
    before_finetune: Callable[[], None] | None = None,
) -> tuple[dict[str, TrainResult], TrainResult]:
    """The thesis's final joint form: :func:`train_stack` (``solo`` settings), then :func:`train_joint` on the
    trained modules with ``finetune`` settings (see :data:`MERGED_SCHEDULE`). ``before_finetune()`` runs between
    the two (e.g. to score the stack before fine-tuning); the fine-tuning's metrics are logged under
    ``"merged/..."``. Returns the per-module results and the fine-tuning's."""
    solo_results = train_stack(
        net, stack, batches, solo, heldout=heldout, ckpt_dir=ckpt_dir, log=log, skip=skip, done=done
    )
    if before_finetune is not None:
        before_finetune()
    sub = Path(ckpt_dir) / "merged" if ckpt_dir is not None else None
    tuned_log = None if log is None else (lambda metric, value, step: log(f"merged/{metric}", value, step))
    tuned = train_joint(net, stack, batches, finetune, heldout=heldout, ckpt_dir=sub, log=tuned_log, name="sum")
    return solo_results, tuned
