"""The learned-prior experiments end to end through Sacred on tiny settings: training saves a prior with its
whitening and run, the report payload and artifacts are there, and the comparison runs every arm from it. Every
experiment of the area (and the leave-one-out generalisation check) stores the per-image scores behind its
summary, under the summary's qualifiers."""

import numpy as np
import pytest
from helpers import experiment

from restoration import tracking
from restoration.priors import learned as learned_priors
from restoration.contract import measures
from restoration.contract import registry
from restoration.contract.payload import Payload

TINY_PRIOR = dict(image_size=32, n_train=600, n_val=100, batch=50, steps=12, hmc_chains=4, hmc_steps=6, progress=False)


def run(fig_id, **updates):
    ex = experiment(registry.load().figure(fig_id).module)
    r = ex.run(named_configs=["quick"], config_updates=updates)
    return r, tracking.get_run(r._id)


PER_IMAGE = ("psnr_mean", "ssim_mean", "mse_mean", "nerr_mean", "feat_err", "map_err")


def assert_per_image_scores(report, n_images=2):
    """Every summary value of a per-image measure has its per-image values under its qualifier, and they average
    to it; returns the payload."""
    payload = Payload.from_dict(report)
    checked = 0
    for key, value in payload.summary.items():
        base, qualifier = measures.split_key(key)
        if base not in PER_IMAGE:
            continue
        ids, values = payload.image_scores(key)
        assert len(ids) % n_images == 0 and len(set(ids)) == len(ids), (key, ids)
        assert np.mean(values) == pytest.approx(value, rel=1e-6, abs=1e-9), key
        checked += 1
    assert checked and set(payload.scores) == {
        measures.split_key(k)[1] for k in payload.summary if measures.split_key(k)[0] in PER_IMAGE
    }
    return payload


def test_prior_training_saves_the_prior_with_its_run_and_reports_it():
    r, rec = run("prior_full512", **TINY_PRIOR)
    assert rec.status == "COMPLETED"
    assert set(rec.artifact_names) >= {
        "prior_full512_filters.png",
        "prior_full512_loss.png",
        "prior_full512_samples.png",
    }
    p = learned_priors.load_prior("full512", tracking.runs_dir())
    assert p.run_id == r._id and p.W.shape == (512, 191) and p.whitening.d == 191
    s = rec.report["summary"]
    assert np.isfinite(s["sm_loss"]) and 0 <= s["natural_lower"] <= 1 and 0 <= s["accept_rate"] <= 1
    assert rec.metrics()["score_matching/heldout_loss"][0][-1] == 12
    # the photos it saw: natural photographs only (issue 17), named in the report and stored with the prior
    assert p.photos == ["astronaut", "coffee", "stereo_motorcycle"] and p.photo_source == "scikit-image's embedded set"
    assert any(
        par.startswith("Photos the prior saw: astronaut, coffee, stereo_motorcycle (")
        for par in rec.report["paragraphs"]
    )


@pytest.mark.parametrize("fig_id,shape", [("prior_cica_conv1", (4, 150, 64)), ("prior_conv2_reduced", (512, 72))])
def test_feature_map_priors_train_on_the_net_layer(fig_id, shape):
    r, rec = run(fig_id, net="tiny_vgg", weights=None, **TINY_PRIOR)
    assert rec.status == "COMPLETED"
    name = {"prior_cica_conv1": "cica_conv1", "prior_conv2_reduced": "conv2_reduced"}[fig_id]
    p = learned_priors.load_prior(name, tracking.runs_dir())
    assert p.W.shape == shape and p.spec.patch.layer in ("conv1_2/lin", "conv2_1/lin")


def test_the_comparison_runs_every_arm_and_the_sweep():
    for fig in ("prior_full512", "prior_cica_image"):
        run(fig, **TINY_PRIOR)
    r, rec = run(
        "prior_compare",
        net="tiny_vgg",
        weights=None,
        size=32,
        layers=["conv2_2", "conv3_3"],
        priors=["full512", "cica_image"],
        steps=3,
        thesis_steps=2,
        sweep_scales=[0.1, 10.0],
        progress=False,
    )
    assert rec.status == "COMPLETED"
    s = rec.report["summary"]
    for arm in ("none", "mv2016", "full512", "cica_image"):
        for la in ("conv2_2", "conv3_3"):
            assert np.isfinite(s[f"psnr_mean@{arm}/{la}"]) and np.isfinite(s[f"feat_err@{arm}/{la}"])
    tables = {t["title"]: t for t in rec.report["tables"]}
    sweep = next(t for k, t in tables.items() if k.startswith("Prior-weight sweep"))
    assert [row[0] for row in sweep["rows"]] == ["0.1", "10", "30"]
    assert "prior_compare_sweep.png" in rec.artifact_names
    thesis = next(t for k, t in tables.items() if k.startswith("The thesis's procedure"))
    assert [row[0] for row in thesis["rows"]] == [
        "MSE only",
        "full512, weight 1e-07",
        "full512, weight 1e-06",
        "full512, weight 1e-05",
        "full512, weight 0.0001 (the thesis's)",
    ]
    main = next(t for k, t in tables.items() if k.startswith("M&V 2016's recipe"))
    weights = {(r[0], r[1]): r[2] for r in main["rows"]}
    assert weights[("mv2016", "conv2_2")] == "" and float(weights[("full512", "conv2_2")]) > 0
    payload = assert_per_image_scores(rec.report)
    assert payload.scores["full512/conv3_3"].images == ["chelsea", "rocket"]
    assert payload.scores["full512"].images == [
        "conv2_2/chelsea",
        "conv2_2/rocket",
        "conv3_3/chelsea",
        "conv3_3/rocket",
    ]
    assert set(payload.scores["none/conv2_2"].values) == {"psnr_mean", "ssim_mean", "mse_mean", "nerr_mean", "feat_err"}


