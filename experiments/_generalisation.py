"""Body of the leave-one-out generalisation check (``loo_pool1``): one trained stack per held-out photo."""

from __future__ import annotations

import dataclasses
import time
from typing import Mapping

from restoration_experiments._train_stacks import StackData, train_and_score
from restoration_experiments._trained_inversion import RunConfig, TrainedInversionFigure
from restoration import tracking


def _photos(c: RunConfig):
    from restoration import data

    if c.image_dir is None:
        return data.embedded_images("all")
    return data.folder_images(c.image_dir, size=c.image_size, limit=c.max_images)


def run_leave_one_out(_run, cfg: Mapping, fig: TrainedInversionFigure) -> float:
    """For each photo: train the figure's stack on the others, reconstruct the photo whole at ``eval_size``.
    Returns the mean PSNR over photos."""
    import numpy as np

    from restoration_experiments._prior_common import image_ids, image_scores
    from restoration import data
    from restoration import nets
    from restoration_reports import plots
    from restoration.contract.payload import FigureRef, Payload, Table
    from restoration.stacks.reconstruction import Evaluation
    from restoration_reports.tables.stacks import summary_of

    c = RunConfig.from_config(cfg, fig)
    t0 = time.time()
    fnet = nets.build(c.net, c.weights, seed=c.seed, precision=c.precision)
    photos = _photos(c)
    if len(photos) < 2:
        raise ValueError(f"leave-one-out needs at least two photos, got {len(photos)}")
    ((label, chain),) = fig.variants[c.variant].items()
    run_log = tracking.metric_logger(_run)
    rows, images, recs, names, reused = [], [], [], [], 0
    for k, (name, img) in enumerate(photos):
        train = [p for j, p in enumerate(photos) if j != k]
        held = [(name, data.center_crop_resize(img, c.eval_size).astype(np.float32))]
        batches = data.crop_batches(
            train, crop=c.crop, batch_size=c.batch_size, seed=c.seed, scales=c.scales, flip=c.flip
        )

        def log(metric, value, step, _name=name):
            run_log(f"without {_name}: {metric}", value, step)

        print(f"[loo] fold {k + 1}/{len(photos)}: training without {name}", flush=True)
        on = StackData(fnet, batches, held, np.stack([held[0][1]]))
        o = train_and_score(f"without_{name}", chain, fig, c, on, log, _run._id)
        reused += len(o.origin)
        ev = o.evaluation
        rows.append(
            [
                name,
                round(float(ev.scores["psnr"][0]), 2),
                round(float(ev.scores["ssim"][0]), 4),
                round(float(ev.scores["nerr"][0]), 5),
                round(float(ev.scores["mse"][0]), 2),
            ]
        )
        images.append(ev.images[0])
        recs.append(ev.reconstructions[0])
        names.append(name)
        _run.log_scalar("loo/psnr", float(ev.scores["psnr"][0]), k + 1)

    from restoration import metrics

    scores = metrics.score_batch(np.stack(images), np.stack(recs))
    overall = Evaluation.of(names, np.stack(images), np.stack(recs), scores)
    worst = int(np.argmin(scores["psnr"]))
    rows.append(
        [
            "mean",
            round(overall.summary["psnr_mean"], 2),
            round(overall.summary["ssim_mean"], 4),
            round(overall.summary["nerr_mean"], 5),
            round(overall.summary["mse_mean"], 2),
        ]
    )
    tracking.add_json(_run, {"names": names, **scores}, f"{fig.id}_scores.json")
    tracking.add_figure(
        _run, plots.error_map_rows(overall.images, overall.reconstructions, titles=names), f"{fig.id}_rows.png"
    )
    t_total = time.time() - t0
    spec_text = "; ".join(s.describe() for s in chain.specs(fnet))
    payload = Payload(
        title=fig.title,
        net=fnet.weights_label,
        summary=summary_of(overall),
        paragraphs=[
            fig.what,
            f"Stack: {spec_text}. Each fold trains it in stacked mode with {c.settings().describe()} on "
            f"{batches.describe().replace(str(len(train)) + ' images', 'the other ' + str(len(train)) + ' photos')}"
            f", then reconstructs the left-out photo's centre square at {c.eval_size} px from its {chain.top} "
            f"activations.",
            f"Worst photo: {names[worst]} at {scores['psnr'][worst]:.2f} dB; mean {overall.summary['psnr_mean']:.2f} "
            f"dB over {len(names)} photos. {reused} of {len(names) * len(chain.specs(fnet))} module trainings were "
            f"reused from the module store. Took {t_total:.0f} s.",
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
                rows,
            )
        ],
        variant=c.variant,
        # the per-photo scores behind the (unqualified) summary, each photo from the fold that left it out
        scores={"": image_scores(image_ids(names), {k: scores[k] for k in ("psnr", "ssim", "mse", "nerr")})},
    )
    tracking.set_report(_run, payload)
    tracking.complete_on_success(_run, tracking.checkpoint_dir(fig.id, dataclasses.asdict(c)))
    return float(overall.summary["psnr_mean"])
