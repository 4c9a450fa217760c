"""Figs. 1 and 2 end to end through Sacred into the temporary database of conftest: fig02 on a tiny VGG, fig01 on
a tiny AlexNet written in the bvlc_alexnet.npy format, each under both variants (M&V 2015, the default, and
M&V 2016) with the recipe named in the payload and per-image scores stored; fig01 without weights (FAILED, with
the message the report shows); bad variants, recipes and image lists refused in one line."""

import json

import numpy as np
import pytest
from helpers import experiment, tiny_alexnet_npy

from restoration import tracking
from restoration.errors import WeightsNotFoundError
from restoration.contract.payload import Payload

SCORED = {"psnr_mean", "ssim_mean", "mse_mean", "nerr_mean", "feat_err"}
TINY_FIG02 = dict(net="tiny_vgg", size=16, steps=4, compare_layer="conv2_1", compare_steps=3, n_images=2)


def check_variant(rec, variant, recipe, paper, optimizer, default):
    """The payload names the variant and the recipe that ran, in ``variant``, a paragraph and the title."""
    report = rec.info["report"]
    head = f"{variant}{' (default)' if default else ''}: {paper}, recipe {recipe}"
    assert report["variant"] == head and report["comparable"]["variant"] == variant
    assert any(p.startswith(f"Variant {head}.") for p in report["paragraphs"])
    assert paper in report["variant"] and rec.config["variant"] == variant and rec.config["recipe"] is None
    assert any(f"Recipe {recipe}: {optimizer}," in p for p in report["paragraphs"])
    assert json.loads(rec.artifact(f"{rec.experiment}_scores.json"))["recipe"] == recipe


def check_image_scores(rec, layers, compare_layer, optimizer):
    """Per-image scores behind the summary, keyed by its qualifiers, ids = the photos' names."""
    report = rec.info["report"]
    payload = Payload.from_dict(report)
    names = json.loads(rec.artifact(f"{rec.experiment}_scores.json"))["images"]
    assert len(names) == 2 and len(set(names)) == 2
    cmp_key = f"{optimizer}, {compare_layer}"
    assert set(payload.scores) == set(layers) | {"mean over layers", cmp_key, "lbfgs, " + compare_layer}
    for layer in layers:
        sc = payload.scores[layer]
        assert sc.images == names and set(sc.values) == SCORED
        assert all(len(v) == 2 and np.all(np.isfinite(v)) for v in sc.values.values())
    for key in (
        f"feat_err@{layers[-1]}",
        f"ssim_mean@{layers[-1]}",
        "feat_err@mean over layers",
        f"feat_err@{cmp_key}",
    ):
        ids, values = payload.image_scores(key)
        assert ids == names and np.mean(values) == pytest.approx(report["summary"][key]), key
    stored = json.loads(rec.artifact(f"{rec.experiment}_scores.json"))["scores"][layers[0]]
    np.testing.assert_allclose(payload.scores[layers[0]].values["psnr_mean"], stored["psnr"])


def check_report(rec, fig, layers, compare_layer, optimizer="adam"):
    assert rec.status == "COMPLETED"
    assert {f"{fig}_grid.png", f"{fig}_reconstructions.npz", f"{fig}_scores.json"} <= set(rec.artifact_names)
    assert rec.artifact(f"{fig}_grid.png")[:8] == b"\x89PNG\r\n\x1a\n"
    report = rec.info["report"]
    assert {"title", "net", "summary", "paragraphs", "figures", "tables"} <= set(report)
    assert {f["artifact"] for f in report["figures"]} <= set(rec.artifact_names)
    per_layer, cmp = report["tables"]
    assert [r[0] for r in per_layer["rows"]] == layers
    assert all(len(r) == len(per_layer["columns"]) for r in per_layer["rows"])
    assert [r[0] for r in cmp["rows"]] == [optimizer, "lbfgs"] and all(r[1] == compare_layer for r in cmp["rows"])
    assert all(np.isfinite(v) for v in report["summary"].values())
    scores = json.loads(rec.artifact(f"{fig}_scores.json"))
    assert scores["layers"] == layers and len(scores["scores"][layers[0]]["ssim"]) == 2
    metrics = rec.metrics()
    assert any(name.startswith(f"{layers[0]}/feat/") for name in metrics)
    assert "compare/lbfgs/total" in metrics
    return report


