"""bfloat16 and float32 give the same answer within stated tolerances, per hot path and per instruction-set path;
``precision=auto`` resolves by measuring the machine; the switch is a config value recorded in the run.

The three machine kinds, and which tests cover each on any CPU (no test asserts a kernel that TensorFlow does not
choose on the CPU at hand: expected kernels are derived from what TensorFlow enables there):

* Intel Xeon with AMX: the ``AVX512_CORE_AMX`` path of ``test_numerics_under_every_isa_path`` (skipped elsewhere:
  a cap cannot add an ISA);
* AMD EPYC with AVX512-BF16: the ``AVX512_CORE_BF16`` path; ``test_auto_resolves_to_float32_under_an_avx2_cap``'s
  oneDNN branch (TensorFlow keeps oneDNN on, the capped oneDNN refuses bfloat16);
* AMD EPYC with AVX2 only: the ``AVX2`` path (cap plus ``TF_ENABLE_ONEDNN_OPTS=0``, TensorFlow's default there),
  ``test_auto_on_the_avx2_only_kind_takes_float32_and_the_faster_kernel_library``, and the Eigen branch of the
  cap test. On a real AVX2-only CPU the same tests run natively (``make test``'s default environment is that kind).

The numerics tests (``test_numerics_*``) run in this process and again, in child processes, under every oneDNN
instruction-set path this CPU can take (:data:`restoration.machine.ISA_PATHS`): AMX, AVX512-BF16, AVX-512 without
BF16 (oneDNN's emulation), and AVX2 only (Eigen's emulation, as TensorFlow runs bfloat16 on an AVX2-only CPU). A
cap can only lower the ISA, so paths the CPU lacks are skipped and say why.

Tolerances: bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 % per operand). Each tolerance below
is set from the worst path measured on 2026-12-02 (AMD EPYC with AVX512-BF16, every path it can take but AMX;
the AMX path passed the same bounds on 2026-11-26), with the worst value written beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import experiment

from restoration import machine, precision, tracking
from restoration import preimage
from restoration import metrics
from restoration import stacks
from restoration import nets
from restoration.preimage import recipes
from restoration.contract import registry
from restoration.priors.learned import score_matching_loss

PATH_CHILD = "RESTORATION_TEST_ISA_PATH"  # set in the child processes of test_numerics_under_every_isa_path
REPO = Path(__file__).resolve().parents[2]


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def tiny():
    return nets.tiny_vgg(seed=0, channels=(8, 16, 16))


@pytest.fixture
def bfloat16_here():
    """Skip where this very process cannot build bfloat16 kernels: an AVX-512 CPU capped with
    ONEDNN_MAX_CPU_ISA=AVX2 alone (TensorFlow still hands bfloat16 to the capped oneDNN, which refuses it). That
    is no machine kind: an AVX2-only CPU runs bfloat16 on Eigen, and test_numerics_under_every_isa_path runs these
    tests on that path (the cap with oneDNN off) in a child."""
    p = precision.probe()
    if p.bfloat16.failed and not p.bfloat16.ms:
        pytest.skip(
            "bfloat16 cannot run in this process (a capped oneDNN refuses it); the AVX2 path child of "
            "test_numerics_under_every_isa_path runs these numerics as an AVX2-only CPU does"
        )


def test_numerics_net_in_bfloat16_returns_float32_activations_within_2_percent(tiny, rng, bfloat16_here):
    # worst path: 0.67 % (conv3_3/lin, every path alike)
    x = tf.constant(tiny.preprocess(rng.uniform(0, 255, (2, 32, 32, 3))), tf.float32)
    f32 = tiny.features(x, ["conv1_2/relu", "pool2", "conv3_3/lin"])
    bf = tiny.with_precision("bfloat16").features(x, ["conv1_2/relu", "pool2", "conv3_3/lin"])
    for k in f32:
        assert bf[k].dtype == tf.float32
        assert 1e-4 < rel(bf[k], f32[k]) < 2e-2, k  # really computed in bfloat16, and close
    assert tiny.precision == "float32"  # with_precision gives a new view; the net itself is unchanged
    assert tiny.with_precision("bfloat16").digest() != tiny.digest()  # module store / cell keys tell them apart
    assert (
        rel(
            tiny.with_precision("bfloat16").forward_from("pool1", f32["conv1_2/relu"][:, ::2, ::2], "pool2"),
            tiny.forward_from("pool1", f32["conv1_2/relu"][:, ::2, ::2], "pool2"),
        )
        < 2e-2
    )
    with pytest.raises(ValueError, match=r"precision='float16': use 'auto' \(measured on this machine\), 'float32'"):
        nets.build("tiny_vgg", precision="float16")


def test_numerics_optimisation_inversion_reaches_the_same_feature_error(tiny, rng, bfloat16_here):
    # worst path: 8.3 % (AVX512-BF16 and AVX-512: 0.2072 against 0.1914 after 60 steps; Eigen 1.8 %); a tiny net
    # from a random start amplifies rounding differences along the path, so the bound is 10 %
    img = rng.uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    errs = {}
    for pr in ("float32", "bfloat16"):
        res = preimage.invert_layer(
            tiny.with_precision(pr),
            img,
            "conv2_2",
            recipe=recipes.get_recipe("mv2016"),
            n_steps=60,
            report=preimage.QUIET,
        )
        assert res.rgb.dtype == np.float32 and np.isfinite(res.rgb).all()
        # score both results with the float32 net
        x = tf.constant(tiny.preprocess(np.clip(res.rgb, 0, 255)))
        phi, phi0 = tiny(x, "conv2_2").numpy(), tiny(tf.constant(tiny.preprocess(img)), "conv2_2").numpy()
        errs[pr] = float(metrics.normalized_error(phi, phi0))
    assert errs["float32"] < 0.5  # it did optimise
    assert abs(errs["bfloat16"] - errs["float32"]) <= 0.10 * errs["float32"], errs


def test_numerics_inversion_module_in_bfloat16_keeps_float32_weights_and_trains_alike(tiny, rng, bfloat16_here):
    # worst path: first loss 0.013 %, after 30 steps 0.43 % (Eigen)
    spec = stacks.ModuleSpec("DC1", "DC", "pool1", "input", kernel=5, hidden=16)
    x = tf.constant(rng.normal(size=(4, 8, 8, 8)), tf.float32)
    y = tf.constant(rng.normal(size=(4, 16, 16, 3)), tf.float32)
    losses = {}
    for pr in ("float32", "bfloat16"):
        tiny_pr = tiny.with_precision(pr)
        stack = stacks.InversionStack.for_net(tiny_pr, [spec], seed=0)
        assert stack.precision == pr and stack.sub(0, 1).precision == pr and stack.sub(0, 1).models[0].precision == pr
        model = stack.models[0]
        opt = keras.optimizers.Adam(1e-2)
        curve = []
        for _ in range(30):
            with tf.GradientTape() as tape:
                out = model(x, out_hw=(16, 16))
                loss = tf.reduce_mean(tf.square(out - y))
            grads = tape.gradient(loss, model.trainable_variables)
            assert out.dtype == tf.float32 and all(g.dtype == tf.float32 for g in grads)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            curve.append(float(loss))
        assert all(v.dtype == tf.float32 for v in model.trainable_variables)
        losses[pr] = curve
    assert losses["float32"][-1] < 0.8 * losses["float32"][0]
    assert abs(losses["bfloat16"][0] - losses["float32"][0]) < 2e-2 * losses["float32"][0]
    assert abs(losses["bfloat16"][-1] - losses["float32"][-1]) < 5e-2 * losses["float32"][-1]


def test_numerics_score_matching_loss_and_gradient_in_bfloat16(rng, bfloat16_here):
    # bfloat16 operands, float32 products and sums: the same on every path (loss 0.026 %, gradients 0.31 %);
    # before, Eigen's bfloat16-out matmul put the loss 2.7 % off (AVX2-only CPUs) against 0.1 % on oneDNN
    W = tf.Variable(rng.normal(0, 1, (64, 20)).astype(np.float32))
    a = tf.Variable(rng.normal(0, 1, 64).astype(np.float32))
    z = tf.constant(rng.normal(size=(200, 20)).astype(np.float32))
    out = {}
    for pr in ("float32", "bfloat16"):
        with tf.GradientTape() as tape:
            loss = score_matching_loss(W, a, z, "student", precision=pr)
        out[pr] = (float(loss), [g.numpy() for g in tape.gradient(loss, [W, a])])
        assert loss.dtype == tf.float32
    assert 0 < abs(out["bfloat16"][0] - out["float32"][0]) < 2e-3 * abs(out["float32"][0])  # rounded, and close
    for g16, g32 in zip(out["bfloat16"][1], out["float32"][1]):
        assert rel(g16, g32) < 1e-2


def test_numerics_ran_on_the_asked_path():
    """In a path child: the probe's bfloat16 kernels are the path's (so the numerics above really ran on it)."""
    name = os.environ.get(PATH_CHILD)
    if not name:
        pytest.skip("runs inside test_numerics_under_every_isa_path's children")
    probe = precision.run_probe()
    assert probe.bfloat16.ms, probe.bfloat16.failed
    assert machine.isa_path(name).ran(probe.bfloat16.kernels), (name, probe.bfloat16.kernels)


@pytest.mark.parametrize("path", [p.name for p in machine.ISA_PATHS])
def test_numerics_under_every_isa_path(path):
    """The numerics tests again in a child process whose oneDNN (and for AVX2, TensorFlow) takes ``path``."""
    if os.environ.get(PATH_CHILD):
        pytest.skip("already inside a path child")
    isa = machine.isa_path(path)
    ok, why = isa.runnable()
    if not ok:
        pytest.skip(f"{path}: {why}")
    env = {**os.environ, **dict(isa.env), PATH_CHILD: path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(Path(__file__)),
            "-k",
            "numerics and not every_isa_path",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"{path}:\n{tail}"
    assert "5 passed" in proc.stdout, tail


def _timing(pr, ms, kernels=("k",), failed=None):
    return precision.Timing(pr, tuple(ms), tuple(kernels), failed)


def test_decide_takes_bfloat16_only_when_faster_beyond_the_spread_and_within_budget():
    f32 = _timing("float32", [40, 41, 42, 44, 39])
    assert precision.decide(f32, _timing("bfloat16", [20, 21, 22, 20, 23]), 0.02)[0] == "bfloat16"
    slow, why = precision.decide(f32, _timing("bfloat16", [360, 370, 350]), 0.024)
    assert slow == "float32" and "bfloat16 is 8.78x slower" in why and "float32 41.0 ms [39.0-44.0, 5 repeats]" in why
    assert precision.decide(f32, _timing("bfloat16", [35, 36, 35]), 0.02)[0] == "float32"  # 1.17x < 1.2x
    noisy = _timing("float32", [40, 41, 42, 25])
    assert precision.decide(noisy, _timing("bfloat16", [30, 31, 30]), 0.02)[0] == "float32"  # beaten by 25 ms
    off, why = precision.decide(f32, _timing("bfloat16", [20, 21, 20]), 0.09)
    assert off == "float32" and "9.00 % off" in why
    failed, why = precision.decide(f32, _timing("bfloat16", [], (), "could not create a primitive"), None)
    assert failed == "float32" and "could not create a primitive" in why


def _check_library(t: precision.Timing, want: str):
    """``t`` ran on ``want`` as TensorFlow itself reported it in the probe's child, with kernels to match: oneDNN's
    AVX2 kernels under the cap (every kind has AVX2, and a cap is a ceiling), or none of oneDNN's."""
    assert t.ms, t.failed
    assert t.onednn is (want == "onednn"), (want, t)
    if want == "onednn":
        assert any("avx2" in k for k in t.kernels) and not any("avx512" in k for k in t.kernels), t.kernels
    else:
        assert t.kernels == ("eigen",), t.kernels


