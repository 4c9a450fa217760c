"""Fake Sacred runs for the report tests: tiny experiments that store a payload, a PNG artifact and metrics, one
that fails for want of AlexNet weights, and the registry they belong to (used by tests/reports/test_report.py,
tests/test_one_line_errors.py and tests/test_outputs.py)."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.contract.payload import FigureRef, Payload, Table

REGISTRY = """
[figures.fig01]
module = "restoration_experiments.fig01_alexnet_mv_inversion"
title = "Fig. 1: AlexNet pre-images from every layer (Mahendran & Vedaldi)"
section = "Optimisation inversion"
order = 1
net = "alexnet"

[figures.fig02]
module = "restoration_experiments.fig02_vgg16_mv_inversion"
title = "Fig. 2: VGG16 pre-images from every block (Mahendran & Vedaldi)"
section = "Optimisation inversion"
order = 2

[figures.fig05]
module = "restoration_experiments.fig05_vgg16_pool1_end_to_end"
title = "Fig. 5: end to end"
section = "Trained inversion"
order = 5

[figures.fig06]
module = "restoration_experiments.fig06_vgg16_pool1_stacked"
title = "Fig. 6: stacked"
section = "Trained inversion"
order = 6

[[claims]]
id = "stacked_beats_end_to_end"
statement = "Stacked beats end to end"
thesis = "May 10, result 1"
pairs = [["fig06", "fig05"]]
measures = ["psnr_mean", "ssim_mean", "nerr_mean", "mse_mean"]

[[claims]]
id = "alexnet_claim"
statement = "Something about AlexNet"
thesis = "May 3"
pairs = [["fig01", "fig06"]]
measures = ["psnr_mean"]
"""

HED_LABEL = (
    "VGG16 conv trunk from HED (BSDS500 edge detector, fine-tuned from ImageNet VGG16) - not the "
    "ImageNet classification weights"
)
WEIGHTS_MESSAGE = "AlexNet weights file bvlc_alexnet.npy not found in /nowhere/weights; put it there"
BETTER = {"psnr_mean": 20.25, "ssim_mean": 0.625, "mse_mean": 1000.5, "nerr_mean": 0.0825}
WORSE = {"psnr_mean": 18.5, "ssim_mean": 0.5, "mse_mean": 1300.25, "nerr_mean": 0.1125}


def _fake_experiment(name: str, summary: dict | None, *, fail: str | None = None):
    from restoration import tracking
    from restoration_reports import plots
    from restoration.errors import WeightsNotFoundError

    ex = tracking.make_experiment(name)
    ex.add_config(seed=7, profile="quick", weights="hed")

    @ex.main
    def main(_run):
        if fail:
            raise WeightsNotFoundError(fail)
        rng = np.random.default_rng(0)
        ims = rng.uniform(0, 255, (1, 8, 8, 3))
        tracking.add_figure(_run, plots.error_map_rows(ims, ims + rng.normal(0, 9, ims.shape)), f"{name}_rows.png")
        log = tracking.metric_logger(_run)
        curves = {"train/loss": ([], [])}
        for step in range(5):
            log("train/loss", 10.0 / (step + 1), step)
            curves["train/loss"][0].append(step)
            curves["train/loss"][1].append(10.0 / (step + 1))
        own_losses = []
        if name == "fig05":  # an experiment with its own loss figure: the report folds its curves away
            tracking.add_figure(_run, plots.loss_curves(curves), f"{name}_losses.png")
            own_losses = [{"artifact": f"{name}_losses.png", "caption": "Own loss figure.", "kind": "curves"}]
        tracking.set_report(
            _run,
            Payload(
                title=f"{name}: VGG16 pool1 inversion",
                net=HED_LABEL,
                summary=summary,
                paragraphs=[f"Paragraph of {name} with <markup>."],
                figures=[
                    FigureRef(f"{name}_rows.png", f"Reconstructions of {name}."),
                    FigureRef("never_saved.png", "A figure whose artifact is missing."),
                ]
                + [FigureRef(**f) for f in own_losses],
                tables=[
                    Table(
                        f"Per-image scores of {name}",
                        ["image", "PSNR (dB)", "SSIM"],
                        [["astronaut", 21.23456, 0.612345], ["coffee", 19.5, 0.5]],
                    )
                ],
            ),
        )
        return 0.5

    return ex


def _populate(runs_dir, monkeypatch, fig05: dict, fig06: dict):
    monkeypatch.setenv("RESTORATION_RUNS_DIR", str(runs_dir))
    monkeypatch.delenv("SACRED_DB_URL", raising=False)
    _fake_experiment("fig05", fig05).run()
    _fake_experiment("fig06", fig06).run()
    with pytest.raises(Exception, match="bvlc_alexnet"):
        _fake_experiment("fig01", None, fail=WEIGHTS_MESSAGE).run()
