import h5py
import numpy as np
import pytest
import scipy.signal

from restoration import data, nets
from restoration.errors import UnknownLayerError, WeightsNotFoundError


def test_vgg16_shapes_for_every_layer(hed_vgg16):
    x = np.zeros((2, 64, 48, 3), np.float32)
    feats = hed_vgg16.features(x, list(hed_vgg16.layer_names))
    expected_c = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for name, t in feats.items():
        block = int(name[4]) if name.startswith(("conv", "pool")) else None
        div = 2 ** (block - 1) if name.startswith("conv") else 2 ** block
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
        acc = sum(scipy.signal.correlate2d(x[..., c], k[..., c, o], mode="same", boundary="fill")
                  for c in range(3))
        ref[..., o] = acc + b[o]
        np.testing.assert_allclose(ours[..., o], ref[..., o], rtol=1e-4, atol=1e-2)


def test_preprocess_roundtrip_and_channel_order():
    rgb = np.array([[[10.0, 20.0, 30.0]]], np.float32)
    bgr = nets.preprocess(rgb)
    np.testing.assert_allclose(bgr[0, 0], [30 - 104.00699, 20 - 116.66877, 10 - 122.67892], rtol=1e-6)
    np.testing.assert_allclose(nets.deprocess(bgr), rgb, atol=1e-4)


def _fake_keras_h5(path, rng):
    with h5py.File(path, "w") as f:
        for name, shape in nets._vgg16_expected_shapes(False).items():
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


def tiny_alexnet_file(path, rng, widths=(8, 8, 8, 8, 8), fc=(16, 16, 10)):
    """A tiny file in the bvlc_alexnet.npy format: dict layer -> [W, b], conv2/4/5 with 2 groups."""
    params, c_in = {}, 3
    for (name, k, _s, _p, g), c in zip(nets.ALEXNET_CONVS, widths):
        params[name] = [rng.normal(0, 0.1, (k, k, c_in // g, c)).astype(np.float32),
                        rng.normal(0, 0.1, c).astype(np.float32)]
        c_in = c
    n_in = 36 * c_in
    for name, n in zip(("fc6", "fc7", "fc8"), fc):
        params[name] = [rng.normal(0, 0.1, (n_in, n)).astype(np.float32), np.zeros(n, np.float32)]
        n_in = n
    np.save(path, params, allow_pickle=True)
    return params


def test_alexnet_from_tiny_npy_file(tmp_path, rng):
    path = tmp_path / "bvlc_alexnet.npy"
    params = tiny_alexnet_file(path, rng)
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
    params = tiny_alexnet_file(path, rng)
    params["conv2"][0] = params["conv2"][0][:, :, :2]
    np.save(path, params, allow_pickle=True)
    with pytest.raises(WeightsNotFoundError, match="conv2 kernel has shape"):
        nets.alexnet(path)


def test_tiny_vgg_layers():
    net = nets.tiny_vgg()
    assert net.layer_names == ("conv1_1/lin", "conv1_1/relu", "conv1_2/lin", "conv1_2/relu", "pool1",
                               "conv2_1/lin", "conv2_1/relu", "conv2_2/lin", "conv2_2/relu", "pool2",
                               "conv3_1/lin", "conv3_1/relu", "conv3_2/lin", "conv3_2/relu", "conv3_3/lin",
                               "conv3_3/relu", "pool3")
    assert net.output_shape("pool2", 32) == (8, 8, 8)
    assert net.layer_hw("pool3", 32) == (4, 4) and net.layer_hw("pool3", (35, 33)) == (4, 4)
