"""Training and scoring one stack of a trained-inversion figure: the stack built from its chain, trained in the
figure's mode (separately trained modules reused from, and stored into, the module store), scored on held-out
images. The trained-inversion family, the leave-one-out check and the benchmark's trained cells share it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from restoration import tracking


@dataclass(frozen=True)
class StackData:
    """What a stack trains and is scored on: the net, its training batches (``data.crop_batches``), the held-out
    images ``[(name, float32 (S, S, 3))]`` and, when the caller has it, the same images as one array."""

    fnet: object
    batches: object
    held: list
    heldout: object = None

    def heldout_array(self):
        import numpy as np

        return self.heldout if self.heldout is not None else np.stack([im for _, im in self.held])


@dataclass
class StackOutcome:
    """What training and scoring one stack produced."""

    label: str
    stack: object
    evaluation: object
    train_loss: dict
    origin: dict  # module -> "this run" | "reused: trained by run N (figNN)"
    resumed: dict  # training step -> start step, for resumed loops
    extra: dict = field(default_factory=dict)  # label -> Evaluation (depths, before fine-tuning)


def _store_hooks(store, stack, on: StackData, per_settings, c, stamp: dict, fine_tuned=False):
    """``skip``/``done`` callbacks for train_stack: reuse stored modules, store freshly trained ones (their meta
    starts with ``stamp``: the experiment and the run)."""
    import datetime as dt

    from restoration.stacks.store import ModuleStore
    from restoration.optim import TrainResult

    origin, keys = {}, {}

    def key(i):
        if i not in keys:
            keys[i] = ModuleStore.key(
                net_digest=on.fnet.digest(),
                spec=stack.specs[i],
                data_fingerprint=on.batches.fingerprint(),
                settings=per_settings[i],
                seed=c.seed,
            )
        return keys[i]

    def skip(i):
        if store is None or not c.reuse_modules:
            return None
        entry = store.load(key(i))
        if entry is None:
            return None
        name = stack.specs[i].name
        try:
            stack.set_module_arrays(name, entry.arrays)
        except ValueError:
            return None
        meta = entry.meta
        origin[name] = f"reused: trained by run {meta.get('run_id', '?')} ({meta.get('experiment', '?')})" + (
            ", fine-tuned in this run" if fine_tuned else ""
        )
        steps = per_settings[i].steps
        return TrainResult(name, steps, steps, dict(meta.get("train_loss") or {}), {}, None)

    def done(i, result):
        if store is None:
            return
        arrays = [w.numpy() for w in stack.models[i].weights]
        store.save(
            key(i),
            stack.specs[i],
            arrays,
            {
                **stamp,
                "created": dt.datetime.now().isoformat(timespec="seconds"),
                "steps": result.steps,
                "train_loss": result.train_loss,
                "heldout_loss": result.heldout_loss,
            },
        )

    return skip, done, origin


def train_and_score(label: str, chain, fig, c, on: StackData, log, run_id) -> StackOutcome:
    """Build the stack of ``chain`` (a :class:`Chain`) for ``on.fnet``, train it in ``fig``'s mode with the
    settings of ``c`` (a ``RunConfig``), score it on the held-out images."""
    from pathlib import Path

    from restoration import stacks
    from restoration.stacks import reconstruction
    from restoration.stacks import training as stack_training
    from restoration.stacks.store import ModuleStore

    fnet, batches, held, heldout_arr = on.fnet, on.batches, on.held, on.heldout_array()
    stack = stacks.InversionStack.for_net(
        fnet, chain.specs(fnet), seed=c.seed, meta={"experiment": fig.id, "mode": fig.mode, "stack": label}
    )
    unknown = set(c.module_steps) - {s.name for s in stack.specs}
    if unknown:
        raise ValueError(
            f"config module_steps names {sorted(unknown)}, which are not modules of {fig.id} "
            f"({[s.name for s in stack.specs]})"
        )
    per = [c.settings(c.module_steps.get(s.name)) for s in stack.specs]
    ckpt_dir = Path(tracking.checkpoint_dir(fig.id, dataclasses.asdict(c))) / (label or "stack")
    store = ModuleStore(tracking.runs_dir() / "modules")
    stamp = {"experiment": fig.id, "run_id": run_id}
    skip, done, origin = _store_hooks(store, stack, on, per, c, stamp, fine_tuned=fig.mode == "merged")
    extra, resumed = {}, {}
    common = dict(heldout=heldout_arr, ckpt_dir=ckpt_dir, log=log)
    if fig.mode == "stacked":
        results = stack_training.train_stack(fnet, stack, batches, per, skip=skip, done=done, **common)
        train_loss = {k: r.train_loss.get(k) for k, r in results.items()}
        resumed = {k: r.start_step for k, r in results.items() if 0 < r.start_step < r.steps}
    elif fig.mode == "merged":

        def before():
            extra["before fine-tuning"] = reconstruction.evaluate(fnet, stack, held, losses=False)

        results, tuned = stack_training.train_merged(
            fnet, stack, batches, per, c.finetune_settings(), skip=skip, done=done, before_finetune=before, **common
        )
        train_loss = {k: tuned.train_loss.get(k) for k in results}
        resumed = {k: r.start_step for k, r in {**results, "fine-tuning": tuned}.items() if 0 < r.start_step < r.steps}
    else:
        train = stack_training.train_end_to_end if fig.mode == "end_to_end" else stack_training.train_joint
        result = train(fnet, stack, batches, c.settings(), **common)
        train_loss = result.train_loss
        resumed = {result.name: result.start_step} if result.start_step > 0 else {}
    if fig.depth:
        extra.update(reconstruction.evaluate_depths(fnet, stack, held))
    ev = reconstruction.evaluate(fnet, stack, held)
    return StackOutcome(label, stack, ev, train_loss, origin, resumed, extra)
