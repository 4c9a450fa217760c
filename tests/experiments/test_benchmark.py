"""The benchmark (issue 9) on tiny nets through Sacred: every method fills every cell with finite scores, a
second run takes every cell from the first instead of recomputing, the AlexNet path runs on a tiny
``bvlc_alexnet.npy``, and the library parts (displays, depth layers, evaluation set, the thesis's numbers) are
checked against hand-computed values."""

import io
import json

import numpy as np
import pytest
from helpers import experiment, tiny_alexnet_npy

from restoration import benchmark, tracking
from restoration import nets
from restoration.benchmark import Method

TINY_PRIOR = dict(image_size=32, n_train=600, n_val=100, batch=50, steps=12, hmc_chains=4, hmc_steps=6, progress=False)
TINY = dict(
    nets=["tiny_vgg"],
    depths=[1, 2],
    n_images=2,
    steps=4,
    module_steps=3,
    finetune_steps=2,
    finetune_lr_schedule=[[0, 3e-6], [1, 1e-6]],
    batch_size=2,
    score_net="tiny_vgg",
    score_layers=["conv1_1/relu", "conv2_1/relu"],
    progress=False,
)


def run(**updates):
    ex = experiment("restoration_experiments.benchmark")
    r = ex.run(named_configs=["quick"], config_updates={**TINY, **updates})
    return r, tracking.get_run(r._id)


def test_every_method_fills_every_cell_and_a_second_run_reuses_them():
    prior_ex = experiment("restoration_experiments.prior_full512")
    prior_ex.run(named_configs=["quick"], config_updates=TINY_PRIOR)
    r, rec = run()
    assert rec.status == "COMPLETED"
    s = rec.report["summary"]
    methods = ["mv2016", "mv2016_target", "trained_stacked", "trained_merged", "prior:full512", "foe_thesis:full512"]
    for m in methods:
        for d in ("conv1", "conv2"):
            for measure in ("mse_mean", "nmse_thesis", "vgg_score", "psnr_mean", "ssim_mean"):
                assert np.isfinite(s[f"{measure}@tiny_vgg/{m}/{d}"]), (m, d, measure)
    cells = [n for n in rec.artifact_names if n.startswith("cell_")]
    assert len(cells) == 12
    assert {
        "benchmark_tiny_vgg_mse.png",
        "benchmark_tiny_vgg_vgg_score.png",
        "benchmark_tiny_vgg_grid.png",
        "benchmark_tiny_vgg_nmse_thesis.png",
    } <= set(rec.artifact_names)
    main = rec.report["tables"][0]
    assert main["columns"][2:] == ["conv1", "conv2"] and "conv1 = conv1_2/lin, conv2 = conv2_2/lin" in main["title"]
    assert all(isinstance(v, str) for row in main["rows"] for v in row[2:])  # 4 significant digits, as text
    # the merged fine-tuning changed the modules, so merged and stacked differ, and M&V from the image differs
    # from M&V from noise
    assert s["mse_mean@tiny_vgg/trained_merged/conv2"] != s["mse_mean@tiny_vgg/trained_stacked/conv2"]
    assert s["mse_mean@tiny_vgg/mv2016_target/conv1"] < s["mse_mean@tiny_vgg/mv2016/conv1"]
    # a stored cell holds the reconstructions and the scores the summary shows
    z = np.load(io.BytesIO(rec.artifact(cells[0])))
    assert z["recs"].shape == (2, 32, 32, 3) and set(json.loads(str(z["scores"]))) == {"clip", "minmax"}

    r2, rec2 = run()
    assert rec2.status == "COMPLETED"
    assert not [n for n in rec2.artifact_names if n.startswith("cell_")]  # nothing recomputed
    assert rec2.report["summary"] == pytest.approx(s)
    assert rec2.report["scores"] == rec.report["scores"] and len(rec.report["scores"]) == 12  # per image, per cell
    assert any(f"cells were taken from earlier runs (run {r._id})" in p for p in rec2.report["paragraphs"])
    # a changed setting is a different cell: only the M&V cells and the two phases (scaled by it) are recomputed
    r3, rec3 = run(steps=5)
    assert len([n for n in rec3.artifact_names if n.startswith("cell_")]) == 8