def test_the_comparison_without_its_priors_names_the_target_that_trains_them():
    with pytest.raises(FileNotFoundError, match="make reproduce-prior_full512"):
        run(
            "prior_compare",
            net="tiny_vgg",
            weights=None,
            size=32,
            layers=["conv2_2"],
            priors=["full512"],
            steps=2,
            progress=False,
        )


def test_the_feature_map_experiment_runs_with_and_without_its_prior():
    run("prior_cica_conv1", net="tiny_vgg", weights=None, **TINY_PRIOR)
    r, rec = run(
        "prior_featmap",
        net="tiny_vgg",
        weights=None,
        size=32,
        priors=["cica_conv1"],
        mse_steps=3,
        prior_steps=3,
        project_steps=3,
        progress=False,
    )
    assert rec.status == "COMPLETED" and "prior_featmap_maps.png" in rec.artifact_names
    s = rec.report["summary"]
    assert {"map_err@none", "map_err@cica_conv1", "psnr_mean@true", "map_err@true"} <= set(s)
    assert s["map_err@true"] == 0.0
    payload = assert_per_image_scores(rec.report)
    assert payload.scores["cica_conv1"].images == ["chelsea", "rocket"]
    assert payload.scores["true"].values["map_err"] == [0.0, 0.0]


def test_an_image_prior_cannot_be_put_on_a_feature_map():
    run("prior_full512", **TINY_PRIOR)
    with pytest.raises(ValueError, match="needs priors of 'conv1_2/lin'"):
        run(
            "prior_featmap",
            net="tiny_vgg",
            weights=None,
            size=32,
            priors=["full512"],
            mse_steps=2,
            prior_steps=2,
            project_steps=2,
            progress=False,
        )


def test_the_combined_priors_experiment_runs_every_arm():
    run("prior_full512_logistic", **TINY_PRIOR)
    for fig in ("prior_conv2_reduced", "prior_conv3_reduced"):
        run(fig, net="tiny_vgg", weights=None, **TINY_PRIOR)
    r, rec = run(
        "prior_combined",
        net="tiny_vgg",
        weights=None,
        size=32,
        loss_layer="conv3_3",
        conv3_priors=["conv3_reduced"],
        feature_scales=[1.0],
        steps=3,
        progress=False,
    )
    assert rec.status == "COMPLETED" and "prior_combined_grid.png" in rec.artifact_names
    rows = rec.report["tables"][0]["rows"]
    assert [r[0] for r in rows] == [
        "arm 0: mv2016 (alpha + TV)",
        "arm 1: image prior full512_logistic",
        "arm 2: image + conv2_reduced + conv3_reduced, feature scale 1",
    ]
    assert set(assert_per_image_scores(rec.report).scores) == {"arm0", "arm1", "arm2"}


def test_the_whitening_variants_train_and_invert_each():
    r, rec = run(
        "prior_whitening",
        net="tiny_vgg",
        weights=None,
        size=32,
        layer="conv3_3",
        n_components=16,
        train_size=32,
        n_train=600,
        n_val=100,
        train_steps=4,
        steps=3,
        progress=False,
    )
    assert rec.status == "COMPLETED"
    rows = rec.report["tables"][0]["rows"]
    assert len(rows) == 4 and [r[1] for r in rows] == [191, 191, 189, 191]
    payload = assert_per_image_scores(rec.report)
    assert set(payload.scores) == {f"variant{k}" for k in range(4)}
    assert "natural_lower" not in payload.scores["variant0"].values  # a share of patches, not of images
    assert any(
        p.startswith("Photos the prior saw: astronaut, coffee, stereo_motorcycle (") for p in rec.report["paragraphs"]
    )


def test_leave_one_out_stores_every_photos_scores():
    """The generalisation check (experiments/_generalisation.py): one score per photo, each from the fold that
    left it out, under the unqualified summary."""
    from restoration import data

    ex = experiment(registry.load().figure("loo_pool1").module)
    r = ex.run(
        named_configs=["quick"],
        config_updates=dict(
            net="tiny_vgg",
            crop=16,
            batch_size=4,
            steps=2,
            eval_size=24,
            eval_per_image=1,
            log_every=1,
            eval_every=2,
            ckpt_every=2,
            rows=2,
        ),
    )
    rec = tracking.get_run(r._id)
    payload = assert_per_image_scores(rec.report, n_images=1)
    assert payload.scores[""].images == [n for n, _ in data.embedded_images("all")]
    table = {row[0]: row[1] for row in rec.report["tables"][0]["rows"]}
    assert [round(v, 2) for v in payload.scores[""].values["psnr_mean"]] == [
        table[n] for n in payload.scores[""].images
    ]
