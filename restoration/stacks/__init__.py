"""Trained inversion modules: small conv/deconv nets that map one representation of a net back to an earlier one.

A *module* inverts one stretch of a feature net, ``in_layer -> out_layer`` (e.g. VGG16 ``pool1 -> conv1_2/lin``);
modules chain into an :class:`InversionStack` that maps a deep representation back to the image (thesis Ch. 4).
How stacks are trained (stacked, end to end, jointly, merged) is :mod:`restoration.stacks.training`; applying
and scoring them is :mod:`restoration.stacks.reconstruction`.

Geometry comes from the net
---------------------------
A spec names its two layers, its kind, its kernel and hidden width. :meth:`ModuleSpec.bind` reads the rest from
the net's own op list: the channel counts, and the kernel, stride and padding of the one resizing operation the
module undoes (:meth:`restoration.nets.FeatureNet.span_geometry`), from which the module's up-sampling
transposed convolution follows (:meth:`restoration.nets.geometry.OpGeometry.up_op`). A module is always applied
with the exact size of its target (``module(x, out_hw)``), because a strided operation maps several input
sizes to one output size; see :mod:`restoration.nets.geometry`.

Module kinds (``up`` = the up-sampling transposed convolution to the target size; ``k`` = the module's kernel,
``h`` hidden channels; every other convolution is stride 1, SAME)::

    CD   conv k x k (C_in -> h), ReLU      at the input size ; up (h -> C_out)            to the target size
    DC   up (C_in -> h), ReLU              to the target size; conv k x k (h -> C_out)
    DD   up (C_in -> h), ReLU              to the target size; deconv k x k (h -> C_out)
    UCC  nearest resize to the target size; conv k x k (C_in -> h), ReLU; conv k x k (h -> C_out)

so in DC and DD the first operation has the stride, in CD the second (thesis, May 3). For VGG16 the up
operation is a SAME k x k transposed convolution of stride 1 or 2; for AlexNet's conv1 it is an 11x11 / 4 VALID
one (227 px from 55), for its pools 3x3 / 2 VALID (55 from 27, 27 from 13), as in the thesis code
(frhrdr/deep_restoration ``modules/inv_default_modules.py``).

A spec's ``up_kernel`` overrides that rule's kernel (the thesis's April-May AlexNet conv1 modules,
``old/alexnet_layer_1_inversion_model.py``: a 5x5 / 4 deconvolution undoing the 11x11 / 4 conv1). Undoing a VALID
K x K window with a smaller k x k VALID transposed convolution, each input pixel's footprint would start where the
window started instead of being centred where the window was centred, so its output is shifted down and right by
``(K - k) // 2`` pixels (:attr:`ModuleSpec.up_offset`; 3 px for 5 against 11) before it is fitted to the target:
the centring the thesis had at 224 px, where conv1 and the 5x5 / 4 deconvolution were both SAME.

Initialisation: Glorot-uniform kernels and zero biases (Keras' defaults), drawn from a generator seeded by the
stack's seed *and the module's own identity* (name, kind, layers), so a module starts from the same weights in
every stack that contains it: the pool1 modules of the pool2 stack (Fig. 7) equal those of the pool3 stack
(Fig. 8) when trained the same way.

Package ``restoration.stacks``: ``ModuleSpec``, ``InversionStack``, ``chain_specs`` (this module);
:mod:`~restoration.stacks.training` (stacked, end to end, joint, merged), :mod:`~restoration.stacks.reconstruction`
(applying and scoring a stack), :mod:`~restoration.stacks.store` (trained modules kept by what determines them).
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from restoration.nets.geometry import OpGeometry, UpOp, fit_slices

KINDS = ("CD", "DC", "DD", "UCC")
INPUT_NAMES = ("input", "bgr_normed", "image")
TARGETS = ("lin", "relu")
FORMAT = "restoration.stacks/2"


# --------------------------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModuleSpec:
    """One inversion module as data.

    Attributes
    ----------
    name : str
        Unique name within a stack, used for logging, checkpoints and saved weights (e.g. ``"DC3"``).
    kind : {"CD", "DC", "DD", "UCC"}
        Architecture, see the module docstring.
    in_layer, out_layer : str
        Net layer names: the module maps ``phi_in`` (N, h, w, C_in) to ``phi_out`` (N, H, W, C_out).
        ``"input"`` denotes the net's normalised BGR input.
    kernel : int
        Spatial kernel of the module's stride-1 convolution (and of its up-sampling one unless the inverted
        operation is a VALID window, whose own kernel is used then).
    hidden : int
        Channels of the hidden (ReLU) layer.
    in_channels, out_channels : int or None
        Filled by :meth:`bind` from the net.
    op_kernel, op_stride, op_padding : int, int, str or None
        Geometry of the operation the module undoes, filled by :meth:`bind` from the net's op list.
    up_kernel : int or None
        Kernel of the up-sampling transposed convolution when it should not follow the inverted operation
        (None, the default: :meth:`restoration.nets.geometry.OpGeometry.up_op`'s rule); see the module docstring.
    """

    name: str
    kind: str
    in_layer: str
    out_layer: str
    kernel: int = 5
    hidden: int = 64
    in_channels: int | None = None
    out_channels: int | None = None
    op_kernel: int | None = None
    op_stride: int | None = None
    op_padding: str | None = None
    up_kernel: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"module {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        for field in ("kernel", "hidden"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"module {self.name!r}: {field} must be a positive int, got {value!r}")
        if self.up_kernel is not None and (
            isinstance(self.up_kernel, bool) or not isinstance(self.up_kernel, (int, np.integer)) or self.up_kernel < 1
        ):
            raise ValueError(
                f"module {self.name!r}: up_kernel must be a positive int or None (the inverted "
                f"operation's rule), got {self.up_kernel!r}"
            )
        if self.up_kernel is not None and self.kind == "UCC":
            raise ValueError(
                f"module {self.name!r}: a UCC module resizes without a transposed convolution, so "
                f"up_kernel={self.up_kernel} has nothing to set; leave it None"
            )

    def bind(self, net) -> "ModuleSpec":
        """A copy with channel counts and the inverted operation's geometry read from ``net``."""
        in_layer, out_layer = _resolve(net, self.in_layer), _resolve(net, self.out_layer)
        geom = net.span_geometry(in_layer, out_layer)
        return dataclasses.replace(
            self,
            in_layer=in_layer,
            out_layer=out_layer,
            in_channels=_channels(net, in_layer),
            out_channels=_channels(net, out_layer),
            op_kernel=geom.kernel,
            op_stride=geom.stride,
            op_padding=geom.padding,
        )

    @property
    def bound(self) -> bool:
        return None not in (self.in_channels, self.out_channels, self.op_kernel, self.op_stride, self.op_padding)

    @property
    def op_geometry(self) -> OpGeometry:
        """The forward operation this module undoes (maps the target's size to the input's)."""
        self._require_bound()
        return OpGeometry(int(self.op_kernel), int(self.op_stride), str(self.op_padding))

    @property
    def up(self) -> UpOp:
        """The module's up-sampling transposed convolution."""
        g = self.op_geometry
        if self.up_kernel is None:
            return g.up_op(self.kernel)
        rule = g.up_op(int(self.up_kernel))
        return UpOp(int(self.up_kernel), rule.stride, rule.padding)

    @property
    def up_offset(self) -> int:
        """Pixels the up operation's output is shifted down and right before it is fitted to the target: for a
        VALID ``K x K`` window undone by a VALID ``k x k`` transposed convolution, ``(K - k) // 2`` (centres each
        input pixel's footprint where the window's centre was); 0 otherwise, and always for the default rule."""
        up, g = self.up, self.op_geometry
        return (g.kernel - up.kernel) // 2 if up.padding == "VALID" else 0

    @property
    def stride(self) -> int:
        return self.op_geometry.stride

    def describe(self) -> str:
        """``"DC3: pool1 -> conv1_2/lin (DC, 5x5, 64 hidden; undoes 2x2/2 VALID)"``."""
        g = f"; undoes {self.op_geometry.describe()}" if self.bound else ""
        if self.bound and self.up_kernel is not None:
            up = self.up
            g += f" with a {up.kernel}x{up.kernel}/{up.stride} {up.padding} up-sampling" + (
                f" shifted {self.up_offset} px" if self.up_offset else ""
            )
        return (
            f"{self.name}: {self.in_layer} -> {self.out_layer} ({self.kind}, {self.kernel}x{self.kernel}, "
            f"{self.hidden} hidden{g})"
        )

    def flops(self, in_hw: tuple[int, int]) -> tuple[int, int]:
        """Forward FLOPs (2 per multiply-add) of the module's first and second convolution for one image.

        A convolution with kernel k, C_in -> C_out, producing H_out x W_out costs ``2 H_out W_out k^2 C_in C_out``;
        a transposed convolution the same per *input* pixel. Biases, ReLU, resizing and fitting are ignored;
        the output size is the up operation's natural size.
        """
        self._require_bound()
        H, W = int(in_hw[0]), int(in_hw[1])
        up, k2 = self.up, self.kernel**2
        Ho, Wo = up.natural_size(H), up.natural_size(W)
        ci, h, co = self.in_channels, self.hidden, self.out_channels
        u2 = up.kernel**2
        if self.kind == "CD":
            return 2 * k2 * H * W * ci * h, 2 * u2 * H * W * h * co
        if self.kind in ("DC", "DD"):
            return 2 * u2 * H * W * ci * h, 2 * k2 * Ho * Wo * h * co
        return 2 * k2 * Ho * Wo * ci * h, 2 * k2 * Ho * Wo * h * co  # UCC

    def seed_for(self, seed: int) -> list[int]:
        """Seed of this module's initial weights: the stack seed and the module's identity, not its position."""
        ident = f"{self.name}|{self.kind}|{self.in_layer}|{self.out_layer}|{self.kernel}|{self.hidden}"
        if self.up_kernel is not None:  # the default rule keeps the identity (and seed) it always had
            ident += f"|up{int(self.up_kernel)}"
        return [int(seed), zlib.crc32(ident.encode())]

    def to_dict(self) -> dict:
        """The spec's fields; ``up_kernel`` only when set, so specs under the default rule keep the dict (and
        the module-store key) they had before the field existed."""
        d = dataclasses.asdict(self)
        if d["up_kernel"] is None:
            del d["up_kernel"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModuleSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"module spec has unknown keys {sorted(unknown)}; known: {sorted(fields)}")
        return cls(**d)

    def _require_bound(self):
        if not self.bound:
            raise ValueError(f"module {self.name!r} is not bound to a net; call spec.bind(net) first")


def is_input(layer: str) -> bool:
    return layer in INPUT_NAMES


def _resolve(net, layer: str) -> str:
    return "input" if is_input(layer) else net.resolve(layer)


def _channels(net, layer: str) -> int:
    if is_input(layer):
        return 3
    return int(net.output_shape(net.resolve(layer), net.default_size)[-1])


def _per_module(value, n: int, what: str) -> list:
    if isinstance(value, (str, int, np.integer)) or value is None:
        return [value] * n
    values = list(value)
    if len(values) != n:
        raise ValueError(
            f"{what} lists {len(values)} values for {n} modules (deepest first); give one per module or a single value"
        )
    return values


def chain_points(net, top_layer: str, *, targets: str = "lin") -> list[str]:
    """The representations a chain from ``top_layer`` passes, deepest first, ending at ``"input"``.

    Every convolution's output (``/lin`` or ``/relu`` per ``targets``), every pool and every LRN below
    ``top_layer``, then the input: VGG16 ``pool1`` -> ``[pool1, conv1_2/lin, conv1_1/lin, input]``; AlexNet
    ``pool1`` -> ``[pool1, lrn1, conv1/lin, input]`` (the thesis's DC3, DC2, DC1).
    """
    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
    top = net.resolve(top_layer)
    names = list(net.layer_names)
    points = []
    for op in net.ops[: names.index(top)]:
        keep = (
            (op.kind == "conv" and targets == "lin")
            or op.kind in ("pool", "lrn")
            or (op.kind == "relu" and targets == "relu" and net.ops[names.index(op.name) - 1].kind == "conv")
        )
        if keep:
            points.append(op.name)
    return [top] + points[::-1] + ["input"]


def chain_specs(
    net,
    top_layer: str | None = None,
    *,
    points: Sequence[str] | None = None,
    kinds: str | Sequence[str] = "DC",
    kernel: int | Sequence[int] = 5,
    hidden: int | Sequence[int] | None = None,
    targets: str = "lin",
    up_kernel: int | Sequence[int | None] | None = None,
) -> list[ModuleSpec]:
    """One module per step of a chain, deepest first, named ``<kind><i>`` with ``i = 1`` for the module that
    reaches the image (the thesis's DC1 ... DC10).

    ``points`` (deepest first, ending at ``"input"``) defaults to :func:`chain_points` of ``top_layer``.
    ``kinds``, ``kernel`` and ``hidden`` are one value for all or one per module; ``hidden=None`` uses the
    channel count of the module's input layer (the thesis's 64 / 128 / 256 for VGG16 blocks 1 / 2 / 3).
    ``up_kernel`` (one for all or one per module; None = the inverted operation's rule) is
    :attr:`ModuleSpec.up_kernel`. The specs are returned unbound; :meth:`InversionStack.for_net` binds them.
    """
    if points is None:
        if top_layer is None:
            raise ValueError("chain_specs needs top_layer or points")
        points = chain_points(net, top_layer, targets=targets)
    points = [_resolve(net, p) for p in points]
    if len(points) < 2:
        raise ValueError(f"a chain needs at least two points, got {points}")
    n = len(points) - 1
    kinds_l = _per_module(kinds, n, "kinds")
    if isinstance(kinds, str) and len(kinds) == 2 * n and kinds not in KINDS:  # "DCDCCD": two letters a module
        kinds_l = [kinds[2 * i : 2 * i + 2] for i in range(n)]
    kernels, hiddens = _per_module(kernel, n, "kernel"), _per_module(hidden, n, "hidden")
    ups = _per_module(up_kernel, n, "up_kernel")
    specs = []
    for j in range(n):
        src, dst = points[j], points[j + 1]
        h = hiddens[j] if hiddens[j] is not None else _channels(net, src)
        specs.append(
            ModuleSpec(
                f"{kinds_l[j]}{n - j}",
                kinds_l[j],
                src,
                dst,
                int(kernels[j]),
                int(h),
                up_kernel=None if ups[j] is None else int(ups[j]),
            )
        )
    return specs


def vgg16_pool1_specs(*, kind: str = "DC", kernel: int = 5, hidden: int = 64) -> list[ModuleSpec]:
    """The thesis's three VGG16 block-1 modules, deepest first: pool1 -> conv1_2/lin -> conv1_1/lin -> image.

    Settings from frhrdr/deep_restoration ``modules/inv_default_modules.py`` (``vgg16_specs``, DC1-DC3): DC
    modules, 5 x 5 kernels, 64 hidden channels, targets the pre-ReLU conv outputs. The same layer names exist
    in ``nets.tiny_vgg``, so these specs bind to it too.
    """
    return [
        ModuleSpec(f"{kind}3", kind, "pool1", "conv1_2/lin", kernel, hidden),
        ModuleSpec(f"{kind}2", kind, "conv1_2/lin", "conv1_1/lin", kernel, hidden),
        ModuleSpec(f"{kind}1", kind, "conv1_1/lin", "input", kernel, hidden),
    ]


# --------------------------------------------------------------------------------------------------------------
# The module as a Keras layer
# --------------------------------------------------------------------------------------------------------------
def weight_shapes(spec: ModuleSpec) -> list[tuple[str, tuple[int, ...]]]:
    """``[(name, shape)]`` of a bound module's weights in order: first operation's kernel and bias, then the
    second's. Transposed-convolution kernels are ``(k, k, C_out, C_in)`` (TensorFlow's layout)."""
    spec._require_bound()
    k, h, u = spec.kernel, spec.hidden, spec.up.kernel
    ci, co = spec.in_channels, spec.out_channels
    first, second = {
        "CD": ((k, k, ci, h), (u, u, co, h)),
        "DC": ((u, u, h, ci), (k, k, h, co)),
        "DD": ((u, u, h, ci), (k, k, co, h)),
        "UCC": ((k, k, ci, h), (k, k, h, co)),
    }[spec.kind]
    return [("kernel1", first), ("bias1", (h,)), ("kernel2", second), ("bias2", (co,))]


def _glorot(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    receptive = int(np.prod(shape[:-2]))
    limit = np.sqrt(6.0 / ((shape[-2] + shape[-1]) * receptive))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def _transpose_conv(x, kernel, up: UpOp, out_hw: tuple[int, int], offset: int = 0):
    """``up`` applied to ``x`` (N, h, w, C_in) with ``kernel`` (k, k, C_out, C_in), shifted ``offset`` pixels
    down and right (edge-padded at the top/left; cropped there when negative), fitted to ``out_hw``."""
    import tensorflow as tf

    h, w = int(x.shape[1]), int(x.shape[2])
    nat_h, nat_w = up.natural_size(h), up.natural_size(w)
    c_out = int(kernel.shape[2])
    shape = tf.stack([tf.shape(x)[0], nat_h, nat_w, c_out])
    y = tf.nn.conv2d_transpose(x, kernel, shape, strides=up.stride, padding=up.padding)
    y = tf.ensure_shape(y, [None, nat_h, nat_w, c_out])
    if offset > 0:
        y = tf.pad(y, [[0, 0], [offset, 0], [offset, 0], [0, 0]], mode="SYMMETRIC")
    elif offset < 0:
        y = y[:, -offset:, -offset:, :]
    return fit_to(y, out_hw)


def fit_to(y, out_hw: tuple[int, int]):
    """Crop or edge-pad ``y`` (N, H, W, C) at the bottom/right to exactly ``out_hw`` (see geometry.fit_slices)."""
    import tensorflow as tf

    (ch, ph), (cw, pw) = fit_slices(int(y.shape[1]), int(out_hw[0])), fit_slices(int(y.shape[2]), int(out_hw[1]))
    if ch or cw:
        y = y[:, : int(y.shape[1]) - ch, : int(y.shape[2]) - cw, :]
    if ph or pw:
        y = tf.pad(y, [[0, 0], [0, ph], [0, pw], [0, 0]], mode="SYMMETRIC")
    return y


def _conv(x, kernel):
    import tensorflow as tf

    return tf.nn.conv2d(x, kernel, 1, "SAME")


def build_module(spec: ModuleSpec, *, seed: int = 0):
    """The Keras layer of one bound spec: ``layer(x, out_hw)`` maps (N, h, w, C_in) to (N, *out_hw, C_out).

    Spatial sizes are free (any image size), channel counts fixed. Weights: Glorot-uniform kernels and zero
    biases from :meth:`ModuleSpec.seed_for`.
    """
    import keras
    import tensorflow as tf

    if not spec.bound:
        raise ValueError(f"module {spec.name!r} is not bound to a net; call spec.bind(net) before building it")

    class InversionModule(keras.layers.Layer):
        def __init__(self, spec: ModuleSpec, seed: int):
            super().__init__(name=spec.name)
            self.spec = spec
            rng = np.random.default_rng(spec.seed_for(seed))
            self._w = []
            for name, shape in weight_shapes(spec):
                value = _glorot(rng, shape) if name.startswith("kernel") else np.zeros(shape, np.float32)
                self._w.append(
                    self.add_weight(
                        shape=shape, initializer=lambda s, dtype=None, v=value: v, name=name, trainable=True
                    )
                )

        #: compute precision; set by the stack (:meth:`InversionStack.set_precision`). Weights stay float32
        #: variables; in bfloat16 the input and the weights are cast and the output comes back float32.
        precision = "float32"

        def call(self, x, out_hw):
            from restoration.nets import compute_dtype

            dtype = compute_dtype(self.precision)
            out = self._compute(
                tf.cast(tf.convert_to_tensor(x), dtype),
                [tf.cast(w, dtype) for w in self._w],
                (int(out_hw[0]), int(out_hw[1])),
            )
            return tf.cast(out, tf.float32)

        def _compute(self, x, weights, out_hw):
            s = self.spec
            k1, b1, k2, b2 = weights
            if s.kind == "CD":
                hid = tf.nn.relu(_conv(x, k1) + b1)
                return _transpose_conv(hid, k2, s.up, out_hw, s.up_offset) + b2
            if s.kind in ("DC", "DD"):
                hid = tf.nn.relu(_transpose_conv(x, k1, s.up, out_hw, s.up_offset) + b1)
                if s.kind == "DC":
                    return _conv(hid, k2) + b2
                return _transpose_conv(hid, k2, UpOp(s.kernel, 1, "SAME"), out_hw) + b2
            hid = tf.image.resize(x, out_hw, method="nearest")  # UCC
            return _conv(tf.nn.relu(_conv(hid, k1) + b1), k2) + b2

    return InversionModule(spec, seed)


class InversionStack:
    """Trained modules chained deepest first: ``specs[0].in_layer -> ... -> specs[-1].out_layer``.

    Parameters
    ----------
    specs : sequence of ModuleSpec
        Bound specs (see :meth:`ModuleSpec.bind`), each ``out_layer`` equal to the next one's ``in_layer``.
    models : sequence of layers, optional
        Built modules in the same order; built from the specs (seeded by ``seed``) when omitted.
    meta : dict, optional
        JSON-serialisable provenance saved with the weights (net name, weights label, ...).
    """

    def __init__(self, specs: Sequence[ModuleSpec], models=None, meta: dict | None = None, *, seed: int = 0):
        specs = tuple(specs)
        if not specs:
            raise ValueError("an InversionStack needs at least one module spec")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"module names must be unique within a stack, got {names}")
        for a, b in zip(specs, specs[1:]):
            if a.out_layer != b.in_layer:
                raise ValueError(
                    f"modules do not chain: {a.name} ends at {a.out_layer!r} but {b.name} starts "
                    f"at {b.in_layer!r}; order specs deepest first"
                )
        self.specs = specs
        self.models = list(models) if models is not None else [build_module(s, seed=seed) for s in specs]
        self.meta = dict(meta or {})
        self.precision = "float32"

    def set_precision(self, precision: str) -> "InversionStack":
        """Compute every module in ``precision`` (``"bfloat16"``: mixed precision, float32 weights and output)."""
        from restoration.precision import resolve

        self.precision = resolve(precision)  # "auto": this machine's measured choice
        for m in self.models:
            m.precision = self.precision
        return self

    @classmethod
    def for_net(cls, net, specs: Sequence[ModuleSpec], *, seed: int = 0, meta: dict | None = None):
        """Bind ``specs`` to ``net`` and build freshly initialised modules (seeded per module)."""
        meta = {"net": getattr(net, "name", None), "weights_label": getattr(net, "weights_label", None), **(meta or {})}
        stack = cls([s.bind(net) for s in specs], meta=meta, seed=seed)
        return stack.set_precision(getattr(net, "precision", "float32"))

    @property
    def in_layer(self) -> str:
        return self.specs[0].in_layer

    @property
    def out_layer(self) -> str:
        return self.specs[-1].out_layer

    def __len__(self):
        return len(self.specs)

    def index(self, name: str) -> int:
        for i, s in enumerate(self.specs):
            if s.name == name:
                return i
        raise KeyError(f"no module {name!r} in stack; modules: {[s.name for s in self.specs]}")

    def sub(self, start: int = 0, stop: int | None = None) -> "InversionStack":
        """The modules ``start:stop`` as a stack of their own (sharing the trained layers)."""
        return InversionStack(self.specs[start:stop], self.models[start:stop], meta=self.meta).set_precision(
            self.precision
        )

    def sizes(self, out_hw: tuple[int, int]) -> list[tuple[int, int]]:
        """Spatial size of every point of the chain (``in_layer`` first) when the output is ``out_hw``."""
        hw = [(int(out_hw[0]), int(out_hw[1]))]
        for spec in reversed(self.specs):
            hw.append(spec.op_geometry.out_hw(hw[-1]))
        return hw[::-1]

    def in_hw(self, out_hw: tuple[int, int]) -> tuple[int, int]:
        """Size of the stack's input representation for an output of ``out_hw``."""
        return self.sizes(out_hw)[0]

    def __call__(self, x, out_hw: tuple[int, int]):
        """Apply every module in order to ``x`` (N, h, w, C_in); the result has spatial size ``out_hw``."""
        sizes = self.sizes(out_hw)
        if tuple(int(d) for d in x.shape[1:3]) != sizes[0]:
            raise ValueError(
                f"the stack's input {self.in_layer} has size {tuple(x.shape[1:3])}, but an output of "
                f"{tuple(out_hw)} needs {sizes[0]}"
            )
        for model, hw in zip(self.models, sizes[1:]):
            x = model(x, out_hw=hw)
        return x

    # ---- persistence ------------------------------------------------------------------------------------
    def to_json_dict(self) -> dict:
        return {"format": FORMAT, "specs": [s.to_dict() for s in self.specs], "meta": self.meta}

    def weight_arrays(self) -> dict[str, np.ndarray]:
        """``{"<module>/<k>": array}`` with the k-th weight of each module (see :func:`weight_shapes`)."""
        return {
            f"{s.name}/{k}": np.asarray(w.numpy() if hasattr(w, "numpy") else w)
            for s, m in zip(self.specs, self.models)
            for k, w in enumerate(m.weights)
        }

    def set_module_arrays(self, name: str, arrays: Sequence[np.ndarray]) -> None:
        """Assign module ``name``'s weights from arrays in :func:`weight_shapes` order (shapes checked)."""
        model = self.models[self.index(name)]
        if len(arrays) != len(model.weights):
            raise ValueError(f"module {name}: {len(arrays)} arrays for {len(model.weights)} weights")
        for k, (w, value) in enumerate(zip(model.weights, arrays)):
            value = np.asarray(value)
            if tuple(value.shape) != tuple(w.shape):
                raise ValueError(
                    f"module {name} weight {k} has shape {value.shape}, the module expects {tuple(w.shape)}"
                )
            w.assign(value)

    @classmethod
    def from_arrays(cls, spec_json: dict, arrays) -> "InversionStack":
        if spec_json.get("format") != FORMAT:
            raise ValueError(
                f"not a saved module stack of this version: format {spec_json.get('format')!r}, "
                f"expected {FORMAT!r}; retrain it with this code"
            )
        stack = cls([ModuleSpec.from_dict(d) for d in spec_json["specs"]], meta=spec_json.get("meta"))
        for s, m in zip(stack.specs, stack.models):
            keys = [f"{s.name}/{k}" for k in range(len(m.weights))]
            missing = [k for k in keys if k not in arrays]
            if missing:
                raise ValueError(f"saved weights lack {missing} (module {s.name}); the npz does not match the spec")
            stack.set_module_arrays(s.name, [arrays[k] for k in keys])
        return stack

    def save(self, npz_path: str | Path, json_path: str | Path | None = None) -> tuple[Path, Path]:
        """Write weights to ``npz_path`` and specs+meta to ``json_path`` (default: same stem, ``.json``)."""
        npz_path = Path(npz_path)
        json_path = Path(json_path) if json_path is not None else npz_path.with_suffix(".json")
        npz_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(npz_path, **self.weight_arrays())
        json_path.write_text(json.dumps(self.to_json_dict(), indent=2))
        return npz_path, json_path

    @classmethod
    def load(cls, npz_path: str | Path, json_path: str | Path | None = None) -> "InversionStack":
        npz_path = Path(npz_path)
        json_path = Path(json_path) if json_path is not None else npz_path.with_suffix(".json")
        for p in (npz_path, json_path):
            if not p.is_file():
                raise FileNotFoundError(f"module stack file {p} not found; save one with InversionStack.save")
        with np.load(npz_path) as arrays:
            return cls.from_arrays(json.loads(json_path.read_text()), dict(arrays))


def load_stack_bytes(npz_bytes: bytes, json_bytes: bytes) -> InversionStack:
    """Rebuild a stack from the bytes of its saved ``.npz`` and ``.json`` (e.g. run artifacts)."""
    import io

    with np.load(io.BytesIO(npz_bytes)) as arrays:
        return InversionStack.from_arrays(json.loads(json_bytes.decode("utf-8")), dict(arrays))
