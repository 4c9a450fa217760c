"""The report side of a trained-inversion run: its artifacts (modules, scores, figures) and the payload's figures,
tables, summary and text, built as named steps from what training and scoring produced (:class:`TrainedRun`)."""

from __future__ import annotations

from dataclasses import dataclass

from restoration import tracking
from restoration_experiments._steps import PayloadParts
from restoration_experiments._train_stacks import StackData

MODE_TEXT = {
    "stacked": "Each module was trained alone on true activations of the net (its input and its target computed "
    "from the same image), {training}, MSE loss on its own target; then the modules were chained "
    "and fed held-out {top} activations.",
    "end_to_end": "The chain was trained at once from true {top} activations, {training}, with the MSE loss only "
    "on the reconstructed image; the intermediate modules' errors against the true intermediate "
    "representations are logged for comparison but carry no gradient.",
    "joint": "The chain was trained at once from scratch on the sum of every module's MSE on its own target, each "
    "module taking the previous module's reconstruction as input (the thesis's May form of joint "
    "training), {training}.",
    "merged": "The modules were first trained separately (as in stacked mode, {training}), then fine-tuned "
    "together on the sum of every module's MSE on its own target, each taking the previous module's "
    "reconstruction as input, {finetune} (the thesis's final 'merged' form).",
}


@dataclass
class TrainedRun:
    """One trained-inversion run after training: the figure, its ``RunConfig``, what the stacks trained and were
    scored on, the training photos, one :class:`~restoration_experiments._train_stacks.StackOutcome` per stack,
    the logged curves and the seconds it took."""

    fig: object
    c: object
    on: StackData
    train: list
    outcomes: list
    curves: dict
    seconds: float

    @property
    def many(self) -> bool:
        return len(self.outcomes) > 1


def payload(_run, r: TrainedRun):
    """Store the run's artifacts and figures; return its payload."""
    from restoration.contract.payload import Comparability, Payload

    parts = PayloadParts()
    _module_artifacts(_run, r, parts)
    show = _shown(r.outcomes[0].evaluation, r.c.rows)
    _rows(_run, r, show, parts)
    for o in r.outcomes:  # depth and before/after comparisons within one stack
        if o.extra:
            _within_stack(_run, r, o, show, parts)
    _curves(_run, r, parts)
    return Payload(
        title=r.fig.title,
        net=r.on.fnet.weights_label,
        summary=parts.summary,
        paragraphs=_paragraphs(r),
        figures=parts.figures,
        tables=parts.tables,
        variant=variant_text(r.fig, r.c),
        scores=parts.scores,
        comparable=Comparability(variants=",".join(sorted(r.fig.variants))),
    )


def _module_artifacts(_run, r: TrainedRun, parts: PayloadParts) -> None:
    """Each stack's modules (weights and spec), summary, per-image scores and module table; all scores as JSON."""
    from restoration_reports.tables.stacks import module_table, scores_of, summary_of

    fig_id, many = r.fig.id, r.many
    for o in r.outcomes:
        suffix = f"_{_slug(o.label)}" if many else ""
        tracking.add_npz(_run, f"{fig_id}{suffix}_modules.npz", **o.stack.weight_arrays())
        tracking.add_json(_run, o.stack.to_json_dict(), f"{fig_id}{suffix}_modules.json")
        parts.summary.update(summary_of(o.evaluation, o.label if many else ""))
        parts.scores[o.label if many else ""] = scores_of(o.evaluation)
        parts.tables.append(module_table(o.stack, o.evaluation, o.train_loss, o.origin))
        if many:
            parts.tables[-1].title += f" — stack from {o.label}"
    tracking.add_json(
        _run,
        {
            o.label or "stack": {
                "names": o.evaluation.names,
                **o.evaluation.scores,
                **{f"{k} ({lab})": v for lab, e in o.extra.items() for k, v in e.scores.items()},
            }
            for o in r.outcomes
        },
        f"{fig_id}_scores.json",
    )


def _shown(ev, rows: int):
    """The held-out images shown in the figures: ``rows`` of them, evenly spaced."""
    import numpy as np

    return np.unique(np.linspace(0, len(ev.names) - 1, min(rows, len(ev.names))).round().astype(int))


