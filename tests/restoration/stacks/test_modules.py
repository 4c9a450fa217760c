"""Trained inversion modules: shapes, training modes, stacking, checkpoint resume, divergence, persistence.

All on ``nets.tiny_vgg`` (4/8/8 channels) with 16 px images so the file runs in well under a minute.
"""

import numpy as np
import pytest

from restoration import data
from restoration import stacks as M
from restoration import nets
from restoration.stacks import reconstruction as R
from restoration.stacks import training as T
from restoration.errors import DivergenceError
from restoration.optim import TrainSettings

CROP = 16


@pytest.fixture(scope="module")
def net():
    return nets.tiny_vgg(seed=0)


@pytest.fixture(scope="module")
def images():
    return [im for _, im in data.embedded_images("train")]


@pytest.fixture(scope="module")
def heldout():
    return np.stack([im for _, im in data.fixed_crops(data.embedded_images("heldout"), CROP)])


def small_specs(kind="DC"):
    return M.vgg16_pool1_specs(kind=kind, kernel=3, hidden=8)


def settings(steps, **kw):
    return TrainSettings(
        steps=steps,
        lr=kw.pop("lr", 3e-3),
        log_every=kw.pop("log_every", 1),
        eval_every=kw.pop("eval_every", 1000),
        ckpt_every=kw.pop("ckpt_every", 1000),
        progress=False,
        **kw,
    )


def weights_of(stack, name):
    return [np.array(w) for w in stack.models[stack.index(name)].weights]


@pytest.mark.parametrize("kind", M.KINDS)
@pytest.mark.parametrize("size", [CROP, CROP + 1])
def test_module_output_shapes(net, kind, size):
    stack = M.InversionStack.for_net(net, small_specs(kind))
    x = np.zeros((2, size, size, 3), np.float32)
    feats = net.features(net.preprocess(x), ["pool1", "conv1_2/lin", "conv1_1/lin"])
    assert feats["pool1"].shape == (2, 8, 8, 4)
    for spec, model in zip(stack.specs, stack.models):
        inp = x if spec.in_layer == "input" else feats[spec.in_layer]
        want = x.shape if spec.out_layer == "input" else feats[spec.out_layer].shape
        assert tuple(model(inp, out_hw=want[1:3]).shape) == tuple(want), spec
    assert tuple(stack(feats["pool1"], (size, size)).shape) == x.shape
    assert [s.stride for s in stack.specs] == [2, 1, 1]


def test_specs_validate_and_chain(net):
    with pytest.raises(ValueError, match="kind"):
        M.ModuleSpec("X", "CC", "pool1", "conv1_2/lin")
    specs = small_specs()
    with pytest.raises(ValueError, match="do not chain"):
        M.InversionStack([specs[0].bind(net), specs[2].bind(net)])
    with pytest.raises(ValueError, match="bind"):
        M.build_module(specs[0])
    six = [s.bind(net) for s in M.chain_specs(net, "pool2")]
    assert [(s.name, s.in_layer, s.out_layer, s.stride, s.hidden) for s in six] == [
        ("DC6", "pool2", "conv2_2/lin", 2, 8),
        ("DC5", "conv2_2/lin", "conv2_1/lin", 1, 8),
        ("DC4", "conv2_1/lin", "pool1", 1, 8),
        ("DC3", "pool1", "conv1_2/lin", 2, 4),
        ("DC2", "conv1_2/lin", "conv1_1/lin", 1, 4),
        ("DC1", "conv1_1/lin", "input", 1, 4),
    ]
    three = M.chain_specs(net, "pool1", hidden=64)
    assert three == M.vgg16_pool1_specs()
    relu = M.chain_specs(net, "pool2", kinds="DCDCDCDCCDCD", targets="relu")
    assert [(s.name, s.in_layer) for s in relu][3:] == [
        ("DC3", "pool1"),
        ("CD2", "conv1_2/relu"),
        ("CD1", "conv1_1/relu"),
    ]
    with pytest.raises(ValueError, match="kinds lists 2 values for 6 modules"):
        M.chain_specs(net, "pool2", kinds=["DC", "CD"])


