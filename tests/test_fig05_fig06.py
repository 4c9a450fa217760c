"""Figs. 5 and 6 end to end through Sacred on a tiny net, into the temporary database of conftest.

Checks the run is COMPLETED with the artifacts and report payload the report builder reads, that the stored
modules reproduce the run's numbers through ``python -m restoration reconstruct``, that a killed run resumes
inside the stack while a completed config trains afresh, that a divergent run is FAILED with its last good
checkpoint kept, and that the thesis profile trains from a folder.
"""
import importlib
import json

import numpy as np
import pytest

from restoration import tracking

TINY = dict(net="tiny_vgg", crop=16, batch_size=4, steps=4, hidden=8, kernel=3, eval_size=16, eval_per_image=1,
            log_every=1, eval_every=2, ckpt_every=2, rows=2)
SUMMARY_KEYS = {"psnr_mean", "ssim_mean", "mse_mean", "nerr_mean"}


def run_experiment(fig, **updates):
    module = {"fig05": "experiments.fig05_vgg16_pool1_end_to_end",
              "fig06": "experiments.fig06_vgg16_pool1_stacked"}[fig]
    # re-import so the experiment's observer points at this test's database (it is bound at import)
    ex = importlib.reload(importlib.import_module(module)).ex
    run = ex.run(named_configs=["quick"], config_updates={**TINY, **updates})
    return run, tracking.get_run(run._id)


@pytest.mark.parametrize("fig", ["fig05", "fig06"])
def test_run_completes_with_artifacts_and_report(fig, tmp_path, capsys):
    run, rec = run_experiment(fig)
    assert rec.status == "COMPLETED"
    assert rec.experiment == fig
    assert {f"{fig}_rows.png", f"{fig}_modules.npz", f"{fig}_modules.json", f"{fig}_scores.json",
            f"{fig}_losses.png"} <= set(rec.artifact_names)
    assert rec.artifact(f"{fig}_rows.png")[:8] == b"\x89PNG\r\n\x1a\n"

    report = rec.info["report"]
    assert set(report["summary"]) == SUMMARY_KEYS
    assert report["net"].startswith("tiny random VGG")
    assert all(np.isfinite(v) for v in report["summary"].values())
    loss_table, numbers = report["tables"]
    assert [r[0] for r in loss_table["rows"]] == ["DC3", "DC2", "DC1"]
    assert all(isinstance(v, float) for r in loss_table["rows"] for v in r[2:])
    assert [r[0] for r in numbers["rows"]] == ["chelsea", "rocket", "mean"]
    assert numbers["rows"][-1][1] == pytest.approx(report["summary"]["psnr_mean"], abs=0.01)
    assert run.result == pytest.approx(report["summary"]["psnr_mean"])
    assert {f["artifact"] for f in report["figures"]} <= set(rec.artifact_names)

    metrics = rec.metrics()
    for name in ("DC3", "DC2", "DC1"):
        steps, values = metrics[f"{name}/train_loss"]
        assert len(steps) == 4 and np.all(np.isfinite(values))
        assert f"{name}/heldout_loss" in metrics
    if fig == "fig05":
        assert "e2e/train_loss" in metrics

    scores = json.loads(rec.artifact(f"{fig}_scores.json"))
    assert np.mean(scores["psnr"]) == pytest.approx(report["summary"]["psnr_mean"])

    # the stored modules give the same reconstruction PSNR through the user CLI
    from restoration import cli, data
    img = data.center_crop_resize(dict(data.embedded_images("heldout"))["chelsea"], 16)
    from skimage import io as skio
    skio.imsave(tmp_path / "chelsea.png", img)
    capsys.readouterr()
    assert cli.main(["reconstruct", "--run", str(rec.id), "--image", str(tmp_path / "chelsea.png"),
                     "--out", str(tmp_path / "rec.png")]) == 0
    out = capsys.readouterr().out
    psnr_cli = float(out.split("PSNR ")[1].split(" dB")[0])
    assert psnr_cli == pytest.approx(numbers["rows"][0][1], abs=0.05)
    assert skio.imread(tmp_path / "rec.png").shape == (16, 16, 3)


class Killed(Exception):
    pass


def test_killed_run_resumes_and_completed_run_trains_afresh(monkeypatch):
    from restoration import modules

    real = modules.train_module

    def killed_in_dc2(net, stack, name, *args, **kwargs):
        if name == "DC2":
            raise Killed("simulated kill while training DC2")
        return real(net, stack, name, *args, **kwargs)

    monkeypatch.setattr(modules, "train_module", killed_in_dc2)
    with pytest.raises(Killed):
        run_experiment("fig06")
    assert tracking.latest_run("fig06").status == "FAILED"
    monkeypatch.setattr(modules, "train_module", real)

    _, resumed = run_experiment("fig06")
    assert resumed.status == "COMPLETED"
    assert "resumed from checkpoints at steps {'DC3': 4}" in " ".join(resumed.info["report"]["paragraphs"])
    metrics = resumed.metrics()
    assert "DC3/train_loss" not in metrics and len(metrics["DC2/train_loss"][0]) == 4  # DC3 restored, not retrained

    _, fresh = run_experiment("fig06")  # the completed run's checkpoints are not reused
    assert len(fresh.metrics()["DC3/train_loss"][0]) == 4
    assert "resumed" not in " ".join(fresh.info["report"]["paragraphs"])
    assert fresh.info["report"]["summary"] == pytest.approx(resumed.info["report"]["summary"], rel=1e-4)


def test_divergent_run_fails_and_keeps_last_good_checkpoint():
    from restoration.errors import DivergenceError

    with pytest.raises(DivergenceError):
        run_experiment("fig06", lr=1e30, ckpt_every=1)
    rec = tracking.latest_run("fig06")
    assert rec.status == "FAILED"
    ckpts = sorted((tracking.runs_dir() / "checkpoints" / "fig06").glob("*/attempt*/DC3/ckpt-*.index"))
    assert [p.name for p in ckpts] == ["ckpt-1.index"]


def test_reconstruct_cli_rejects_run_without_modules(capsys):
    from restoration import cli

    assert cli.main(["reconstruct", "--run", "12345", "--image", "x.png", "--out", "y.png"]) == 2
    assert "12345" in capsys.readouterr().err


def test_thesis_profile_needs_a_folder_and_trains_from_one(tmp_path):
    from skimage import io as skio

    from restoration import data

    ex = importlib.reload(importlib.import_module("experiments.fig06_vgg16_pool1_stacked")).ex
    with pytest.raises(ValueError, match="image_dir"):
        ex.run(named_configs=["thesis"], config_updates={**TINY})
    folder = tmp_path / "images"
    folder.mkdir()
    for name, img in data.embedded_images("all"):
        skio.imsave(folder / f"{name}.png", data.center_crop_resize(img, 40), check_contrast=False)
    run = ex.run(named_configs=["thesis"], config_updates={**TINY, "image_dir": str(folder), "image_size": 32,
                                                           "heldout_fraction": 0.25})
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED" and rec.config["profile"] == "thesis"
    assert len(rec.info["report"]["tables"][1]["rows"]) == 2 + 1  # 2 of 8 images held out, plus the mean row
