"""Body of the leave-one-out generalisation check (``loo_pool1``): one trained stack per held-out photo."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Mapping

from restoration_experiments._train_stacks import StackData, train_and_score
from restoration_experiments._trained_inversion import RunConfig, TrainedInversionFigure
from restoration_experiments import _steps as steps
from restoration_experiments._prior_common import image_ids, image_scores
from restoration import tracking


def _photos(c: RunConfig):
    from restoration import data

    if c.image_dir is None:
        return data.embedded_images("all")
    return data.folder_images(c.image_dir, size=c.image_size, limit=c.max_images)


@dataclass
class Folds:
    """One fold per photo: the photo, its reconstruction by the stack trained without it, its table row; the
    module trainings reused from the store; the last fold's batches and training-set size (for the text)."""

    names: list = field(default_factory=list)
    images: list = field(default_factory=list)
    recs: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    reused: int = 0
    batches: object = None
    n_train: int = 0


def run_leave_one_out(_run, cfg: Mapping, fig: TrainedInversionFigure) -> float:
    """For each photo: train the figure's stack on the others, reconstruct the photo whole at ``eval_size``.
    Returns the mean PSNR over photos."""
    import numpy as np

    from restoration import metrics, nets
    from restoration.stacks.reconstruction import Evaluation

    c = RunConfig.from_config(cfg, fig)
    t0 = time.time()
    fnet = nets.build(c.net, c.weights, seed=c.seed, precision=c.precision)
    photos = _photos(c)
    if len(photos) < 2:
        raise ValueError(f"leave-one-out needs at least two photos, got {len(photos)}")
    ((_, chain),) = fig.variants[c.variant].items()
    folds = _train_folds(_run, c, fig, fnet, photos, chain)
    scores = metrics.score_batch(np.stack(folds.images), np.stack(folds.recs))
    overall = Evaluation.of(folds.names, np.stack(folds.images), np.stack(folds.recs), scores)
    folds.rows.append(["mean"] + _row(overall.summary, "{}_mean"))
    _artifacts(_run, fig.id, folds, overall, scores)
    payload = _payload(fig, c, fnet, chain, folds, (overall, scores, time.time() - t0))
    steps.finish(_run, payload, tracking.checkpoint_dir(fig.id, dataclasses.asdict(c)))
    return float(overall.summary["psnr_mean"])


def _row(values, key: str = "{}") -> list:
    """PSNR, SSIM, normalised error and MSE of one row, rounded for the table."""
    return [round(float(values[key.format(m)]), r) for m, r in (("psnr", 2), ("ssim", 4), ("nerr", 5), ("mse", 2))]


def _train_folds(_run, c: RunConfig, fig, fnet, photos, chain) -> Folds:
    """Per photo: the stack trained on the others (stacked mode, module store), the photo's centre square
    reconstructed at ``eval_size``."""
    import numpy as np

    from restoration import data

    log_run = tracking.metric_logger(_run)
    folds = Folds()
    for k, (name, img) in enumerate(photos):
        train = [p for j, p in enumerate(photos) if j != k]
        held = [(name, data.center_crop_resize(img, c.eval_size).astype(np.float32))]
        folds.batches = c.crop_batches(train)
        folds.n_train = len(train)

        def log(metric, value, step, _name=name):
            log_run(f"without {_name}: {metric}", value, step)

        print(f"[loo] fold {k + 1}/{len(photos)}: training without {name}", flush=True)
        on = StackData(fnet, folds.batches, held)
        o = train_and_score(f"without_{name}", chain, fig, c, on, log, _run._id)
        folds.reused += len(o.origin)
        ev = o.evaluation
        folds.rows.append([name] + _row({m: ev.scores[m][0] for m in ("psnr", "ssim", "nerr", "mse")}))
        folds.images.append(ev.images[0])
        folds.recs.append(ev.reconstructions[0])
        folds.names.append(name)
        _run.log_scalar("loo/psnr", float(ev.scores["psnr"][0]), k + 1)
    return folds


def _artifacts(_run, fig_id: str, folds: Folds, overall, scores) -> None:
    from restoration_reports import plots

    tracking.add_json(_run, {"names": folds.names, **scores}, f"{fig_id}_scores.json")
    tracking.add_figure(
        _run, plots.error_map_rows(overall.images, overall.reconstructions, titles=folds.names), f"{fig_id}_rows.png"
    )


def _payload(fig, c: RunConfig, fnet, chain, folds: Folds, result):
    """The payload: the pooled summary, the text, the rows figure, the table and the per-photo scores."""
    import numpy as np

    from restoration.contract.payload import FigureRef, Payload, Table
    from restoration_reports.tables.stacks import summary_of

    overall, scores, t_total = result
    names, n_train = folds.names, folds.n_train
    worst = int(np.argmin(scores["psnr"]))
    spec_text = "; ".join(s.describe() for s in chain.specs(fnet))
    data_text = folds.batches.describe().replace(f"{n_train} images", f"the other {n_train} photos")
    return Payload(
        title=fig.title,
        net=fnet.weights_label,
        summary=summary_of(overall),
        paragraphs=[
            fig.what,
            f"Stack: {spec_text}. Each fold trains it in stacked mode with {c.settings().describe()} on "
            f"{data_text}, then reconstructs the left-out photo's centre square at {c.eval_size} px from its "
            f"{chain.top} activations.",
            f"Worst photo: {names[worst]} at {scores['psnr'][worst]:.2f} dB; mean {overall.summary['psnr_mean']:.2f} "
            f"dB over {len(names)} photos. {folds.reused} of {len(names) * len(chain.specs(fnet))} module trainings "
            f"were reused from the module store. Took {t_total:.0f} s.",
            fig.thesis_note,
        ],
        figures=[
            FigureRef(
                f"{fig.id}_rows.png",
                "Every photo, reconstructed by the stack trained without it "
                "(image | reconstruction | colour error | absolute error).",
            )
        ],
        tables=[
            Table(
                f"Leave-one-out reconstruction quality ({c.eval_size} px, RGB [0, 255], clipped)",
                ["left-out photo", "PSNR (dB)", "SSIM", "normalised error", "MSE"],
                folds.rows,
            )
        ],
        variant=c.variant,
        # the per-photo scores behind the (unqualified) summary, each photo from the fold that left it out
        scores={"": image_scores(image_ids(names), {k: scores[k] for k in ("psnr", "ssim", "mse", "nerr")})},
    )
