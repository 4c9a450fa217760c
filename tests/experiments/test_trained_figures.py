"""Every trained-inversion figure end to end through Sacred, on tiny nets, into the temporary database of conftest.

VGG16 figures run on ``nets.tiny_vgg`` (VGG16's layer names, 4/8/8 channels); AlexNet figures on a tiny file in
the ``bvlc_alexnet.npy`` format, and without it they fail at once naming the file. Checked: the artifacts and
typed payload the report reads, the reconstruct CLI reproducing a run's numbers, resume inside a stack, the
module store (reuse across figures, opt-out), divergence, depth and merged evaluations, the thesis profile on
a folder, the leave-one-out experiment, and ``--all``.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import experiment, tiny_alexnet_npy

from restoration import tracking
from restoration.contract import registry
from restoration.errors import WeightsNotFoundError

TINY = dict(
    net="tiny_vgg",
    crop=16,
    batch_size=4,
    steps=4,
    eval_size=16,
    eval_per_image=1,
    log_every=1,
    eval_every=2,
    ckpt_every=2,
    rows=2,
)
SUMMARY = {"psnr_mean", "ssim_mean", "mse_mean", "nerr_mean", "psnr_min"}


def module_of(fig_id):
    return registry.load().figure(fig_id).module


def run_figure(fig_id, base=TINY, **updates):
    ex = experiment(module_of(fig_id))
    run = ex.run(named_configs=["quick"], config_updates={**base, **updates})
    return run, tracking.get_run(run._id)


@pytest.fixture
def alexnet_file(tmp_path):
    path = tmp_path / "bvlc_alexnet.npy"
    tiny_alexnet_npy(path, widths=(4, 8, 8, 8, 8))
    return str(path)


ALEX = dict(
    crop=67, batch_size=2, steps=3, eval_size=67, eval_per_image=1, log_every=1, eval_every=2, ckpt_every=2, rows=2
)


@pytest.mark.parametrize("fig", ["fig05", "fig06"])
def test_pool1_figures_complete_with_artifacts_and_report(fig, tmp_path, capsys):
    run, rec = run_figure(fig)
    assert rec.status == "COMPLETED" and rec.experiment == fig
    assert {
        f"{fig}_rows.png",
        f"{fig}_modules.npz",
        f"{fig}_modules.json",
        f"{fig}_scores.json",
        f"{fig}_losses.png",
    } <= set(rec.artifact_names)
    report = rec.info["report"]
    assert set(report["summary"]) == SUMMARY and all(np.isfinite(v) for v in report["summary"].values())
    assert report["net"].startswith("tiny random VGG") and report["variant"].startswith("final (default)")
    modules_table, numbers = report["tables"]
    assert [r[0] for r in modules_table["rows"]] == ["DC3", "DC2", "DC1"]
    assert all(r[-1] == "this run" for r in modules_table["rows"])
    assert [r[0] for r in numbers["rows"]] == ["chelsea", "rocket", "mean"]
    assert numbers["rows"][-1][1] == pytest.approx(report["summary"]["psnr_mean"], abs=0.01)
    assert run.result == pytest.approx(report["summary"]["psnr_mean"])
    assert {f["artifact"] for f in report["figures"]} <= set(rec.artifact_names)
    metrics = rec.metrics()
    for name in ("DC3", "DC2", "DC1"):
        assert len(metrics[f"{name}/train_loss"][0]) == 4 and f"{name}/heldout_loss" in metrics
    if fig == "fig05":
        assert "e2e/train_loss" in metrics
    scores = json.loads(rec.artifact(f"{fig}_scores.json"))
    assert np.mean(scores["pool1"]["psnr"]) == pytest.approx(report["summary"]["psnr_mean"])

    # the stored modules give the same reconstruction through the user CLI
    from skimage import io as skio

    from restoration import cli, data

    img = data.center_crop_resize(dict(data.embedded_images("heldout"))["chelsea"], 16)
    skio.imsave(tmp_path / "chelsea.png", img)
    capsys.readouterr()
    assert (
        cli.main(
            [
                "reconstruct",
                "--run",
                str(rec.id),
                "--image",
                str(tmp_path / "chelsea.png"),
                "--out",
                str(tmp_path / "rec.png"),
            ]
        )
        == 0
    )
    psnr_cli = float(capsys.readouterr().out.split("PSNR ")[1].split(" dB")[0])
    assert psnr_cli == pytest.approx(numbers["rows"][0][1], abs=0.05)
    assert skio.imread(tmp_path / "rec.png").shape == (16, 16, 3)


class Killed(Exception):
    pass


def test_killed_run_resumes_and_finished_modules_are_reused_from_the_store(monkeypatch):
    from restoration.stacks import training as stack_training

    real = stack_training.train_module

    def killed_in_dc2(net, stack, name, *args, **kwargs):
        if name == "DC2":
            raise Killed("simulated kill while training DC2")
        return real(net, stack, name, *args, **kwargs)

    monkeypatch.setattr(stack_training, "train_module", killed_in_dc2)
    with pytest.raises(Killed):
        run_figure("fig06")
    assert tracking.latest_run("fig06").status == "FAILED"
    monkeypatch.setattr(stack_training, "train_module", real)

    _, resumed = run_figure("fig06")  # DC3 was finished and stored: reused; DC2 and DC1 trained now
    assert resumed.status == "COMPLETED"
    origin = {r[0]: r[-1] for r in resumed.info["report"]["tables"][0]["rows"]}
    assert origin["DC3"].startswith("reused: trained by run") and origin["DC2"] == "this run"
    metrics = resumed.metrics()
    assert "DC3/train_loss" not in metrics and len(metrics["DC2/train_loss"][0]) == 4

    _, again = run_figure("fig06")  # everything stored: nothing trained, the same numbers
    assert not any(k.endswith("train_loss") for k in again.metrics())
    assert "Reused from the module store" in " ".join(again.info["report"]["paragraphs"])
    assert again.info["report"]["summary"] == pytest.approx(resumed.info["report"]["summary"], rel=1e-6)

    _, fresh = run_figure("fig06", reuse_modules=False)  # opt out: trains afresh, deterministically
    assert len(fresh.metrics()["DC3/train_loss"][0]) == 4
    assert fresh.info["report"]["summary"] == pytest.approx(again.info["report"]["summary"], rel=1e-4)


def test_divergent_run_fails_and_keeps_last_finite_checkpoint():
    from restoration.errors import DivergenceError

    with pytest.raises(DivergenceError):
        run_figure("fig06", lr=1e30, ckpt_every=1)
    assert tracking.latest_run("fig06").status == "FAILED"
    ckpts = sorted((tracking.runs_dir() / "checkpoints" / "fig06").glob("*/attempt*/pool1/DC3/ckpt-*.index"))
    assert [p.name for p in ckpts] == ["ckpt-1.index"]


def test_bad_config_values_fail_at_the_entry_naming_the_key():
    with pytest.raises(ValueError, match=r"config batch_size=0: must be a positive integer"):
        run_figure("fig06", batch_size=0)
    with pytest.raises(ValueError, match=r"config lr='abc': must be a positive number"):
        run_figure("fig06", lr="abc")
    with pytest.raises(ValueError, match=r"config variant='nope': fig06 has variants \['final', 'may'\]"):
        run_figure("fig06", variant="nope")
    with pytest.raises(ValueError, match=r"config lr_decay=1.5: lr_decay is the fraction"):
        run_figure("fig06", lr_decay=1.5)


def test_quick_profile_decays_the_rate_and_the_thesis_profile_keeps_it_constant():
    ex = experiment(module_of("fig05"))
    quick = ex.run("print_config", named_configs=["quick"]).config
    thesis = ex.run("print_config", named_configs=["thesis"]).config
    assert quick["lr_decay"] > 0 and thesis["lr_decay"] == 0.0


def test_may_variant_and_depth_of_the_pool3_stack_reusing_fig07():
    _, may = run_figure("fig06", variant="may")
    rows = may.info["report"]["tables"][0]["rows"]
    assert [(r[0], r[1]) for r in rows] == [
        ("DC3", "pool1 -> conv1_2/relu"),
        ("CD2", "conv1_2/relu -> conv1_1/relu"),
        ("CD1", "conv1_1/relu -> input"),
    ]
    assert may.info["report"]["variant"].startswith("may: May spec")

    _, f7 = run_figure("fig07")
    assert {"psnr_mean@pool1", "ssim_mean@pool1", "nerr_mean@pool1"} <= set(f7.info["report"]["summary"])
    _, f8 = run_figure("fig08")
    summary = f8.info["report"]["summary"]
    assert {"psnr_mean@pool1", "psnr_mean@pool2", "psnr_mean"} <= set(summary) and "psnr_mean@pool3" not in summary
    assert {"fig08_depth.png", "fig08_depth_grid.png"} <= set(f8.artifact_names)
    origin = {r[0]: r[-1] for r in f8.info["report"]["tables"][0]["rows"]}
    assert all(
        origin[m].startswith(f"reused: trained by run {f7.id} (fig07)")
        for m in ("DC6", "DC5", "DC4", "DC3", "CD2", "CD1")
    )
    assert all(origin[m] == "this run" for m in ("DC10", "DC9", "DC8", "DC7"))
    # fig07's pool1 sub-stack is fig08's pool1 sub-stack: the same modules give the same numbers
    assert summary["psnr_mean@pool1"] == pytest.approx(f7.info["report"]["summary"]["psnr_mean@pool1"], rel=1e-6)
    depth = f8.info["report"]["tables"][2]
    assert [r[0] for r in depth["rows"]] == ["pool1", "pool2", "pool3"]


def test_joint_merged_and_module_kind_figures():
    _, stacked = run_figure("fig06")
    _, merged = run_figure("fig03_vgg16_merged", finetune_steps=3, finetune_lr_schedule=[[0, 1e-3], [2, 1e-4]])
    s = merged.info["report"]["summary"]
    assert s["psnr_mean@before fine-tuning"] == pytest.approx(stacked.info["report"]["summary"]["psnr_mean"])
    assert s["psnr_mean"] != s["psnr_mean@before fine-tuning"]
    assert any(k.startswith("merged/") for k in merged.metrics())
    _, joint = run_figure("fig03_vgg16")
    assert "joint/train_loss" in joint.metrics()
    kinds = {}
    for fig in ("fig11_vgg16", "fig12_vgg16", "fig13_vgg16"):
        _, rec = run_figure(fig)
        kinds[fig] = rec.info["report"]["tables"][0]["rows"][0][2]
    assert kinds["fig11_vgg16"].startswith("CD") and "up 5x5/2 SAME" in kinds["fig11_vgg16"]
    assert kinds["fig12_vgg16"].startswith("DC") and kinds["fig13_vgg16"].startswith("DD")
    _, f10 = run_figure("fig10", eval_per_image=4, whole_heldout=True)
    names = [r[0] for r in f10.info["report"]["tables"][1]["rows"]]
    assert names == [f"{n}#{i}" for n in ("chelsea", "rocket") for i in range(4)] + [
        "chelsea (whole)",
        "rocket (whole)",
        "mean",
    ]


@pytest.mark.parametrize("fig", ["fig03", "fig04", "fig11", "fig12", "fig13", "alexnet_lrn", "fig05_alexnet"])
def test_alexnet_figures_run_on_a_tiny_bvlc_file(fig, alexnet_file):
    _, rec = run_figure(fig, base=ALEX, weights=alexnet_file)
    assert rec.status == "COMPLETED" and "AlexNet (Caffe BVLC)" in rec.info["report"]["net"]
    summary = rec.info["report"]["summary"]
    if fig == "alexnet_lrn":
        assert {"psnr_mean@conv1/relu", "psnr_mean@lrn1"} <= set(summary)
        assert {"alexnet_lrn_conv1_relu_modules.npz", "alexnet_lrn_lrn1_modules.npz"} <= set(rec.artifact_names)
    else:
        assert SUMMARY <= set(summary)
    ops = [r[2] for r in rec.info["report"]["tables"][0]["rows"]]
    if fig in ("fig11", "fig12", "fig13"):
        assert ops[0].endswith("up 11x11/4 VALID")  # conv1's own window undone exactly
    if fig in ("fig03", "fig04"):
        assert ops[0].endswith("up 3x3/2 VALID") and ops[1].endswith("up 11x11/4 VALID")


def test_alexnet_figures_without_weights_fail_at_once_naming_the_file(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "bvlc_alexnet.npy"
    monkeypatch.setenv("ALEXNET_WEIGHTS", str(missing))
    for fig in ("fig04", "fig12"):
        with pytest.raises(WeightsNotFoundError, match="bvlc_alexnet.npy"):
            experiment(module_of(fig)).run(named_configs=["quick"])
        rec = tracking.latest_run(fig)
        assert rec.status == "FAILED" and str(missing) in tracking.failure_message(rec)
        assert rec.metrics() == {} and rec.artifact_names == []


def test_thesis_profile_needs_a_folder_and_trains_from_one(tmp_path):
    from skimage import io as skio

    from restoration import data

    ex = experiment(module_of("fig06"))
    with pytest.raises(ValueError, match="image_dir"):
        ex.run(named_configs=["thesis"], config_updates={**TINY})
    folder = tmp_path / "images"
    folder.mkdir()
    for name, img in data.embedded_images("all"):
        skio.imsave(folder / f"{name}.png", data.center_crop_resize(img, 40), check_contrast=False)
    run = ex.run(
        named_configs=["thesis"],
        config_updates={**TINY, "image_dir": str(folder), "image_size": 32, "heldout_fraction": 0.25},
    )
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED" and rec.config["profile"] == "thesis"
    assert len(rec.info["report"]["tables"][1]["rows"]) == 2 + 1  # 2 of 8 images held out, plus the mean row
    # quick-only settings of a figure do not leak into its thesis profile
    merged = experiment(module_of("fig03_vgg16_merged"))
    assert merged.run("print_config", named_configs=["thesis"]).config["finetune_steps"] == 3000


def test_leave_one_out_reconstructs_every_photo_with_a_stack_that_never_saw_it():
    run, rec = run_figure("loo_pool1", steps=2, eval_size=24)
    report = rec.info["report"]
    names = [r[0] for r in report["tables"][0]["rows"]]
    from restoration import data

    assert names == [n for n, _ in data.embedded_images("all")] + ["mean"]
    psnr = [r[1] for r in report["tables"][0]["rows"][:-1]]
    assert report["summary"]["psnr_min"] == pytest.approx(min(psnr), abs=0.01)
    assert report["summary"]["psnr_mean"] == pytest.approx(np.mean(psnr), abs=0.01)
    assert len(rec.metrics()["loo/psnr"][0]) == 8
    _, again = run_figure("loo_pool1", steps=2, eval_size=24)  # every fold's modules are in the store now
    assert "24 of 24 module trainings were reused" in " ".join(again.info["report"]["paragraphs"])


def test_reproduce_all_prints_wall_times_and_the_total(tmp_path):
    env_runs = str(tracking.runs_dir())
    cmd = [
        sys.executable,
        "-m",
        "restoration_experiments",
        "--all",
        "--only",
        "fig11_vgg16",
        "fig12",
        "--",
        "net=tiny_vgg",
        "crop=16",
        "batch_size=2",
        "steps=2",
        "eval_size=16",
        "eval_per_image=1",
    ]
    import os

    env = {**os.environ, "RESTORATION_RUNS_DIR": env_runs, "ALEXNET_WEIGHTS": str(tmp_path / "none.npy")}
    out = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=600, cwd=str(registry.DEFAULT_PATH.parent.parent)
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    table = out.stdout[out.stdout.index("reproduce-all: wall time per figure") :]
    assert "fig11_vgg16" in table and "completed" in table
    assert "fig12" in table and "needs AlexNet weights" in table
    assert "total" in table and "1 of 2 completed" in table


def test_registry_declares_every_figure_and_claim_consistently():
    import importlib

    reg = registry.load()
    for entry in reg.figures:
        module = importlib.import_module(entry.module)
        assert hasattr(module, "ex"), entry.id
        fig = getattr(module, "FIGURE", None)
        if fig is not None:
            assert fig.id == entry.id and fig.net == entry.net, entry.id
    assert {
        "fig01",
        "fig02",
        "fig03",
        "fig04",
        "fig05",
        "fig06",
        "fig07",
        "fig08",
        "fig09",
        "fig10",
        "fig11",
        "fig12",
        "fig13",
    } <= set(reg.ids)
    assert reg.resolve("7") == "fig07" and reg.resolve("fig7") == "fig07"
    with pytest.raises(KeyError, match="unknown figure 'abc'"):
        reg.resolve("abc")


def test_registry_fails_loudly_on_a_claim_naming_an_unknown_figure_or_measure(tmp_path):
    base = registry.DEFAULT_PATH.read_text()
    bad = tmp_path / "r.toml"
    bad.write_text(
        base + '\n[[claims]]\nid = "x"\nstatement = "s"\nthesis = "t"\npairs = [["fig99", "fig06"]]\n'
        'measures = ["psnr_mean"]\n'
    )
    with pytest.raises(ValueError, match="names figure 'fig99', which is not registered"):
        registry.load(bad)
    bad.write_text(
        base + '\n[[claims]]\nid = "x"\nstatement = "s"\nthesis = "t"\npairs = [["fig05", "fig06"]]\n'
        'measures = ["psnr_avg"]\n'
    )
    with pytest.raises(ValueError, match="unknown measure 'psnr_avg'"):
        registry.load(bad)
    bad.write_text(base.replace("order = 6\n", "", 1))
    with pytest.raises(ValueError, match=r"\[figures.fig06\]: lacks order"):
        registry.load(bad)