def _rows(_run, r: TrainedRun, show, parts: PayloadParts) -> None:
    """The rows figure (one stack: image, reconstruction, error maps; several: one column per stack) and the
    held-out quality tables."""
    from restoration.contract.payload import FigureRef
    from restoration_reports import plots
    from restoration_reports.tables.stacks import comparison_table, numbers_table

    fig, outcomes = r.fig, r.outcomes
    ev = outcomes[0].evaluation
    if r.many:
        grid = [[ev.images[i]] + [o.evaluation.reconstructions[i] for o in outcomes] for i in show]
        tracking.add_figure(
            _run,
            plots.image_grid(
                grid,
                row_labels=[ev.names[i] for i in show],
                col_labels=["image"] + [f"from {o.label}" for o in outcomes],
            ),
            f"{fig.id}_rows.png",
        )
        parts.tables.append(
            comparison_table(
                {f"from {o.label}": o.evaluation for o in outcomes},
                "Held-out quality by starting layer",
                "reconstruction",
            )
        )
        for o in outcomes:
            parts.tables.append(numbers_table(o.evaluation, f"Held-out reconstruction quality from {o.label}"))
    else:
        tracking.add_figure(
            _run,
            plots.error_map_rows(ev.images[show], ev.reconstructions[show], titles=[ev.names[i] for i in show]),
            f"{fig.id}_rows.png",
        )
        parts.tables.append(numbers_table(ev))
    parts.figures.append(FigureRef(f"{fig.id}_rows.png", fig.rows_caption or _rows_caption(fig, outcomes[0])))


def _within_stack(_run, r: TrainedRun, o, show, parts: PayloadParts) -> None:
    """One stack's extra evaluations: its sub-stacks by depth (a figure that asks for depth), or its modules
    before and after fine-tuning together (merged mode)."""
    from restoration_reports.tables.stacks import comparison_table, scores_of, summary_of

    for label, e in o.extra.items():
        if label != o.stack.in_layer:  # the full stack's numbers are the unqualified ones
            parts.summary.update(summary_of(e, label))
            parts.scores[label] = scores_of(e)
    labelled = {label: e for label, e in o.extra.items()}
    if r.fig.depth:
        _by_depth(_run, r, dict(sorted(labelled.items(), key=lambda kv: r.on.fnet.depth(kv[0]))), show, parts)
    else:
        labelled["after fine-tuning"] = o.evaluation
        parts.tables.append(
            comparison_table(
                labelled,
                "Held-out quality before and after fine-tuning the separately trained modules together",
                "modules",
            )
        )


def _by_depth(_run, r: TrainedRun, labelled: dict, show, parts: PayloadParts) -> None:
    """Sub-stacks of the same modules, by the depth they start at: a table, a trend figure and an image grid."""
    from restoration.contract.payload import FigureRef
    from restoration_reports import plots
    from restoration_reports.tables.stacks import comparison_table

    fig_id, ev = r.fig.id, r.outcomes[0].evaluation
    parts.tables.append(
        comparison_table(labelled, "Held-out quality by depth (sub-stacks of the same trained modules)", "from")
    )
    trend = plots.measure_trend(
        list(labelled),
        {
            "PSNR, mean (dB)": [e.summary["psnr_mean"] for e in labelled.values()],
            "SSIM, mean": [e.summary["ssim_mean"] for e in labelled.values()],
            "normalised error, mean": [e.summary["nerr_mean"] for e in labelled.values()],
        },
        xlabel="reconstructed from",
    )
    tracking.add_figure(_run, trend, f"{fig_id}_depth.png")
    grid = [[ev.images[i]] + [e.reconstructions[i] for e in labelled.values()] for i in show]
    tracking.add_figure(
        _run,
        plots.image_grid(
            grid, row_labels=[ev.names[i] for i in show], col_labels=["image"] + [f"from {k}" for k in labelled]
        ),
        f"{fig_id}_depth_grid.png",
    )
    parts.figures += [
        FigureRef(
            f"{fig_id}_depth.png",
            "Reconstruction quality by depth: held-out means from "
            + ", ".join(labelled)
            + ", each through the sub-stack of the same separately "
            "trained modules that starts there.",
        ),
        FigureRef(f"{fig_id}_depth_grid.png", "Held-out images and their reconstructions from each depth."),
    ]


