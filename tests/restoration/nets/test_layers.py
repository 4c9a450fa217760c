"""The pure-Python layer tables (checked before TensorFlow starts) name exactly the layers the built nets have."""

from __future__ import annotations

import pytest

from restoration import nets
from restoration.errors import UnknownLayerError
from restoration.nets import layers


@pytest.mark.parametrize(
    "name, build, include_fc",
    [
        ("vgg16", lambda: nets.vgg16(None), False),
        ("vgg16", lambda: nets.vgg16(None, include_fc=True), True),
        ("alexnet", lambda: nets.alexnet(None), False),
    ],
)
def test_the_table_matches_the_built_net(name, build, include_fc):
    net, table = build(), layers.table(name, include_fc=include_fc)
    assert table.names == net.layer_names
    assert table.aliases == net.layers.aliases
    for alias in ("conv1", "relu1", "conv3_3", "relu3_3", "fc6", "fc8", "input", "bgr_normed"):
        known = alias in table.aliases or alias in table.names
        assert known == (alias in net.layers.aliases or alias in net.layer_names), alias
        if known:
            assert table.resolve(alias) == net.resolve(alias)


def test_the_tiny_test_net_uses_vgg16s_names():
    net = nets.tiny_vgg()
    assert net.layer_names == layers.vgg_names((2, 2, 3))
    assert net.resolve("relu2_1") == "conv2_1/relu"


def test_an_unknown_layer_lists_the_valid_names():
    with pytest.raises(UnknownLayerError, match=r"vgg16 has no layer 'fc6'\. Valid names: conv1_1/lin.*pool5 "):
        layers.table("vgg16").resolve("fc6")
    assert layers.table("vgg16", include_fc=True).resolve("fc6") == "fc6/relu"
    assert layers.table("alexnet").resolve("relu2") == "conv2/relu"
    with pytest.raises(ValueError, match="no layer table for net 'resnet'"):
        layers.table("resnet")
