"""The benchmark's FoE rows (issue 17) and its per-image scores, on tiny nets.

``foe_thesis:<prior>`` is the thesis's two-phase prior inversion (``foe_inv_funcs.py``): phase 1 feature MSE
alone, phase 2 MSE plus the prior, phase 2 starting where phase 1 ended; ``prior:<prior>`` stays M&V 2016 with the
prior in place of TV, its own row. The payload carries each cell's per-image scores under the summary's qualifier.
"""

import numpy as np
import pytest
from helpers import experiment, tiny_alexnet_npy

from restoration import benchmark, tracking
from restoration import nets
from restoration.benchmark import Method, TwoPhase
from restoration.contract.payload import Payload
from restoration.priors import tv

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
MEASURES = ("mse_mean", "nmse_thesis", "vgg_score", "psnr_mean", "ssim_mean")


def run(**updates):
    ex = experiment("restoration_experiments.benchmark")
    r = ex.run(named_configs=["quick"], config_updates={**TINY, **updates})
    return r, tracking.get_run(r._id)


def test_the_thesis_two_phases_run_in_order_beside_the_mv_prior_row_with_per_image_scores():
    experiment("restoration_experiments.prior_full512").run(named_configs=["quick"], config_updates=TINY_PRIOR)
    r, rec = run(methods=["prior:full512", "foe_thesis:full512"])
    assert rec.status == "COMPLETED"

    # the two phases, in order: phase 1 logs the feature MSE and no prior, phase 2 both, on steps after phase 1's
    sched = benchmark.two_phase_schedule("tiny_vgg").scaled(4 / 3500)
    assert (sched.mse_steps, sched.prior_steps) == (11, 17)  # VGG16's 10,000 + 15,000, x 4 / 3500
    metrics = rec.metrics()
    for layer in ("conv1_2/lin", "conv2_2/lin"):
        pre = f"tiny_vgg/{layer}/foe_thesis:full512/"
        one = {k[len(pre) + 7 :] for k in metrics if k.startswith(pre + "phase1/")}
        two = {k[len(pre) + 7 :] for k in metrics if k.startswith(pre + "phase2/")}
        assert one == {f"mse/{layer}", "total", "lr"}
        assert two == {f"mse/{layer}", "prior/full512", "total", "lr"}
        steps1 = list(metrics[pre + f"phase1/mse/{layer}"][0])
        steps2 = list(metrics[pre + "phase2/prior/full512"][0])
        assert steps1[0] == 1 and steps1[-1] == 11
        assert steps2[0] == 12 and steps2[-1] == 28
    # the M&V-with-prior row is its own method: M&V's normalised feature loss and the prior, no phases
    mv_names = [k for k in metrics if k.startswith("tiny_vgg/conv1_2/lin/prior:full512/")]
    assert mv_names and not [k for k in mv_names if "phase" in k]

    s = rec.report["summary"]
    for m in ("prior:full512", "foe_thesis:full512"):
        for d in ("conv1", "conv2"):
            for measure in MEASURES:
                assert np.isfinite(s[f"{measure}@tiny_vgg/{m}/{d}"]), (m, d, measure)
    assert s["mse_mean@tiny_vgg/foe_thesis:full512/conv1"] != s["mse_mean@tiny_vgg/prior:full512/conv1"]
    main = rec.report["tables"][0]
    labels = [row[0] for row in main["rows"]]
    assert "prior full512, thesis's 2 phases (MSE, then MSE + prior)" in labels
    assert "M&V 2016 + prior full512 (in place of TV)" in labels
    assert any(
        "tiny_vgg: 11 + 17 steps at lr 0.3" in p
        and "the thesis's 10000 + 15000 at 0.3" in p
        and "conv1 jitter 0 weight 0.0001" in p
        for p in rec.report["paragraphs"]
    )

    # per-image scores, one entry per cell, keyed by the summary's qualifier, ids the photos' names
    payload = Payload.from_dict(rec.report)
    quals = {k.split("@", 1)[1] for k in s}
    assert set(payload.scores) == quals and len(quals) == 4
    for q, sc in payload.scores.items():
        assert sc.images == ["chelsea", "rocket"]
        assert set(sc.values) == set(MEASURES)
        for measure in MEASURES:
            assert np.mean(sc.values[measure]) == pytest.approx(s[f"{measure}@{q}"])
    ids, vals = payload.image_scores("vgg_score@tiny_vgg/foe_thesis:full512/conv2")
    assert ids == ["chelsea", "rocket"] and len(vals) == 2 and all(np.isfinite(vals))

    # a second run takes every cell from the first: same per-image scores under the same ids
    _, rec2 = run(methods=["prior:full512", "foe_thesis:full512"])
    assert not [n for n in rec2.artifact_names if n.startswith("cell_")]
    assert rec2.report["scores"] == rec.report["scores"]