def _curves(_run, r: TrainedRun, parts: PayloadParts) -> None:
    """The run's own loss figure (train and held-out MSE per module and objective), so the report draws none."""
    from restoration.contract.payload import FigureRef
    from restoration_reports import plots

    if not r.curves:
        return
    caption = (
        "Train (faint: every logged step; solid: moving average) and held-out MSE of each module and "
        "objective against step."
    )
    if any(o.resumed for o in r.outcomes):
        caption += (
            " Curves start where this run resumed ("
            + "; ".join(f"{k} at step {v}" for o in r.outcomes for k, v in o.resumed.items())
            + "); earlier steps were logged by the interrupted run."
        )
    fig_id = r.fig.id
    tracking.add_figure(
        _run, plots.loss_curves(_panels(r.curves), title=f"{fig_id} training losses"), f"{fig_id}_losses.png"
    )
    parts.figures.append(FigureRef(f"{fig_id}_losses.png", caption, kind="curves"))


def _panels(curves: dict) -> dict:
    """``{"DC3/train_loss": xy, "DC3/heldout_loss": xy}`` -> ``{"DC3": {"train": xy, "held-out": xy}}``."""
    panels: dict = {}
    for name, xy in curves.items():
        head, _, kind = name.rpartition("/")
        label = {"train_loss": "train", "heldout_loss": "held-out"}.get(kind)
        if label is None:
            head, label = name, name
        panels.setdefault(head, {})[label] = xy
    return panels


def _slug(text: str) -> str:
    """A label as part of an artifact name."""
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")


def _rows_caption(fig, outcome) -> str:
    top = outcome.stack.in_layer
    return (
        f"Held-out images | reconstruction from {top} ({fig.mode.replace('_', ' ')}) | colour error | "
        f"absolute error (each error map renormalised to [0, 1])."
    )


def variant_text(fig, c) -> str:
    """The variant line of the payload: the variant, whether it is the default, its chains' labels."""
    chains = fig.variants[c.variant]
    labels = "; ".join(ch.label for ch in chains.values() if ch.label)
    default = " (default)" if c.variant == fig.default_variant else ""
    return f"{c.variant}{default}" + (f": {labels}" if labels else "")


def _paragraphs(r: TrainedRun) -> list[str]:
    """The figure's text: what it shows, its modules, how they were trained, reuse, data and time, notes."""
    fig, c, fnet, outcomes, batches, train, held, t_total = (
        r.fig,
        r.c,
        r.on.fnet,
        r.outcomes,
        r.on.batches,
        r.train,
        r.on.held,
        r.seconds,
    )
    first = outcomes[0]
    training = f"{c.settings().describe()} on {batches.describe()}"
    if c.module_steps:
        training += f" ({', '.join(f'{k}: {v} steps' for k, v in c.module_steps.items())})"
    finetune = c.finetune_settings().describe()
    paras = [fig.what]
    for o in outcomes:
        head = f"Stack from {o.label}: " if len(outcomes) > 1 else "Modules, deepest first: "
        paras.append(head + "; ".join(s.describe() for s in o.stack.specs) + ".")
    paras.append(MODE_TEXT[fig.mode].format(training=training, finetune=finetune, top=first.stack.in_layer))
    reused = {k: v for o in outcomes for k, v in o.origin.items()}
    if reused:
        paras.append(
            "Reused from the module store (an identical separate training had already run: same net, "
            "spec, data, settings and seed): "
            + "; ".join(f"{k} {v[len('reused: ') :]}" for k, v in reused.items())
            + "."
        )
    resumed = {k: v for o in outcomes for k, v in o.resumed.items()}
    paras.append(
        f"Profile '{c.profile}', variant {variant_text(fig, c)}; net {fnet.name} ({fnet.weights_label}); "
        f"training images: {'embedded scikit-image photos' if c.image_dir is None else c.image_dir} "
        f"({len(train)}); held-out: {len(held)} images of {c.eval_size} px. Set-up, training and evaluation took "
        f"{t_total:.0f} s" + (f"; resumed from checkpoints ({resumed})" if resumed else "") + "."
    )
    paras.append(fig.thesis_note)
    paras.append(
        "Image MSE/PSNR/SSIM are on RGB in [0, 255] with the reconstruction clipped; the normalised error "
        "is ||x - x0||^2 / ||x0||^2 in pixel space (Mahendran & Vedaldi's definition; the thesis code "
        "divided by sum(x0 * x))."
    )
    return [p for p in paras if p]
