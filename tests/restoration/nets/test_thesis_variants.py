"""Issue 17, Figs. 11-13: the thesis's April-May AlexNet conv1 modules (variant ``thesis_5x5``: 5x5 kernels, a
5x5/4 up-sampling, Adam 1e-4, batch 10) beside today's default (11x11, conv1's own 11x11/4 window).

Checked on a tiny AlexNet in the ``bvlc_alexnet.npy`` format (tests/helpers.py): the up-sampling's geometry and
centring, that specs under the default rule keep their dict and seed (module-store keys), the named configs,
and each figure's thesis variant training a few steps end to end through Sacred.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from helpers import experiment, tiny_alexnet_npy

from restoration import tracking
from restoration.nets import geometry
from restoration import stacks
from restoration import nets

ALEX = dict(crop=67, steps=3, eval_size=67, eval_per_image=1, log_every=1, eval_every=2, ckpt_every=2, rows=2)


@pytest.fixture
def alexnet_file(tmp_path):
    path = tmp_path / "bvlc_alexnet.npy"
    tiny_alexnet_npy(path, widths=(4, 8, 8, 8, 8))
    return str(path)


def test_up_kernel_sets_a_5x5_stride_4_up_sampling_centred_on_conv1s_window(alexnet_file):
    net = nets.alexnet(weights=alexnet_file)
    default = stacks.ModuleSpec("CD1", "CD", "conv1/relu", "input", 11, 96).bind(net)
    thesis = stacks.ModuleSpec("CD1", "CD", "conv1/relu", "input", 5, 96, up_kernel=5).bind(net)
    assert default.up == geometry.UpOp(11, 4, "VALID") and default.up_offset == 0
    assert thesis.up == geometry.UpOp(5, 4, "VALID") and thesis.up_offset == 3  # (11 - 5) // 2
    assert "5x5/4 VALID up-sampling shifted 3 px" in thesis.describe()
    # a one-pixel input at (i, j) of the 55 x 55 map: conv1's window for it spans 4i..4i+10 (centre 4i + 5); the
    # 5x5/4 transposed convolution of ones must light 4i+3..4i+7, centred on the same pixel
    x = np.zeros((1, 55, 55, 1), np.float32)
    x[0, 10, 20, 0] = 1.0
    y = stacks._transpose_conv(tf.constant(x), tf.ones((5, 5, 1, 1)), thesis.up, (227, 227), thesis.up_offset).numpy()[
        0, :, :, 0
    ]
    rows, cols = np.nonzero(y)
    assert y.shape == (227, 227)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (43, 47, 83, 87)
    assert (rows.mean(), cols.mean()) == (4 * 10 + 5, 4 * 20 + 5)
    # any crop size: the module's output has the target's size
    for kind in ("CD", "DC", "DD"):
        spec = stacks.ModuleSpec(f"{kind}1", kind, "conv1/relu", "input", 5, 6, up_kernel=5).bind(net)
        layer = stacks.build_module(spec)
        out = layer(tf.zeros((2, 15, 15, 4)), out_hw=(67, 67))
        assert tuple(out.shape) == (2, 67, 67, 3)


def test_specs_under_the_default_rule_keep_their_dict_and_seed_and_bad_up_kernels_are_refused(alexnet_file):
    net = nets.alexnet(weights=alexnet_file)
    plain = stacks.ModuleSpec("DC1", "DC", "conv1/relu", "input", 11, 96)
    assert "up_kernel" not in plain.to_dict()  # module-store keys and saved stacks from before are unchanged
    thesis = stacks.ModuleSpec("DC1", "DC", "conv1/relu", "input", 11, 96, up_kernel=5)
    assert thesis.to_dict()["up_kernel"] == 5 and stacks.ModuleSpec.from_dict(thesis.to_dict()) == thesis
    assert plain.seed_for(0) != thesis.seed_for(0)
    specs = stacks.chain_specs(net, points=("conv1/relu", "input"), kinds="DD", kernel=5, hidden=8, up_kernel=5)
    assert [(s.name, s.kernel, s.up_kernel) for s in specs] == [("DD1", 5, 5)]
    with pytest.raises(ValueError, match="up_kernel must be a positive int"):
        stacks.ModuleSpec("DC1", "DC", "conv1/relu", "input", 5, 96, up_kernel=0)
    with pytest.raises(ValueError, match="UCC module"):
        stacks.ModuleSpec("UCC1", "UCC", "conv1/relu", "input", 5, 96, up_kernel=5)


def test_named_configs_thesis_5x5_sets_the_training_numbers_and_the_default_stays_11x11():
    ex = experiment("restoration_experiments.fig12_alexnet_conv1_dc")
    default = ex.run(command_name="print_config", named_configs=["quick"]).config
    assert default["variant"] == "dc" and default["lr"] == 1e-3 and default["batch_size"] == 16
    cfg = ex.run(command_name="print_config", named_configs=["thesis", "thesis_5x5"]).config
    assert cfg["variant"] == "thesis_5x5" and cfg["lr"] == 1e-4 and cfg["batch_size"] == 10
    assert cfg["steps"] == 3000 and cfg["crop"] == 227  # the thesis profile's other numbers stay
    from restoration_experiments.fig12_alexnet_conv1_dc import FIGURE

    net = nets.alexnet(weights=None)
    (spec,) = FIGURE.variants["thesis_5x5"]["conv1/relu"].specs(net)
    assert (spec.kind, spec.kernel, spec.up_kernel, spec.hidden) == ("DC", 5, 5, 96)
    (spec,) = FIGURE.variants["dc"]["conv1/relu"].specs(net)
    assert (spec.kernel, spec.up_kernel) == (11, None)


@pytest.mark.parametrize(
    "fig,kind", [("fig11_alexnet_conv1_cd", "CD"), ("fig12_alexnet_conv1_dc", "DC"), ("fig13_alexnet_conv1_dd", "DD")]
)
def test_thesis_5x5_variant_builds_5x5_modules_with_stride_4_up_sampling_and_trains(fig, kind, alexnet_file):
    ex = experiment(f"experiments.{fig}")
    run = ex.run(named_configs=["quick", "thesis_5x5"], config_updates={**ALEX, "weights": alexnet_file})
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED"
    assert rec.config["lr"] == 1e-4 and rec.config["batch_size"] == 10
    report = rec.info["report"]
    assert report["variant"].startswith("thesis_5x5: the thesis's April-May module")
    assert report["comparable"]["variant"] == "thesis_5x5"
    (row,) = report["tables"][0]["rows"]
    assert row[0] == f"{kind}1" and row[2] == f"{kind} 5x5, 96 hidden; up 5x5/4 VALID"
    fig_id = fig[:5]
    (spec,) = json.loads(rec.artifact(f"{fig_id}_modules.json"))["specs"]
    assert (spec["kernel"], spec["up_kernel"], spec["op_kernel"], spec["op_stride"]) == (5, 5, 11, 4)
    with np.load(__import__("io").BytesIO(rec.artifact(f"{fig_id}_modules.npz"))) as w:
        shapes = [w[f"{kind}1/{k}"].shape for k in range(4)]
    assert shapes[0][:2] == (5, 5) and shapes[2][:2] == (5, 5)  # both operations' kernels are 5x5
    losses = rec.metrics()[f"{kind}1/train_loss"][1]
    assert len(losses) == 3 and np.all(np.isfinite(losses))
    assert np.isfinite(report["summary"]["psnr_mean"])