@pytest.mark.parametrize(
    "named,variant,recipe,paper,optimizer",
    [
        ([], "mv2016", "mv2016_thesis_vgg16", "Mahendran & Vedaldi 2016 (IJCV)", "adam"),
        (["mv2016"], "mv2016", "mv2016_thesis_vgg16", "Mahendran & Vedaldi 2016 (IJCV)", "adam"),
        (["mv2015"], "mv2015", "mv2015", "Mahendran & Vedaldi 2015 (CVPR)", "momentum"),
    ],
)
def test_fig02_tiny_vgg_completes_under_each_variant_naming_its_recipe(named, variant, recipe, paper, optimizer):
    layers = ["conv1_2", "pool1", "conv2_2", "pool2"]
    run = experiment("restoration_experiments.fig02_vgg16_mv_inversion").run(
        named_configs=["quick"] + named, config_updates=dict(TINY_FIG02, layers=layers)
    )
    rec = tracking.get_run(run._id)
    report = check_report(rec, "fig02", layers, "conv2_1", optimizer)
    assert report["net"].startswith("tiny random VGG")
    assert run.result == pytest.approx(report["summary"]["feat_err@pool2"])  # head: deepest layer
    assert {"ssim_mean@pool2", f"feat_err@{optimizer}, conv2_1", "wall_s@lbfgs, conv2_1", "size_px"} <= set(
        report["summary"]
    )
    check_variant(rec, variant, recipe, paper, optimizer, default=variant == "mv2016")
    check_image_scores(rec, layers, "conv2_1", optimizer)
    if variant == "mv2016":  # the thesis's VGG16 table: no jitter below pool2, C = 300 through block 4
        settings = json.loads(rec.artifact("fig02_scores.json"))["settings"]
        assert settings["conv2_2"]["jitter"] == 0 and settings["conv2_2"]["C"] == 300.0


@pytest.mark.parametrize(
    "named,variant,recipe,paper,optimizer",
    [
        (["mv2015"], "mv2015", "mv2015", "Mahendran & Vedaldi 2015 (CVPR)", "momentum"),
        (["mv2016"], "mv2016", "mv2016", "Mahendran & Vedaldi 2016 (IJCV)", "adam"),
    ],
)
def test_fig01_tiny_alexnet_npy_completes_under_each_variant(named, variant, recipe, paper, optimizer, tmp_path):
    path = tmp_path / "bvlc_alexnet.npy"
    tiny_alexnet_npy(path)
    layers = ["conv1", "pool2", "conv5", "fc8"]
    run = experiment("restoration_experiments.fig01_alexnet_mv_inversion").run(
        named_configs=["quick"] + named,
        config_updates=dict(weights=str(path), layers=layers, steps=3, compare_steps=2, n_images=2),
    )
    rec = tracking.get_run(run._id)
    report = check_report(rec, "fig01", layers, "conv3", optimizer)
    assert "AlexNet" in report["net"] and rec.config["size"] == 227
    check_variant(rec, variant, recipe, paper, optimizer, default=variant == "mv2016")
    check_image_scores(rec, layers, "conv3", optimizer)


def test_fig02_a_recipe_of_the_same_paper_replaces_the_variants_and_the_payload_says_so():
    layers = ["conv1_2", "pool1"]
    run = experiment("restoration_experiments.fig02_vgg16_mv_inversion").run(
        named_configs=["quick"], config_updates=dict(TINY_FIG02, layers=layers, recipe="mv2016")
    )
    report = tracking.get_run(run._id).info["report"]
    assert report["variant"] == (
        "mv2016 (default): Mahendran & Vedaldi 2016 (IJCV), recipe mv2016 (set by config "
        "recipe; the variant's is mv2016_thesis_vgg16)"
    )


@pytest.mark.parametrize(
    "updates,match",
    [
        (dict(variant="mv2017"), r"config variant='mv2017': choose one of \['mv2016', 'mv2015'\]"),
        (dict(recipe="mv2015"), r"recipe='mv2015' follows Mahendran & Vedaldi 2015 .* pick variant 'mv2015'"),
        (
            dict(variant="mv2015", recipe="mv2016_target"),
            r"recipe='mv2016_target' follows Mahendran & Vedaldi 2016 "
            r".* pick variant 'mv2016'",
        ),
        (dict(recipe="mv2099"), r"unknown inversion recipe 'mv2099'"),
        (dict(images=["coffee", "coffee", "chelsea"]), r"images \['coffee'\] appear more than once"),
    ],
)
def test_fig02_bad_variant_recipe_or_repeated_images_fail_in_one_line(updates, match):
    ex = experiment("restoration_experiments.fig02_vgg16_mv_inversion")
    with pytest.raises(ValueError, match=match) as err:
        ex.run(named_configs=["quick"], config_updates=dict(TINY_FIG02, layers=["conv1_2"], **updates))
    assert "\n" not in str(err.value)


def test_fig01_without_weights_fails_naming_the_file_and_the_fix(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "bvlc_alexnet.npy"
    monkeypatch.setenv("ALEXNET_WEIGHTS", str(missing))
    ex = experiment("restoration_experiments.fig01_alexnet_mv_inversion")
    with pytest.raises(WeightsNotFoundError, match="bvlc_alexnet.npy"):
        ex.run(named_configs=["quick"])
    rec = tracking.latest_run("fig01")
    assert rec.status == "FAILED"
    msg = tracking.failure_message(rec)
    assert "WeightsNotFoundError" in msg and str(missing) in msg and "ALEXNET_WEIGHTS" in msg