def test_auto_resolves_to_float32_under_an_avx2_cap():
    """A real probe under ``ONEDNN_MAX_CPU_ISA=AVX2`` alone, whatever this CPU is. The library float32 runs on is
    derived from what TensorFlow enables here (:func:`kernel_library.default_library`: the CPU's flags, or
    ``TF_ENABLE_ONEDNN_OPTS`` where set), never from the machine this test was written on:

    * Intel Xeon with AMX, AMD EPYC with AVX512-BF16: TensorFlow keeps oneDNN on (their VNNI/BF16/AMX flags), so
      float32 runs on oneDNN's AVX2 kernels, and bfloat16 goes to the capped oneDNN, which refuses it;
    * AMD EPYC with AVX2 only (or any CPU with ``TF_ENABLE_ONEDNN_OPTS=0``): oneDNN is off, float32 and bfloat16
      run on Eigen (bfloat16 emulated, far slower), and the probe times float32 with oneDNN on as well.

    Either way auto takes float32; the library is the one :func:`kernel_library.decide` picks from the timings."""
    from restoration import kernel_library

    if not machine.isa_path("AVX2").runnable()[0]:
        pytest.skip("the CPU has no AVX2")
    env = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    default = kernel_library.default_library(machine.cpu_info()[1], {**kernel_library.user_environ(), **env})
    p = precision.run_probe(env=env)
    assert p.chosen == "float32", p.reason
    assert p.library_default == default
    _check_library(p.float32, default)
    if default == "onednn":
        assert p.module_default is None and p.module_other is None
        assert not p.bfloat16.ms and p.bfloat16.failed and "bfloat16 could not run here" in p.reason
        assert p.library == "onednn"
    else:
        _check_library(p.module_default, "eigen")
        _check_library(p.module_other, "onednn")
        assert p.bfloat16.kernels == ("eigen",) and p.speedup < 1, p.reason
        assert p.library == kernel_library.decide(p.module_default, p.module_other, "eigen")[0], p.library_reason


