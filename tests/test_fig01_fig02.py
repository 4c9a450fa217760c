"""Figs. 1 and 2 end to end through Sacred into the temporary database of conftest: fig02 on a tiny VGG, fig01 on
a tiny AlexNet written in the bvlc_alexnet.npy format, and fig01 without weights (FAILED, with the message the
report shows)."""
import json

import numpy as np
import pytest
from helpers import experiment, tiny_alexnet_npy

from restoration import tracking
from restoration.errors import WeightsNotFoundError


def check_report(rec, fig, layers, compare_layer):
    assert rec.status == "COMPLETED"
    assert {f"{fig}_grid.png", f"{fig}_reconstructions.npz", f"{fig}_scores.json"} <= set(rec.artifact_names)
    assert rec.artifact(f"{fig}_grid.png")[:8] == b"\x89PNG\r\n\x1a\n"
    report = rec.info["report"]
    assert {"title", "net", "summary", "paragraphs", "figures", "tables"} <= set(report)
    assert {f["artifact"] for f in report["figures"]} <= set(rec.artifact_names)
    per_layer, cmp = report["tables"]
    assert [r[0] for r in per_layer["rows"]] == layers
    assert all(len(r) == len(per_layer["columns"]) for r in per_layer["rows"])
    assert [r[0] for r in cmp["rows"]] == ["adam", "lbfgs"] and all(r[1] == compare_layer for r in cmp["rows"])
    assert all(np.isfinite(v) for v in report["summary"].values())
    scores = json.loads(rec.artifact(f"{fig}_scores.json"))
    assert scores["layers"] == layers and len(scores["scores"][layers[0]]["ssim"]) == 2
    metrics = rec.metrics()
    assert any(name.startswith(f"{layers[0]}/feat/") for name in metrics)
    assert "compare/lbfgs/total" in metrics
    return report


def test_fig02_tiny_vgg_completes_with_grid_tables_and_comparison():
    layers = ["conv1_2", "pool1", "conv2_2", "pool2"]
    run = experiment("experiments.fig02_vgg16_mv_inversion").run(
        named_configs=["quick"], config_updates=dict(net="tiny_vgg", size=16, layers=layers, steps=4,
                                                     compare_layer="conv2_1", compare_steps=3, n_images=2))
    rec = tracking.get_run(run._id)
    report = check_report(rec, "fig02", layers, "conv2_1")
    assert report["net"].startswith("tiny random VGG")
    assert run.result == pytest.approx(report["summary"]["feat_err@pool2"])  # head: deepest layer
    assert {"ssim_mean@pool2", "feat_err@adam, conv2_1", "wall_s@lbfgs, conv2_1", "size_px"} <= set(report["summary"])


def test_fig01_tiny_alexnet_npy_completes(tmp_path):
    path = tmp_path / "bvlc_alexnet.npy"
    tiny_alexnet_npy(path)
    layers = ["conv1", "pool2", "conv5", "fc8"]
    run = experiment("experiments.fig01_alexnet_mv_inversion").run(
        named_configs=["quick"], config_updates=dict(weights=str(path), layers=layers, steps=3, compare_steps=2,
                                                     n_images=2))
    rec = tracking.get_run(run._id)
    report = check_report(rec, "fig01", layers, "conv3")
    assert "AlexNet" in report["net"] and rec.config["size"] == 227


def test_fig01_without_weights_fails_naming_the_file_and_the_fix(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "bvlc_alexnet.npy"
    monkeypatch.setenv("ALEXNET_WEIGHTS", str(missing))
    ex = experiment("experiments.fig01_alexnet_mv_inversion")
    with pytest.raises(WeightsNotFoundError, match="bvlc_alexnet.npy"):
        ex.run(named_configs=["quick"])
    rec = tracking.latest_run("fig01")
    assert rec.status == "FAILED"
    msg = tracking.failure_message(rec)
    assert "WeightsNotFoundError" in msg and str(missing) in msg and "ALEXNET_WEIGHTS" in msg