def test_on_alexnet_the_thesis_foe_numbers_follow_the_two_phase_row(tmp_path):
    experiment("restoration_experiments.prior_full512").run(named_configs=["quick"], config_updates=TINY_PRIOR)
    path = tmp_path / "bvlc_alexnet.npy"
    tiny_alexnet_npy(path, widths=(4, 8, 8, 8, 8))
    r, rec = run(
        nets=["alexnet"],
        alexnet_weights=str(path),
        depths=[1, 2],
        size={"alexnet": 67},
        crop={"alexnet": 67},
        methods=["prior:full512", "foe_thesis:full512"],
    )
    assert rec.status == "COMPLETED"
    rows = rec.report["tables"][0]["rows"]
    labels = [row[0] for row in rows]
    foe = "prior full512, thesis's 2 phases (MSE, then MSE + prior)"
    i = labels.index(foe)
    assert rows[i + 1][:4] == ["thesis: FoE image prior", "MSE", "2.8", "543.2"]  # right after our MSE row
    mv = labels.index("M&V 2016 + prior full512 (in place of TV)")
    assert not labels[mv + 1].startswith("thesis: ")  # the M&V-with-prior row has no thesis row
    # AlexNet's settings: 5000 + 5000 at lr 1.0, jitter 3200, scaled by 4 / 3500; conv1/lin weight 1e-6, conv2 3e-3
    metrics = rec.metrics()
    assert metrics["alexnet/conv1/lin/foe_thesis:full512/phase1/mse/conv1/lin"][0][-1] == 6
    assert metrics["alexnet/conv2/lin/foe_thesis:full512/phase2/prior/full512"][0][-1] == 12
    assert any(
        "alexnet: 6 + 6 steps at lr 1, jitter for the first 4 steps" in p
        and "conv1 jitter 0 weight 1e-06" in p
        and "conv2 jitter 1 weight 0.003" in p
        for p in rec.report["paragraphs"]
    )  # T 2 at 227 px -> 1
    assert set(Payload.from_dict(rec.report).scores) == {
        f"alexnet/{m}/{d}" for m in ("prior:full512", "foe_thesis:full512") for d in ("conv1", "conv2")
    }


def test_phase_two_starts_where_phase_one_ended_and_only_it_has_the_prior():
    net = nets.build("tiny_vgg", None, seed=0)
    images = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    sched = TwoPhase(5, 4, 3, 1.0)
    logged = []
    one, two = benchmark.two_phase_inversion(
        net,
        images,
        "conv1_2/lin",
        tv(weight=1e-3, name="prior/tv"),
        sched,
        jitter=0,
        seed=0,
        log=lambda n, v, s: logged.append((n, s)),
        log_every=1,
    )
    assert "prior/tv" not in one.history and "prior/tv" in two.history
    mse = "mse/conv1_2/lin"
    # phase 2's first step is taken at phase 1's final image (no jitter: the same objective value)
    assert two.history[mse][1][0] == pytest.approx(one.terms[mse], rel=1e-4)
    assert one.history[mse][1][-1] < one.history[mse][1][0]  # phase 1 lowered the feature error
    assert two.rgb.shape == images.shape
    assert [s for n, s in logged if n == "phase1/" + mse] == [1, 2, 3, 4, 5]
    assert [s for n, s in logged if n == "phase2/" + mse] == [6, 7, 8, 9]


def test_two_phase_settings_and_bad_input():
    assert benchmark.two_phase_schedule("alexnet") == TwoPhase(5000, 5000, 3200, 1.0)
    assert benchmark.two_phase_schedule("vgg16") == TwoPhase(10_000, 15_000, 6900, 0.3)
    assert benchmark.two_phase_schedule("alexnet").scaled(200 / 3500) == TwoPhase(286, 286, 183, 1.0)
    assert benchmark.two_phase_schedule("vgg16").scaled(200 / 3500, 2.0) == TwoPhase(571, 857, 394, 0.6)
    assert TwoPhase(3, 3, 2, 1.0).scaled(1e-6) == TwoPhase(1, 1, 0, 1.0)  # at least one step per phase
    with pytest.raises(ValueError, match="mse_steps=0 must be a positive integer"):
        TwoPhase(0, 5, 0, 1.0)
    with pytest.raises(ValueError, match="lr=-1"):
        TwoPhase(5, 5, 0, -1.0)
    net = nets.build("tiny_vgg", None, seed=0)
    images = np.zeros((1, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="prior must be a weighted Term"):
        benchmark.two_phase_inversion(net, images, "conv1_2/lin", None, TwoPhase(2, 2, 0, 1.0), jitter=0)
    with pytest.raises(ValueError, match=r"images_rgb must have shape \(N, H, W, 3\)"):
        benchmark.two_phase_inversion(net, images[0], "conv1_2/lin", tv(), TwoPhase(2, 2, 0, 1.0), jitter=0)
    with pytest.raises(ValueError, match="name the prior, e.g. 'foe_thesis:full512'"):
        Method.parse("foe_thesis:")


def test_the_thesis_foe_numbers_stand_beside_the_two_phase_row_only():
    assert benchmark.thesis_value("foe_thesis:full512", "vgg_score", "conv1") == 9.5e-6
    assert benchmark.thesis_value("foe_thesis:full512", "mse", "conv5") == 2317.4
    assert benchmark.thesis_value("prior:full512", "vgg_score", "conv1") is None
    foe, mv = Method.parse("foe_thesis:full512"), Method.parse("prior:full512")
    assert (foe.kind, foe.prior, foe.thesis_row) == ("foe_thesis", "full512", "FoE image prior")
    assert (mv.kind, mv.prior, mv.thesis_row) == ("prior", "full512", "")
    assert foe.label != mv.label