def test_auto_on_the_avx2_only_kind_takes_float32_and_the_faster_kernel_library():
    """An AVX2-only CPU (AMD EPYC Zen 2/3) as TensorFlow runs it by default, emulated on any CPU with AVX2 by the
    cap plus ``TF_ENABLE_ONEDNN_OPTS=0`` (:data:`machine.ISA_PATHS`): float32 and bfloat16 on Eigen, bfloat16
    emulated and far slower (11.6x on the probe's step, 2026-12-02); float32 also timed with oneDNN on. The
    decision is asserted, not which library wins: that is the machine's to measure."""
    from restoration import kernel_library

    avx2 = machine.isa_path("AVX2")
    if not avx2.runnable()[0]:
        pytest.skip("the CPU has no AVX2")
    p = precision.run_probe(env=dict(avx2.env))
    assert p.library_default == "eigen"
    _check_library(p.float32, "eigen")
    _check_library(p.module_default, "eigen")
    _check_library(p.module_other, "onednn")
    assert len(p.module_other.ms) == precision.MODULE_ROUNDS * 9  # pooled over the alternated children
    assert p.chosen == "float32" and p.bfloat16.kernels == ("eigen",), p.reason
    assert p.speedup < 1 and "slower on the conv step" in p.reason, p.reason
    assert (p.library, p.library_reason) == kernel_library.decide(p.module_default, p.module_other, "eigen")
    assert p.decided_again() == p  # the cached measurements give the same choice
    shown = precision.describe(p, cached=False)
    assert "float32 module step on onednn:" in shown and f"kernel library auto -> {p.library}" in shown