def test_the_alexnet_path_runs_on_a_tiny_bvlc_file(tmp_path):
    path = tmp_path / "bvlc_alexnet.npy"
    tiny_alexnet_npy(path, widths=(4, 8, 8, 8, 8))
    r, rec = run(
        nets=["alexnet"],
        alexnet_weights=str(path),
        depths=[1, 2, 5],
        methods=["mv2016_target", "trained_stacked"],
        size={"alexnet": 67},
        crop={"alexnet": 67},
    )
    assert rec.status == "COMPLETED"
    s = rec.report["summary"]
    assert all(
        np.isfinite(s[f"mse_mean@alexnet/{m}/{d}"])
        for m in ("mv2016_target", "trained_stacked")
        for d in ("conv1", "conv2", "conv5")
    )
    main = rec.report["tables"][0]
    assert main["columns"][2:] == ["conv1", "conv2", "conv5"]
    assert "conv1 = conv1/lin, conv2 = conv2/lin, conv5 = conv5/lin" in main["title"]
    thesis_rows = [row for row in main["rows"] if row[0].startswith("thesis: ")]
    assert ["thesis: M&V 2016", "MSE", "868.6", "1392", "3085"] in thesis_rows  # beside ours, labelled


def test_alexnet_without_weights_is_named_and_skipped(tmp_path):
    r, rec = run(
        nets=["tiny_vgg", "alexnet"], alexnet_weights=str(tmp_path / "none.npy"), methods=["mv2016"], depths=[1]
    )
    assert rec.status == "COMPLETED"
    assert any("AlexNet skipped: no weights at" in p and "none.npy" in p for p in rec.report["paragraphs"])


def test_bad_config_is_one_clear_error():
    ex = experiment("restoration_experiments.benchmark")
    with pytest.raises(ValueError, match="unknown benchmark method 'foe'"):
        ex.run(named_configs=["quick"], config_updates={**TINY, "methods": ["foe"]})
    with pytest.raises(ValueError, match="config depths"):
        ex.run(named_configs=["quick"], config_updates={**TINY, "depths": [0]})


def test_displays_and_the_thesis_numbers():
    x = np.array([[[[-20.0, 100.0, 300.0]]], [[[5.0, 5.0, 5.0]]]])  # (2, 1, 1, 3)
    np.testing.assert_allclose(benchmark.display(x, "clip")[0, 0, 0], [0.0, 100.0, 255.0])
    np.testing.assert_allclose(benchmark.display(x, "minmax")[0, 0, 0], [0.0, 255.0 * 120 / 320, 255.0])
    np.testing.assert_allclose(benchmark.display(x, "minmax")[1], 127.5)  # a constant image: mid-grey
    assert benchmark.thesis_value("trained_merged", "nmse_thesis", "conv3") == 0.0619
    assert benchmark.thesis_value("foe_thesis:full512", "vgg_score", "conv1") == 9.5e-6  # the two-phase row's
    assert benchmark.thesis_value("prior:full512", "vgg_score", "conv1") is None  # M&V + prior: not the thesis's
    assert benchmark.thesis_value("mv2016", "mse", "conv1") is None  # the thesis started M&V from the image
    assert Method.parse("mv2016_target").thesis_row == "M&V 2016"
    assert Method.parse("trained_merged").thesis_row == "trained inverters"


def test_depth_layers_are_the_last_conv_of_each_block():
    vgg = nets.vgg16(weights=None, seed=0)
    assert benchmark.depth_layers(vgg, [1, 3, 5]) == {
        "conv1": "conv1_2/lin",
        "conv3": "conv3_3/lin",
        "conv5": "conv5_3/lin",
    }
    alex = nets.alexnet(weights=None, seed=0)
    assert benchmark.depth_layers(alex, [1, 4], "relu") == {"conv1": "conv1/relu", "conv4": "conv4/relu"}
    with pytest.raises(ValueError, match="no conv6"):
        benchmark.depth_layers(alex, [6])


def test_the_evaluation_set_takes_the_thesis_ids_from_a_folder(tmp_path):
    from skimage import io as skio

    rng = np.random.default_rng(0)
    for i in (7, 53, 99, 160):
        skio.imsave(tmp_path / f"ILSVRC2012_val_{i:08d}.png", rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    named, text = benchmark.evaluation_set(str(tmp_path), 32, 10)
    assert [n for n, _ in named] == ["ILSVRC2012_val_00000053", "ILSVRC2012_val_00000099", "ILSVRC2012_val_00000160"]
    assert "3 of 10" in text and "missing ids [76, 81, 106, 108, 129, 153, 157]" in text
    named, text = benchmark.evaluation_set(None, 32, 2)
    assert [n for n, _ in named] == ["chelsea", "rocket"] and named[0][1].shape == (32, 32, 3)
