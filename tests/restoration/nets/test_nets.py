import h5py
import numpy as np
import pytest
import scipy.signal
from helpers import tiny_alexnet_npy

from restoration import data
from restoration import nets
from restoration.errors import UnknownLayerError, WeightsNotFoundError


def test_vgg16_shapes_for_every_layer(hed_vgg16):
    x = np.zeros((2, 64, 48, 3), np.float32)
    feats = hed_vgg16.features(x, list(hed_vgg16.layer_names))
    expected_c = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name, t in feats.items():
        block = int(name[4]) if name.startswith(("conv", "pool")) else None
        div = 2 ** (block - 1) if name.startswith("conv") else 2**block
        assert tuple(t.shape) == (2, 64 // div, 48 // div, expected_c[block]), name
    assert hed_vgg16.output_shape("pool2", 224) == (56, 56, 128)
    assert "fc6" not in hed_vgg16.layer_names[-1]


def test_aliases_and_unknown_layer(hed_vgg16):
    assert hed_vgg16.resolve("conv3_3") == "conv3_3/relu"
    assert hed_vgg16.resolve("relu3_3") == "conv3_3/relu"
    assert hed_vgg16.resolve("bgr_normed") == "input"
    with pytest.raises(UnknownLayerError, match="conv6_1.*Valid names: conv1_1/lin"):
        hed_vgg16.resolve("conv6_1")
    x = np.ones((1, 16, 16, 3), np.float32)
    f = hed_vgg16.features(x, ["conv1_1/lin", "conv1_1", "input"])
    np.testing.assert_allclose(f["conv1_1"], np.maximum(f["conv1_1/lin"], 0))
    np.testing.assert_array_equal(f["input"], x)


def test_hed_kernels_equal_the_file(hed_vgg16):
    with h5py.File(nets.hed_weights_path(), "r") as f:
        np.testing.assert_array_equal(hed_vgg16.params["conv1_1"][0], f["block1/layers/conv2d/vars/0"][()])
        np.testing.assert_array_equal(hed_vgg16.params["conv1_2"][1], f["block1/layers/conv2d_1/vars/1"][()])
        np.testing.assert_array_equal(hed_vgg16.params["conv5_3"][0], f["block5/layers/conv2d_2/vars/0"][()])
    assert "HED" in hed_vgg16.weights_label and "not the ImageNet" in hed_vgg16.weights_label


def test_conv1_1_of_real_image_matches_scipy(hed_vgg16):
    """conv1_1/lin of a real photo equals an independent scipy cross-correlation with the file's kernels."""
    rgb = data.center_crop_resize(data.embedded_images("heldout")[0][1], 40).astype(np.float32)
    x = nets.preprocess(rgb)  # BGR - mean
    ours = hed_vgg16(x[None], "conv1_1/lin").numpy()[0]
    with h5py.File(nets.hed_weights_path(), "r") as f:
        k = f["block1/layers/conv2d/vars/0"][()]
        b = f["block1/layers/conv2d/vars/1"][()]
    ref = np.zeros((40, 40, 64))
    for o in (0, 17, 63):
        acc = sum(scipy.signal.correlate2d(x[..., c], k[..., c, o], mode="same", boundary="fill") for c in range(3))
        ref[..., o] = acc + b[o]
        np.testing.assert_allclose(ours[..., o], ref[..., o], rtol=1e-4, atol=1e-2)


def test_preprocess_roundtrip_and_channel_order():
    rgb = np.array([[[10.0, 20.0, 30.0]]], np.float32)
    bgr = nets.preprocess(rgb)
    np.testing.assert_allclose(bgr[0, 0], [30 - 104.00699, 20 - 116.66877, 10 - 122.67892], rtol=1e-6)
    np.testing.assert_allclose(nets.deprocess(bgr), rgb, atol=1e-4)


def _fake_keras_h5(path, rng):
    with h5py.File(path, "w") as f:
        for name, shape in nets.vgg16_shapes(False).items():
            b, j = name[4], name[6]
            g = f.create_group(f"block{b}_conv{j}")
            g.create_dataset(f"block{b}_conv{j}_W_1:0", data=rng.normal(size=shape).astype(np.float32))
            g.create_dataset(f"block{b}_conv{j}_b_1:0", data=rng.normal(size=shape[-1]).astype(np.float32))


def test_keras_h5_and_caffe_npy_loaders(tmp_path, rng):
    h5 = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    _fake_keras_h5(h5, rng)
    net = nets.vgg16(h5)
    with h5py.File(h5) as f:
        np.testing.assert_array_equal(net.params["conv4_2"][0], f["block4_conv2/block4_conv2_W_1:0"][()])
    assert net.mean_bgr == nets.KERAS_MEAN_BGR
    npy = tmp_path / "vgg16.npy"
    np.save(npy, {k: {"weights": w, "biases": b} for k, (w, b) in net.params.items()}, allow_pickle=True)
    net2 = nets.vgg16(npy)
    np.testing.assert_array_equal(net2.params["conv5_1"][0], net.params["conv5_1"][0])


def test_missing_and_bad_weights_files(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="not found.*nope.h5"):
        nets.vgg16(tmp_path / "nope.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(WeightsNotFoundError, match="cannot read"):
        nets.vgg16(bad)
    with pytest.raises(WeightsNotFoundError, match="bvlc_alexnet.npy.*ALEXNET_WEIGHTS"):
        nets.alexnet(tmp_path / "bvlc_alexnet.npy")


def test_alexnet_from_tiny_npy_file(tmp_path, rng):
    path = tmp_path / "bvlc_alexnet.npy"
    params = tiny_alexnet_npy(path, widths=(8, 8, 8, 8, 8))
    net = nets.alexnet(path)
    assert net.layer_names[:4] == ("conv1/lin", "conv1/relu", "lrn1", "pool1")
    x = rng.normal(0, 50, (1, 227, 227, 3)).astype(np.float32)
    f = net.features(x, ["conv1", "pool1", "conv2/lin", "pool5", "prob"])
    assert f["conv1"].shape == (1, 55, 55, 8) and f["pool1"].shape == (1, 27, 27, 8)
    assert f["pool5"].shape == (1, 6, 6, 8)
    np.testing.assert_allclose(f["prob"].numpy().sum(), 1.0, rtol=1e-5)
    # grouped conv2: output channel 0 only sees input channels 0..3 of pool1 (group 1 of 2)
    pool1 = f["pool1"].numpy()
    lrn_in = net.features(x, ["lrn2"])  # runs through
    w2 = params["conv2"][0]
    centre = pool1[0, 10:15, 10:15, :4]
    expected = np.sum(centre * w2[..., 0]) + params["conv2"][1][0]
    np.testing.assert_allclose(f["conv2/lin"].numpy()[0, 12, 12, 0], expected, rtol=1e-4)
    assert lrn_in["lrn2"].shape == (1, 27, 27, 8)


def test_alexnet_rejects_wrong_shapes(tmp_path, rng):
    path = tmp_path / "bvlc_alexnet.npy"
    params = tiny_alexnet_npy(path, widths=(8, 8, 8, 8, 8))
    params["conv2"][0] = params["conv2"][0][:, :, :2]
    np.save(path, params, allow_pickle=True)
    with pytest.raises(WeightsNotFoundError, match="conv2 kernel has shape"):
        nets.alexnet(path)


def test_tiny_vgg_layers():
    net = nets.tiny_vgg()
    assert net.layer_names == (
        "conv1_1/lin",
        "conv1_1/relu",
        "conv1_2/lin",
        "conv1_2/relu",
        "pool1",
        "conv2_1/lin",
        "conv2_1/relu",
        "conv2_2/lin",
        "conv2_2/relu",
        "pool2",
        "conv3_1/lin",
        "conv3_1/relu",
        "conv3_2/lin",
        "conv3_2/relu",
        "conv3_3/lin",
        "conv3_3/relu",
        "pool3",
    )
    assert net.output_shape("pool2", 32) == (8, 8, 8)
    assert net.layer_hw("pool3", 32) == (4, 4) and net.layer_hw("pool3", (35, 33)) == (4, 4)


# ----------------------------------------------------------------------------------------------------------
# AlexNet against an independent numpy forward pass
# ----------------------------------------------------------------------------------------------------------


def _np_conv(x, w, b, stride, padding, groups):
    """Cross-correlation (N, H, W, C) * (k, k, C/g, O) as Caffe/TF compute it, with TF's SAME padding."""
    n, h, wd, c = x.shape
    k = w.shape[0]
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-wd // stride)
        ph, pw = max((oh - 1) * stride + k - h, 0), max((ow - 1) * stride + k - wd, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    cg, og = c // groups, w.shape[3] // groups
    out = np.zeros((n, oh, ow, w.shape[3]))
    for g in range(groups):
        xg, wg = x[..., g * cg : (g + 1) * cg], w[..., g * og : (g + 1) * og]
        for i in range(k):
            for j in range(k):
                patch = xg[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :]
                out[..., g * og : (g + 1) * og] += patch @ wg[i, j]
    return out + b


def _np_lrn(x, size=5, alpha=1e-4, beta=0.75, k=1.0):
    """Caffe's across-channel LRN: x / (k + alpha / size * sum of squares over ``size`` channels) ** beta."""
    sq = np.pad(x**2, ((0, 0), (0, 0), (0, 0), (size // 2, size // 2)))
    window = sum(sq[..., i : i + x.shape[3]] for i in range(size))
    return x / (k + alpha / size * window) ** beta


def _np_pool(x, k=3, s=2):
    oh, ow = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
    return np.max([x[:, i : i + s * oh : s, j : j + s * ow : s] for i in range(k) for j in range(k)], axis=0)


def alexnet_numpy(params, x):
    """Every named AlexNet activation of ``x`` (N, 227, 227, 3), computed in float64 numpy."""
    out, h = {}, x.astype(np.float64)
    for name, k, stride, pad, groups in nets.ALEXNET_CONVS:
        h = _np_conv(h, params[name][0], params[name][1], stride, pad, groups)
        out[f"{name}/lin"] = h
        h = out[f"{name}/relu"] = np.maximum(h, 0)
        if name in ("conv1", "conv2"):
            h = out[f"lrn{name[-1]}"] = _np_lrn(h)
            h = out[f"pool{name[-1]}"] = _np_pool(h)
    h = out["pool5"] = _np_pool(h)
    h = h.reshape(len(h), -1)  # (H, W, C) order, as TensorFlow flattens and the converted file expects
    for name in ("fc6", "fc7", "fc8"):
        h = out[f"{name}/lin"] = h @ params[name][0] + params[name][1]
        if name != "fc8":
            h = out[f"{name}/relu"] = np.maximum(h, 0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    out["prob"] = e / e.sum(axis=1, keepdims=True)
    return out


def test_alexnet_matches_an_independent_numpy_forward_pass(tmp_path, rng):
    """Grouped convolutions, Caffe's LRN, VALID 3x3/2 pools, fc layers and softmax, layer by layer."""
    path = tmp_path / "bvlc_alexnet.npy"
    params = tiny_alexnet_npy(path, widths=(6, 8, 6, 8, 4), fc=(12, 10, 7), seed=3)
    net = nets.alexnet(path)
    x = rng.uniform(-120, 130, (2, 227, 227, 3)).astype(np.float32)
    ref = alexnet_numpy(params, x)
    got = net.features(x, list(ref))
    assert set(ref) == set(net.layer_names)
    for layer, want in ref.items():
        have = got[layer].numpy()
        assert have.shape == want.shape, layer
        np.testing.assert_allclose(have, want, rtol=2e-4, atol=2e-4 * np.abs(want).max(), err_msg=layer)