def test_forced_bfloat16_that_the_kernels_refuse_is_one_line(monkeypatch):
    from restoration import kernel_library

    flags = machine.cpu_info()[1]
    if "avx512f" not in flags or kernel_library.default_library(flags) != "onednn":
        pytest.skip(
            "only oneDNN capped to AVX2 on an AVX-512 CPU refuses bfloat16; where TensorFlow leaves oneDNN off "
            "(an AVX2-only CPU, or TF_ENABLE_ONEDNN_OPTS=0) bfloat16 runs on Eigen"
        )
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # a new machine kind: probed in a child with this cap
    with pytest.raises(ValueError, match=r"precision='bfloat16' cannot run on this machine .*use precision=auto"):
        precision.resolve("bfloat16")
    assert precision.resolve("auto") == "float32" and precision.resolve("float32") == "float32"


def test_probe_is_cached_per_machine_kind_and_a_damaged_cache_is_measured_again(monkeypatch):
    monkeypatch.setattr(precision, "_PROBES", {})  # measured now, into this test's runs folder
    first = precision.probe()
    path = precision._cache_path(first.machine)
    assert json.loads(path.read_text())["chosen"] == first.chosen
    assert precision.probe() is first  # the process keeps it
    monkeypatch.setattr(precision, "_PROBES", {})
    again = precision.probe()  # from the file: same measurements, decided again
    assert again.float32.ms == first.float32.ms and again.chosen == first.chosen
    monkeypatch.setattr(precision, "_PROBES", {})
    path.write_text("{ not json")
    fresh = precision.probe()  # measured again, and the file replaced
    assert fresh.measured_at >= first.measured_at and json.loads(path.read_text())["chosen"] == fresh.chosen
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")  # another kind: another key
    assert precision.MachineKind.here().key() != first.machine.key()