def test_flops_count_macs(net):
    spec = M.ModuleSpec("DC3", "DC", "pool1", "conv1_2/lin", kernel=5, hidden=64).bind(net)
    # deconv 8x8x4 -> 16x16x64: every input pixel touches 25 outputs x 4 x 64; conv 16x16: 25 x 64 x 4 per pixel
    assert sum(spec.flops((8, 8))) == 2 * 25 * (8 * 8 * 4 * 64 + 16 * 16 * 64 * 4)


def test_odd_crops_train_and_reconstruct_at_their_size(net, images):
    stack = M.InversionStack.for_net(net, small_specs())
    T.train_module(net, stack, "DC3", data.crop_batches(images, crop=15, batch_size=2), settings(1))
    out = R.reconstruct(net, stack, np.zeros((1, 15, 17, 3), np.float32))
    assert out.shape == (1, 15, 17, 3)


def test_training_lowers_the_loss(net, images):
    stack = M.InversionStack.for_net(net, small_specs(), seed=1)
    batch = data.crop_batches(images, crop=CROP, batch_size=8)(0)
    before = R.module_losses(net, stack, batch, chained=False)["DC3"]
    T.train_module(net, stack, "DC3", lambda step: batch, settings(40, lr=1e-2))
    after = R.module_losses(net, stack, batch, chained=False)["DC3"]
    assert after < 0.5 * before, (before, after)


def test_end_to_end_and_joint_lower_their_objectives(net, images, heldout):
    batch = data.crop_batches(images, crop=CROP, batch_size=8)(0)
    for train, n in ((T.train_end_to_end, "e2e"), (T.train_joint, "joint")):
        stack = M.InversionStack.for_net(net, small_specs(), seed=2)
        before = R.module_losses(net, stack, batch, chained=True)
        res = train(net, stack, lambda step: batch, settings(40, lr=1e-2), heldout=heldout)
        after = R.module_losses(net, stack, batch, chained=True)
        assert after["DC1"] < 0.5 * before["DC1"], (n, before, after)
        assert set(res.train_loss) == {"DC3", "DC2", "DC1", n}
        assert set(res.heldout_loss) == {"DC3", "DC2", "DC1", n}
        if n == "e2e":
            assert res.train_loss["e2e"] == pytest.approx(res.train_loss["DC1"])


