"""The nets' layer names and aliases as pure Python, so a command can check a name before TensorFlow starts.

The architectures are declared here once (:data:`VGG16_BLOCKS`, :data:`ALEXNET_CONVS`);
:mod:`restoration.nets.feature_net` builds its operations from the same declarations and takes its aliases from
:func:`aliases`, so a :class:`LayerTable` and a built :class:`~restoration.nets.FeatureNet` name the same layers
(a test compares them for every net).

>>> table("vgg16").resolve("relu3_3")
'conv3_3/relu'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping

from restoration.errors import UnknownLayerError

VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
"""Output channels of each VGG16 conv, block by block; every block ends in a 2x2/2 max-pool."""

ALEXNET_CONVS = (  # name, kernel, stride, padding, groups
    ("conv1", 11, 4, "VALID", 1),
    ("conv2", 5, 1, "SAME", 2),
    ("conv3", 3, 1, "SAME", 1),
    ("conv4", 3, 1, "SAME", 2),
    ("conv5", 3, 1, "SAME", 2),
)

FC_NAMES = ("fc6/lin", "fc6/relu", "fc7/lin", "fc7/relu", "fc8/lin", "prob")
"""The fully connected tail (VGG16 only with weights that have it; AlexNet always)."""


def vgg_names(block_sizes: Iterable[int], *, include_fc: bool = False) -> tuple[str, ...]:
    """Canonical names of a VGG-shaped net with ``block_sizes[b]`` convs in block ``b + 1``."""
    names: list[str] = []
    for b, n in enumerate(block_sizes, start=1):
        for j in range(1, n + 1):
            names += [f"conv{b}_{j}/lin", f"conv{b}_{j}/relu"]
        names.append(f"pool{b}")
    return tuple(names) + (FC_NAMES if include_fc else ())


def alexnet_names() -> tuple[str, ...]:
    """Canonical names of Caffe's ``bvlc_alexnet``: conv-relu-lrn-pool twice, three convs, pool5, the fc tail."""
    names: list[str] = []
    for name, *_ in ALEXNET_CONVS:
        names += [f"{name}/lin", f"{name}/relu"]
        if name in ("conv1", "conv2"):
            names += [f"lrn{name[-1]}", f"pool{name[-1]}"]
    return tuple(names) + ("pool5",) + FC_NAMES


def aliases(names: Iterable[str]) -> dict[str, str]:
    """Short names -> canonical ones: ``conv1_1`` and ``relu1_1`` (VGG16) or ``conv1`` and ``relu1`` (AlexNet)
    mean the rectified blob, as Caffe's in-place ReLU makes it; ``fc6`` means ``fc6/relu``; ``fc8`` the logits."""
    names = tuple(names)
    out = {}
    for name in names:
        m = re.fullmatch(r"(conv(\d)_(\d)|conv\d|fc\d)/relu", name)
        if m:
            base = name.split("/")[0]
            out[base] = name
            if m.group(2):
                out[f"relu{m.group(2)}_{m.group(3)}"] = name
            elif base.startswith("conv"):
                out[f"relu{base[4:]}"] = name
    if "fc8/lin" in names:
        out["fc8"] = "fc8/lin"
    return out


@dataclass(frozen=True)
class LayerTable:
    """A net's layer names in forward order and its aliases; :meth:`resolve` is the one place a name is checked."""

    net: str
    names: tuple[str, ...]
    extra: Mapping[str, str] = field(default_factory=dict)

    @cached_property  # computed once: resolve() runs on every feature lookup
    def aliases(self) -> dict[str, str]:
        return {"input": "input", "bgr_normed": "input", **aliases(self.names), **self.extra}

    def resolve(self, layer: str) -> str:
        """Canonical name of ``layer`` (an alias or canonical name); raises :class:`UnknownLayerError`."""
        if not isinstance(layer, str):
            raise UnknownLayerError(f"layer names are strings, got {layer!r}")
        if layer in self.names:
            return layer
        known = self.aliases
        if layer in known:
            return known[layer]
        raise UnknownLayerError(
            f"{self.net} has no layer {layer!r}. Valid names: {', '.join(self.names)} "
            f"(aliases: {', '.join(sorted(a for a in known if a not in self.names))})."
        )


def table(net: str, *, include_fc: bool = False) -> LayerTable:
    """The layer table of ``net`` (``vgg16``, ``alexnet``; ``include_fc`` adds VGG16's fully connected tail,
    which only weights with fc layers have: the default HED trunk has none)."""
    if net == "vgg16":
        return LayerTable(net, vgg_names(map(len, VGG16_BLOCKS), include_fc=include_fc))
    if net == "alexnet":
        return LayerTable(net, alexnet_names())
    raise ValueError(f"no layer table for net {net!r}; use vgg16 or alexnet")