TINY_RUN = dict(
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


def test_auto_is_resolved_and_recorded_with_the_machine_in_the_run():
    ex = experiment(registry.load().figure("fig12_vgg16").module)
    run = ex.run(named_configs=["quick"], config_updates=TINY_RUN)
    rec = tracking.get_run(run._id)
    probe = precision.probe()
    assert rec.status == "COMPLETED" and rec.config["precision"] == "auto"
    prov = rec.info["provenance"]
    assert prov["precision"]["resolved"] == probe.chosen and prov["precision"]["reason"] == probe.reason
    assert prov["machine"]["cpu"] == probe.machine.cpu and prov["machine"]["onednn_isa"] == probe.onednn_isa
    assert set(prov["machine"]["flags"]) <= set(machine.KERNEL_FLAGS)
    lib = prov["kernel_library"]  # TensorFlow is imported in this process: its own word is recorded
    assert lib["tensorflow_default"] == probe.library_default and lib["auto_would_choose"] == probe.library
    assert lib["tensorflow_reports"] in ("onednn", "eigen") and lib["reason"] == probe.library_reason
    from restoration_reports.figure_section import _provenance

    shown = _provenance(rec)
    assert shown["precision"].startswith(f"{probe.chosen} (auto: ") and probe.machine.cpu in shown["machine"]
    assert f"kernel library: {lib['tensorflow_reports']}" in shown["machine"]


def test_precision_is_a_recorded_config_value_of_every_experiment():
    # a forced precision, bfloat16 unless this process cannot build it (an AVX-512 CPU under an AVX2 cap alone)
    p = precision.probe()
    forced = "float32" if p.bfloat16.failed and not p.bfloat16.ms else "bfloat16"
    ex = experiment(registry.load().figure("fig12_vgg16").module)
    run = ex.run(named_configs=["quick"], config_updates={**TINY_RUN, "precision": forced})
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED" and rec.config["precision"] == forced
    assert rec.info["provenance"]["changed"]["precision"] == forced
    with pytest.raises(ValueError, match=r"precision='half'"):
        ex.run(named_configs=["quick"], config_updates={**TINY_RUN, "precision": "half"})
    # every experiment family has the key (tracking.make_experiment's, or the family's own default): auto where
    # the net is the cost, float32 for joint training from scratch and prior training by score matching
    expected = {
        "fig02": "auto",
        "fig06": "auto",
        "prior_compare": "auto",
        "benchmark": "auto",
        "loo_pool1": "auto",
        "fig03_vgg16": "float32",
        "prior_full512": "float32",
        "prior_whitening": "float32",
    }
    for fig_id, want in expected.items():
        ex = experiment(registry.load().figure(fig_id).module)
        cfg = ex.run(command_name="print_config", named_configs=["quick"]).config
        assert cfg["precision"] == want, fig_id