def test_stacked_training_uses_each_modules_own_target(net, images):
    """A module trained inside train_stack ends up exactly as when trained alone on its operation: its
    input and target are true activations, independent of the other modules."""
    batches = data.crop_batches(images, crop=CROP, batch_size=4, seed=3)
    logged = []
    stacked = M.InversionStack.for_net(net, small_specs(), seed=4)
    init = {s.name: weights_of(stacked, s.name) for s in stacked.specs}
    results = T.train_stack(net, stacked, batches, settings(6), log=lambda *a: logged.append(a))
    assert list(results) == ["DC3", "DC2", "DC1"]
    assert {n for n, _, _ in logged} == {"DC3/train_loss", "DC2/train_loss", "DC1/train_loss"}

    # same DC2 initialisation, different neighbours: DC2 must not see them
    alone = M.InversionStack.for_net(net, small_specs(), seed=4)
    rng = np.random.default_rng(0)
    for name in ("DC3", "DC1"):
        for w in alone.models[alone.index(name)].weights:
            w.assign(rng.normal(size=w.shape).astype(np.float32))
    # DC2's first logged loss is the MSE of its initial output on true conv1_2/lin against true conv1_1/lin
    f = net.features(net.preprocess(batches(0)), ["conv1_2/lin", "conv1_1/lin"])
    out = alone.models[1](f["conv1_2/lin"], out_hw=(CROP, CROP))
    expected = float(np.mean((np.array(out) - np.array(f["conv1_1/lin"])) ** 2))
    first = [v for n, v, s in logged if n == "DC2/train_loss" and s == 1]
    assert first == [pytest.approx(expected, rel=1e-4)]

    T.train_module(net, alone, "DC2", batches, settings(6))
    for a, b, c in zip(weights_of(stacked, "DC2"), weights_of(alone, "DC2"), init["DC2"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert not np.allclose(a, c)


class Kill(Exception):
    pass


def test_checkpoint_resume_continues_from_saved_step(net, images, tmp_path):
    batches = data.crop_batches(images, crop=CROP, batch_size=4, seed=5)

    def killed_at(k):
        def batch_at(step):
            if step == k:
                raise Kill(f"killed at step {step}")
            return batches(step)

        return batch_at

    ref = M.InversionStack.for_net(net, small_specs(), seed=6)
    T.train_module(net, ref, "DC1", batches, settings(8, ckpt_every=2))

    run = M.InversionStack.for_net(net, small_specs(), seed=6)
    with pytest.raises(Kill):
        T.train_module(net, run, "DC1", killed_at(5), settings(8, ckpt_every=2), ckpt_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.index")) == ["ckpt-2.index", "ckpt-4.index"]

    fresh = M.InversionStack.for_net(net, small_specs(), seed=99)  # a new process: different init, restored
    logged = []
    res = T.train_module(
        net, fresh, "DC1", batches, settings(8, ckpt_every=2), ckpt_dir=tmp_path, log=lambda *a: logged.append(a)
    )
    assert res.start_step == 4 and res.steps == 8
    assert [s for _, _, s in logged] == [5, 6, 7, 8]
    for a, b in zip(weights_of(fresh, "DC1"), weights_of(ref, "DC1")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

    # calling again with the same directory: already finished, nothing retrained, last losses reported
    again = T.train_module(net, fresh, "DC1", batches, settings(8, ckpt_every=2), ckpt_dir=tmp_path)
    assert again.start_step == 8 and again.train_loss["DC1"] == pytest.approx(res.train_loss["DC1"])


def test_nan_raises_divergence_and_keeps_last_good_checkpoint(net, images, tmp_path):
    import tensorflow as tf

    batches = data.crop_batches(images, crop=CROP, batch_size=4)

    def poisoned(step):
        b = batches(step)
        if step == 5:
            b[0, 0, 0, 0] = np.nan
        return b

    stack = M.InversionStack.for_net(net, small_specs(), seed=7)
    with pytest.raises(DivergenceError, match=r"step 5.*DC2.*ckpt-4"):
        T.train_module(net, stack, "DC2", poisoned, settings(10, ckpt_every=2), ckpt_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.index")) == ["ckpt-2.index", "ckpt-4.index"]
    # the update with the NaN gradient was not applied: the in-memory weights are finite ...
    assert all(np.isfinite(w).all() for w in weights_of(stack, "DC2"))
    # ... and the kept checkpoint is finite and restorable
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt-4"))
    values = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "trainable_variables" in k]
    assert len(values) == 4 and all(np.isfinite(v).all() for v in values)
    assert int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 4


def test_save_load_round_trip_gives_identical_outputs(net, images, tmp_path):
    stack = M.InversionStack.for_net(net, small_specs("UCC"), seed=8, meta={"note": "test"})
    T.train_stack(net, stack, data.crop_batches(images, crop=CROP, batch_size=2), settings(2))
    npz, js = stack.save(tmp_path / "mods.npz")
    loaded = M.InversionStack.load(npz)
    from_bytes = M.load_stack_bytes(npz.read_bytes(), js.read_bytes())
    assert loaded.specs == stack.specs and loaded.meta["note"] == "test"
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.array(loaded(x, (16, 16))), np.array(stack(x, (16, 16))))
    np.testing.assert_array_equal(np.array(from_bytes(x, (16, 16))), np.array(stack(x, (16, 16))))
    fresh = M.InversionStack.for_net(net, small_specs("UCC"), seed=9)
    assert not np.allclose(np.array(fresh(x, (16, 16))), np.array(stack(x, (16, 16))))  # the comparison can fail


def test_reconstruct_clips_and_keeps_odd_sizes(net):
    stack = M.InversionStack.for_net(net, small_specs())
    img = np.random.default_rng(0).uniform(0, 255, (17, 21, 3)).astype(np.float32)
    out = R.reconstruct(net, stack, img)
    assert out.shape == img.shape and out.min() >= 0 and out.max() <= 255
    with pytest.raises(ValueError, match="needs"):
        stack(np.zeros((1, 5, 5, 4), np.float32), (16, 16))


def test_learning_rate_schedule_is_applied_by_step(net, images):
    """A schedule whose rate drops to ~0 at step 3 freezes the weights from then on, resumed or not."""
    s = TrainSettings(
        steps=6, lr=1e-2, lr_schedule=((0, 1e-2), (3, 1e-12)), progress=False, log_every=1, ckpt_every=1, eval_every=100
    )
    assert [s.lr_at(i) for i in (0, 2, 3, 5)] == [1e-2, 1e-2, 1e-12, 1e-12]
    assert "lr 0.01, 1e-12 from step 3" in s.describe()
    batches = data.crop_batches(images, crop=CROP, batch_size=2)
    stack = M.InversionStack.for_net(net, small_specs(), seed=3)
    before = {}  # step -> the kernel before that step's update

    def batch_at(step):
        before[step] = weights_of(stack, "DC1")[0]
        return batches(step)

    T.train_module(net, stack, "DC1", batch_at, s)
    after = [before[i] for i in range(1, 6)] + [weights_of(stack, "DC1")[0]]
    moved = [not np.allclose(a, b, atol=1e-9) for a, b in zip(after, after[1:])]
    assert moved == [True, True, False, False, False]  # the updates of steps 1, 2 move it; those from 3 on do not
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainSettings(lr_schedule=((5, 1e-3),))


def test_no_checkpoint_with_non_finite_weights_and_resume_skips_a_corrupt_one(net, images, tmp_path):
    import warnings

    batches = data.crop_batches(images, crop=CROP, batch_size=2, seed=2)
    stack = M.InversionStack.for_net(net, small_specs(), seed=5)
    T.train_module(net, stack, "DC1", batches, settings(4, ckpt_every=2), ckpt_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.index")) == ["ckpt-2.index", "ckpt-4.index"]
    # the newest checkpoint overwritten with garbage: a resume falls back to the older one and says so
    for p in tmp_path.glob("ckpt-4.data-*"):
        p.write_bytes(b"garbage" * 10)
    fresh = M.InversionStack.for_net(net, small_specs(), seed=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = T.train_module(net, fresh, "DC1", batches, settings(6, ckpt_every=2), ckpt_dir=tmp_path)
    assert res.start_step == 2 and any("ckpt-4" in s for s in res.skipped)
    assert any("skipped checkpoint" in str(w.message) and "resuming from step 2" in str(w.message) for w in caught)

    # weights that turn non-finite (the loss was finite when computed) are never written
    poisoned = M.InversionStack.for_net(net, small_specs(), seed=7)
    target = tmp_path / "nan"

    def batch_then_poison(step):
        if step == 3:
            w = poisoned.models[poisoned.index("DC1")].weights[0]
            w.assign(np.full(w.shape, np.nan, np.float32))
        return batches(step)

    with pytest.raises(DivergenceError):
        T.train_module(net, poisoned, "DC1", batch_then_poison, settings(6, ckpt_every=2), ckpt_dir=target)
    assert sorted(p.name for p in target.glob("ckpt-*.index")) == ["ckpt-2.index"]


def test_module_store_round_trip_key_and_damaged_entries(net, tmp_path):
    import warnings

    from restoration.stacks.store import ModuleStore

    store = ModuleStore(tmp_path / "store")
    stack = M.InversionStack.for_net(net, small_specs(), seed=1)
    spec = stack.specs[0]
    s1 = TrainSettings(steps=10, lr=1e-3, log_every=1)
    key = ModuleStore.key(net_digest=net.digest(), spec=spec, data_fingerprint="d", settings=s1, seed=0)
    # logging cadence does not change the weights, everything else does
    assert key == ModuleStore.key(
        net_digest=net.digest(),
        spec=spec,
        data_fingerprint="d",
        settings=TrainSettings(steps=10, lr=1e-3, log_every=5, ckpt_every=7),
        seed=0,
    )
    for other in (
        dict(data_fingerprint="e"),
        dict(seed=1),
        dict(settings=TrainSettings(steps=11, lr=1e-3)),
        dict(net_digest=nets.tiny_vgg(seed=1).digest()),
    ):
        kw = dict(net_digest=net.digest(), spec=spec, data_fingerprint="d", settings=s1, seed=0) | other
        assert ModuleStore.key(**kw) != key, other
    assert store.load(key) is None
    arrays = [w.numpy() for w in stack.models[0].weights]
    store.save(key, spec, arrays, {"run_id": 7})
    entry = store.load(key)
    assert entry.meta["run_id"] == 7 and all(np.array_equal(a, b) for a, b in zip(entry.arrays, arrays))
    with pytest.raises(ValueError, match="non-finite"):
        store.save("other", spec, [np.full(2, np.nan)], {})
    (store.path(key) / "weights.npz").write_bytes(b"not a zip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert store.load(key) is None
    assert any("unreadable" in str(w.message) for w in caught)


def test_merged_training_fine_tunes_the_separately_trained_stack(net, images):
    batches = data.crop_batches(images, crop=CROP, batch_size=4, seed=1)
    stack = M.InversionStack.for_net(net, small_specs(), seed=2)
    seen, logged = {}, []
    solo, tuned = T.train_merged(
        net,
        stack,
        batches,
        settings(5),
        settings(4, lr=1e-3),
        log=lambda *a: logged.append(a),
        before_finetune=lambda: seen.update({s.name: weights_of(stack, s.name)[0] for s in stack.specs}),
    )
    assert set(solo) == {"DC3", "DC2", "DC1"} and tuned.steps == 4
    assert {n for n, _, _ in logged} >= {"DC3/train_loss", "merged/sum/train_loss", "merged/DC1/train_loss"}
    assert all(not np.allclose(seen[n], weights_of(stack, n)[0]) for n in seen)  # every module moved


def test_crop_batches_pyramid_flip_and_fingerprint(images):
    a = data.crop_batches(images, crop=24, batch_size=6, seed=1, scales=(1.0, 0.5, 0.25), flip=True)
    b = data.crop_batches(images, crop=24, batch_size=6, seed=1, scales=(1.0, 0.5, 0.25), flip=True)
    np.testing.assert_array_equal(a(3), b(3))
    assert not np.array_equal(a(3), a(4)) and a(3).shape == (6, 24, 24, 3) and a(3).dtype == np.float32
    assert [len(lv) for lv in a.levels] == [3] * len(images)  # every photo is large enough for all three scales
    assert a.fingerprint() == b.fingerprint()
    c = data.crop_batches(images, crop=24, batch_size=6, seed=1, scales=(1.0,), flip=True)
    assert c.fingerprint() != a.fingerprint() and "scales 1, 0.5, 0.25; left-right flips" in a.describe()
    with pytest.raises(ValueError, match="scales"):
        data.crop_batches(images, crop=24, batch_size=6, scales=(2.0,))


def test_a_one_entry_schedule_is_a_constant_rate(net, images):
    s = TrainSettings(steps=2, lr=1.0, lr_schedule=((0, 1e-3),), progress=False)
    stack = M.InversionStack.for_net(net, small_specs(), seed=1)
    res = T.train_module(net, stack, "DC1", data.crop_batches(images, crop=CROP, batch_size=2), s)
    assert res.steps == 2 and s.lr_at(1) == 1e-3


def test_a_damaged_store_entry_is_replaced_by_the_retrained_module(net, tmp_path):
    import warnings

    from restoration.stacks.store import ModuleStore

    store = ModuleStore(tmp_path / "store")
    stack = M.InversionStack.for_net(net, small_specs(), seed=1)
    arrays = [w.numpy() for w in stack.models[0].weights]
    store.save("k", stack.specs[0], arrays, {"run_id": 1})
    (store.path("k") / "weights.npz").write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert store.load("k") is None
        store.save("k", stack.specs[0], arrays, {"run_id": 2})
    assert store.load("k").meta["run_id"] == 2
