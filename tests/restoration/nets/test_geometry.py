"""Module geometry derived from a net's own op list, on a net that is neither VGG16 nor AlexNet.

The net: an 11x11 / stride-4 VALID convolution, a ReLU, a 3x3 / stride-2 VALID max pool, a 3x3 SAME
convolution and a 2x2 / stride-2 pool: every kind of window the thesis's nets use, with sizes chosen odd so that
several input sizes map to one output size. Modules must give back exactly the size of their target.
"""

import numpy as np
import pytest
import tensorflow as tf

from restoration.nets import geometry as G
from restoration import stacks as M
from restoration.stacks import reconstruction as R
from restoration.stacks import training as T
from restoration.nets import FeatureNet, IMAGENET_MEAN_BGR, Op
from restoration.optim import TrainSettings


def odd_net(seed=0) -> FeatureNet:
    rng = np.random.default_rng(seed)
    k1 = tf.constant(rng.normal(0, 0.05, (11, 11, 3, 6)), tf.float32)
    k2 = tf.constant(rng.normal(0, 0.2, (3, 3, 6, 5)), tf.float32)
    ops = [
        Op("a/lin", lambda x: tf.nn.conv2d(x, k1, 4, "VALID"), "conv", G.OpGeometry(11, 4, "VALID")),
        Op("a/relu", tf.nn.relu, "relu"),
        Op("p", lambda x: tf.nn.max_pool2d(x, 3, 2, "VALID"), "pool", G.OpGeometry(3, 2, "VALID")),
        Op("b/lin", lambda x: tf.nn.conv2d(x, k2, 1, "SAME"), "conv", G.OpGeometry(3, 1, "SAME")),
        Op("q", lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), "pool", G.OpGeometry(2, 2, "VALID")),
    ]
    return FeatureNet(
        "odd", ops, {}, weights_label="odd test net", mean_bgr=IMAGENET_MEAN_BGR, default_size=67, aliases={}
    )


@pytest.fixture(scope="module")
def net():
    return odd_net()


def test_forward_sizes_match_tensorflow(net):
    for size in (67, 70, 99, 100, 227, 228):
        x = np.zeros((1, size, size + 3, 3), np.float32)
        feats = net.features(x, ["a/lin", "p", "b/lin", "q"])
        for layer, t in feats.items():
            assert net.layer_hw(layer, (size, size + 3)) == tuple(t.shape[1:3]), (layer, size)


def test_span_geometry_finds_the_one_resizing_op(net):
    assert net.span_geometry("a/relu", "input") == G.OpGeometry(11, 4, "VALID")
    assert net.span_geometry("p", "a/lin") == G.OpGeometry(3, 2, "VALID")
    assert net.span_geometry("b/lin", "p") == G.OpGeometry(3, 1, "SAME")  # size-preserving
    with pytest.raises(ValueError, match="2 resizing operations"):
        net.span_geometry("p", "input")
    with pytest.raises(ValueError, match="does not come after"):
        net.span_geometry("input", "p")


@pytest.mark.parametrize("kind", M.KINDS)
@pytest.mark.parametrize("size", [67, 70, 101])
def test_modules_give_back_the_exact_size(net, kind, size):
    specs = M.chain_specs(net, points=("q", "b/lin", "p", "a/relu", "input"), kinds=kind, kernel=3, hidden=4)
    stack = M.InversionStack.for_net(net, specs)
    bound = {s.name: s for s in stack.specs}
    assert bound[f"{kind}2"].up == G.UpOp(3, 2, "VALID")  # the 3x3/2 pool's own window
    assert bound[f"{kind}1"].up == G.UpOp(11, 4, "VALID")  # the conv's own window undoes it
    assert bound[f"{kind}4"].up == G.UpOp(3, 2, "SAME")  # 2x2/2 pool: module kernel, SAME
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size + 1, 3)).astype(np.float32)
    feats = net.features(net.preprocess(x), ["q", "b/lin", "p", "a/relu"])
    for spec, model in zip(stack.specs, stack.models):
        inp = feats[spec.in_layer]
        want = x.shape[1:3] if spec.out_layer == "input" else tuple(feats[spec.out_layer].shape[1:3])
        assert tuple(model(inp, out_hw=want).shape[1:3]) == tuple(want), (spec.name, size)
    assert stack.sizes((size, size + 1))[0] == tuple(feats["q"].shape[1:3])
    assert R.reconstruct(net, stack, x).shape == x.shape


def test_a_strided_valid_module_trains_on_odd_crops(net):
    from restoration import data

    images = [im for _, im in data.embedded_images("train")][:2]
    stack = M.InversionStack.for_net(net, M.chain_specs(net, points=("a/relu", "input"), kernel=5, hidden=4))
    res = T.train_stack(
        net, stack, data.crop_batches(images, crop=69, batch_size=2), TrainSettings(steps=2, lr=1e-3, progress=False)
    )
    assert res["DC1"].steps == 2 and np.isfinite(res["DC1"].train_loss["DC1"])


def test_geometry_functions():
    pool = G.OpGeometry(3, 2, "VALID")
    assert [pool.out_size(n) for n in (55, 56, 57)] == [27, 27, 28]
    assert list(pool.in_sizes(27)) == [55, 56]
    up = pool.up_op(8)
    assert up == G.UpOp(3, 2, "VALID") and up.natural_size(27) == 55
    assert G.OpGeometry(2, 2, "VALID").up_op(5) == G.UpOp(5, 2, "SAME")
    assert G.fit_slices(55, 56) == (0, 1) and G.fit_slices(228, 227) == (1, 0)
    with pytest.raises(ValueError, match="padding"):
        G.OpGeometry(3, 1, "FULL")
    with pytest.raises(ValueError, match="smaller than"):
        G.OpGeometry(11, 4, "VALID").out_size(10)
