"""Trained inversion modules: small conv/deconv nets that map one representation of a net back to an earlier one.

A *module* inverts one stretch of a feature net, ``in_layer -> out_layer`` (e.g. VGG16 ``pool1 -> conv1_2/lin``).
Modules chain into a *stack* that maps a deep representation back to the image, as in the thesis (Ch. 4):

* **stacked** (thesis Fig. 6, :func:`train_stack`): every module is trained on its own operation, on *true*
  activations of the net (input ``phi_in(x)``, target ``phi_out(x)``), then the trained modules are chained;
* **end to end** (thesis Fig. 5, :func:`train_end_to_end`): the same chain trained at once from the deepest
  representation, with a loss only on the final output (the image);
* **joint** (:func:`train_joint`): the chain trained at once with the sum of every module's loss on its
  intermediate target.

All three share one training loop (:func:`_run_loop`): a ``tf.function`` train step traced once per run (fixed
input signature), a tqdm progress bar, a ``log(name, value, step)`` callback that receives
``"<module>/train_loss"`` every ``log_every`` steps and ``"<module>/heldout_loss"`` every ``eval_every`` steps,
checkpoints written as the run goes (``tf.train.CheckpointManager`` under a directory the caller passes; calling
again with the same directory resumes at the saved step), and a NaN/inf guard that raises
:class:`restoration.errors.DivergenceError` *before* the offending update is applied, so the newest checkpoint on
disk is always a finite one.

Loss
----
Mean squared error on the target representation, averaged over batch, height, width and channels:

.. math:: L = \\frac{1}{BHWC} \\sum (\\hat y - \\phi_{out}(x))^2 ,

in the units of that representation (raw activations for feature layers; for the image, the net's normalised
BGR input ``net.preprocess(rgb) = bgr - mean`` in [0, 255] pixel units, so the image loss is the pixel MSE and
``PSNR = 10 log10(255^2 / L)`` for unclipped reconstructions). This is the thesis's ``tf.losses.mean_squared_error``;
no normalisation by the target's energy.

Module kinds (``s`` = ``stride``, the up-sampling factor that undoes a stride-``s`` conv/pool; ``k`` = kernel;
``h`` = hidden channels; all convolutions 'same'-padded; shapes per image)::

    CD   conv k x k (C_in -> h), ReLU            (H, W)      ; deconv k x k stride s (h -> C_out)  (sH, sW)
    DC   deconv k x k stride s (C_in -> h), ReLU (sH, sW)    ; conv k x k (h -> C_out)              (sH, sW)
    DD   deconv k x k stride s (C_in -> h), ReLU (sH, sW)    ; deconv k x k (h -> C_out)            (sH, sW)
    UCC  nearest upsample x s (C_in)   (sH, sW) ; conv k x k (C_in -> h), ReLU ; conv k x k (h -> C_out)

The thesis's final VGG16 setting (frhrdr/deep_restoration, ``modules/inv_default_modules.py``, ``vgg16_specs``)
uses DC modules with 5 x 5 kernels and 64 hidden channels for block 1, targeting the pre-ReLU (``/lin``) conv
outputs: ``DC3: pool1 -> conv1_2/lin`` (stride 2), ``DC2: conv1_2/lin -> conv1_1/lin``, ``DC1: conv1_1/lin ->
image``; see :func:`vgg16_pool1_specs`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from restoration.errors import DivergenceError

LogFn = Callable[[str, float, int], None]
BatchFn = Callable[[int], np.ndarray]

KINDS = ("CD", "DC", "DD", "UCC")
INPUT_NAMES = ("input", "bgr_normed", "image")
FORMAT = "restoration.modules/1"


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
        Net layer names: the module maps ``phi_in`` (N, H, W, C_in) to ``phi_out`` (N, sH, sW, C_out).
        ``"input"`` denotes the net's normalised BGR input.
    kernel : int
        Spatial kernel size of both convolutions.
    hidden : int
        Channels of the hidden (ReLU) layer.
    stride : int
        Up-sampling factor that inverts the stride/pool between ``out_layer`` and ``in_layer`` (1 or 2 for VGG).
    in_channels, out_channels : int or None
        Filled by :meth:`bind` from the net; needed to build the Keras model.
    """

    name: str
    kind: str
    in_layer: str
    out_layer: str
    kernel: int = 5
    hidden: int = 64
    stride: int = 1
    in_channels: int | None = None
    out_channels: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"module {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        for field in ("kernel", "hidden", "stride"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"module {self.name!r}: {field} must be a positive int, got {value!r}")

    def bind(self, net) -> "ModuleSpec":
        """Return a copy with ``in_channels``/``out_channels`` read from ``net`` (layer names are validated)."""
        return dataclasses.replace(
            self,
            in_layer=_resolve(net, self.in_layer),
            out_layer=_resolve(net, self.out_layer),
            in_channels=_channels(net, self.in_layer),
            out_channels=_channels(net, self.out_layer),
        )

    @property
    def bound(self) -> bool:
        return self.in_channels is not None and self.out_channels is not None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModuleSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"module spec has unknown keys {sorted(unknown)}; known: {sorted(fields)}")
        return cls(**d)


def _is_input(layer: str) -> bool:
    return layer in INPUT_NAMES


def _resolve(net, layer: str) -> str:
    return "input" if _is_input(layer) else net.resolve(layer)


def _channels(net, layer: str) -> int:
    if _is_input(layer):
        return 3
    return int(net.output_shape(net.resolve(layer), (32, 32))[-1])


def vgg16_pool1_specs(*, kind: str = "DC", kernel: int = 5, hidden: int = 64) -> list[ModuleSpec]:
    """The thesis's three VGG16 block-1 modules, deepest first: pool1 -> conv1_2/lin -> conv1_1/lin -> image.

    Settings from frhrdr/deep_restoration ``modules/inv_default_modules.py`` (``vgg16_specs``, DC1-DC3): DC
    modules, 5 x 5 kernels, 64 hidden channels, targets the pre-ReLU conv outputs, stride 2 to undo pool1.
    The same layer names exist in ``nets.tiny_vgg``, so these specs bind to it too.
    """
    return [
        ModuleSpec(f"{kind}3", kind, "pool1", "conv1_2/lin", kernel, hidden, stride=2),
        ModuleSpec(f"{kind}2", kind, "conv1_2/lin", "conv1_1/lin", kernel, hidden, stride=1),
        ModuleSpec(f"{kind}1", kind, "conv1_1/lin", "input", kernel, hidden, stride=1),
    ]


def chain_specs(net, top_layer: str, *, kind: str = "DC", kernel: int = 5, hidden: int | None = None,
                variant: str = "lin") -> list[ModuleSpec]:
    """One module per operation from ``top_layer`` down to the image, deepest first.

    The representation points are every conv output (``/lin`` or ``/relu`` per ``variant``) and every pool of
    ``net.layer_names`` up to ``top_layer``, plus the input. A module whose input is a pool gets ``stride=2``.
    ``hidden=None`` uses the channel count of the module's input layer (the thesis used 64/128/256 for VGG16
    blocks 1/2/3). For VGG16, ``top_layer="pool1"`` gives :func:`vgg16_pool1_specs`; ``"pool2"`` gives six modules.
    """
    if variant not in ("lin", "relu"):
        raise ValueError(f"variant must be 'lin' or 'relu', got {variant!r}")
    top = net.resolve(top_layer)
    names = list(net.layer_names)
    if top not in names:
        raise ValueError(f"top_layer {top_layer!r} resolved to {top!r}, which is not in net.layer_names")
    points = ["input"]
    for layer in names[: names.index(top) + 1]:
        if layer.endswith("/" + variant) or layer.startswith("pool") or layer == top:
            if layer not in points and not _is_input(layer):
                points.append(layer)
    if points[-1] != top:
        points.append(top)
    specs = []
    for i in range(len(points) - 1, 0, -1):
        src, dst = points[i], points[i - 1]
        stride = 2 if src.startswith("pool") else 1
        h = hidden if hidden is not None else _channels(net, src)
        specs.append(ModuleSpec(f"{kind}{i}", kind, src, dst, kernel, h, stride=stride))
    return specs


# --------------------------------------------------------------------------------------------------------------
# Keras models
# --------------------------------------------------------------------------------------------------------------
def build_module(spec: ModuleSpec):
    """Keras model of one bound spec: (N, H, W, in_channels) -> (N, stride*H, stride*W, out_channels).

    Spatial dims are left free (``None``) so a trained module applies to any image size whose representation
    has the expected channels; channel counts are fixed. Weights use Keras defaults (Glorot-uniform kernels,
    zero biases), seeded by the caller through ``keras.utils.set_random_seed``.
    """
    import keras

    if not spec.bound:
        raise ValueError(f"module {spec.name!r} has no channel counts; call spec.bind(net) before building it")
    k, h, s = spec.kernel, spec.hidden, spec.stride
    L = keras.layers
    inp = keras.Input(shape=(None, None, spec.in_channels), name=f"{spec.name}_in")
    if spec.kind == "CD":
        x = L.Conv2D(h, k, padding="same", activation="relu", name=f"{spec.name}_conv")(inp)
        out = L.Conv2DTranspose(spec.out_channels, k, strides=s, padding="same", name=f"{spec.name}_deconv")(x)
    elif spec.kind == "DC":
        x = L.Conv2DTranspose(h, k, strides=s, padding="same", activation="relu", name=f"{spec.name}_deconv")(inp)
        out = L.Conv2D(spec.out_channels, k, padding="same", name=f"{spec.name}_conv")(x)
    elif spec.kind == "DD":
        x = L.Conv2DTranspose(h, k, strides=s, padding="same", activation="relu", name=f"{spec.name}_deconv1")(inp)
        out = L.Conv2DTranspose(spec.out_channels, k, padding="same", name=f"{spec.name}_deconv2")(x)
    else:  # UCC
        x = L.UpSampling2D(s, interpolation="nearest", name=f"{spec.name}_up")(inp) if s > 1 else inp
        x = L.Conv2D(h, k, padding="same", activation="relu", name=f"{spec.name}_conv1")(x)
        out = L.Conv2D(spec.out_channels, k, padding="same", name=f"{spec.name}_conv2")(x)
    return keras.Model(inp, out, name=spec.name)


def conv_layer_flops(spec: ModuleSpec, in_hw: tuple[int, int]) -> tuple[int, int]:
    """Forward FLOPs (2 per multiply-add) of the module's first and second (de)convolution for one image.

    A convolution with kernel k, C_in -> C_out, producing H_out x W_out costs ``2 * H_out * W_out * k^2 * C_in *
    C_out``; a stride-s transposed convolution costs the same per *input* pixel (each touches k^2 outputs).
    Biases, ReLU and upsampling are ignored. ``in_hw`` is the module input's spatial size.
    """
    if not spec.bound:
        raise ValueError(f"module {spec.name!r} is not bound to a net")
    H, W = in_hw
    s, k2 = spec.stride, spec.kernel ** 2
    ci, h, co = spec.in_channels, spec.hidden, spec.out_channels
    if spec.kind == "CD":  # conv on H x W, then deconv from H x W
        return 2 * k2 * H * W * ci * h, 2 * k2 * H * W * h * co
    if spec.kind in ("DC", "DD"):  # deconv from H x W (to sH x sW), then (de)conv on sH x sW
        return 2 * k2 * H * W * ci * h, 2 * k2 * (s * H) * (s * W) * h * co
    return 2 * k2 * (s * H) * (s * W) * ci * h, 2 * k2 * (s * H) * (s * W) * h * co  # UCC: upsample first


def conv_flops(spec: ModuleSpec, in_hw: tuple[int, int]) -> int:
    """Forward FLOPs of both of the module's (de)convolutions for one image; see :func:`conv_layer_flops`."""
    return sum(conv_layer_flops(spec, in_hw))


class InversionStack:
    """Trained modules chained deepest first: ``specs[0].in_layer -> ... -> specs[-1].out_layer``.

    Parameters
    ----------
    specs : sequence of ModuleSpec
        Bound specs (see :meth:`ModuleSpec.bind`), each ``out_layer`` equal to the next one's ``in_layer``.
    models : sequence of keras.Model, optional
        Built models in the same order; built from the specs when omitted.
    meta : dict, optional
        JSON-serialisable provenance saved with the weights (net name, weights label, ...).
    """

    def __init__(self, specs: Sequence[ModuleSpec], models=None, meta: dict | None = None):
        specs = tuple(specs)
        if not specs:
            raise ValueError("an InversionStack needs at least one module spec")
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"module names must be unique within a stack, got {names}")
        for a, b in zip(specs, specs[1:]):
            if a.out_layer != b.in_layer:
                raise ValueError(f"modules do not chain: {a.name} ends at {a.out_layer!r} but {b.name} starts "
                                 f"at {b.in_layer!r}; order specs deepest first")
        self.specs = specs
        self.models = list(models) if models is not None else [build_module(s) for s in specs]
        self.meta = dict(meta or {})

    @classmethod
    def for_net(cls, net, specs: Sequence[ModuleSpec], *, seed: int = 0, meta: dict | None = None):
        """Bind ``specs`` to ``net`` and build freshly initialised models (seeded)."""
        import keras

        keras.utils.set_random_seed(seed)
        meta = {"net": getattr(net, "name", None), "weights_label": getattr(net, "weights_label", None),
                **(meta or {})}
        return cls([s.bind(net) for s in specs], meta=meta)

    @property
    def in_layer(self) -> str:
        return self.specs[0].in_layer

    @property
    def out_layer(self) -> str:
        return self.specs[-1].out_layer

    @property
    def total_stride(self) -> int:
        return int(np.prod([s.stride for s in self.specs]))

    def __len__(self):
        return len(self.specs)

    def index(self, name: str) -> int:
        for i, s in enumerate(self.specs):
            if s.name == name:
                return i
        raise KeyError(f"no module {name!r} in stack; modules: {[s.name for s in self.specs]}")

    def __call__(self, x, *, start: int = 0, stop: int | None = None):
        """Apply modules ``start:stop`` in order to ``x`` (N, H, W, C) and return the last output."""
        for model in self.models[start:stop]:
            x = model(x, training=False)
        return x

    # ---- persistence ------------------------------------------------------------------------------------
    def to_json_dict(self) -> dict:
        return {"format": FORMAT, "specs": [s.to_dict() for s in self.specs], "meta": self.meta}

    def weight_arrays(self) -> dict[str, np.ndarray]:
        """``{"<module>/<k>": array}`` with the k-th weight of each model in Keras order."""
        return {f"{s.name}/{k}": np.asarray(w.numpy() if hasattr(w, "numpy") else w)
                for s, m in zip(self.specs, self.models) for k, w in enumerate(m.weights)}

    @classmethod
    def from_arrays(cls, spec_json: dict, arrays) -> "InversionStack":
        if spec_json.get("format") != FORMAT:
            raise ValueError(f"not a saved module stack: format {spec_json.get('format')!r}, expected {FORMAT!r}")
        stack = cls([ModuleSpec.from_dict(d) for d in spec_json["specs"]], meta=spec_json.get("meta"))
        for s, m in zip(stack.specs, stack.models):
            for k, w in enumerate(m.weights):
                key = f"{s.name}/{k}"
                if key not in arrays:
                    raise ValueError(f"saved weights lack {key!r} (module {s.name}); the npz does not match the spec")
                value = np.asarray(arrays[key])
                if tuple(value.shape) != tuple(w.shape):
                    raise ValueError(f"saved weight {key!r} has shape {value.shape}, model expects {tuple(w.shape)}")
                w.assign(value)
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


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------
def crop_batches(images, *, crop: int, batch_size: int, seed: int = 0) -> BatchFn:
    """``step -> (batch_size, crop, crop, 3)`` float32 RGB [0, 255] random crops, a pure function of the step.

    Uses :func:`restoration.data.random_crops` with a generator seeded by ``(seed, step)``, so a run resumed
    at step t sees the same batches as an uninterrupted one. ``images``: arrays or ``(name, array)`` pairs.
    """
    from restoration import data

    arrays = [im[1] if isinstance(im, tuple) else np.asarray(im) for im in images]
    if not arrays:
        raise ValueError("crop_batches needs at least one training image")
    small = [i for i, im in enumerate(arrays) if min(im.shape[:2]) < crop]
    if small:
        raise ValueError(f"training images {small} are smaller than the crop size {crop}; lower `crop`")

    def batch_at(step: int) -> np.ndarray:
        return data.random_crops(arrays, crop, batch_size, rng=np.random.default_rng([seed, int(step)]))

    return batch_at


def fit_to_stride(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Center-crop an (H, W, 3) or (N, H, W, 3) image so H and W are multiples of ``factor``."""
    h, w = rgb.shape[-3], rgb.shape[-2]
    hh, ww = (h // factor) * factor, (w // factor) * factor
    if hh == 0 or ww == 0:
        raise ValueError(f"image of size {h}x{w} is smaller than the stack's total stride {factor}")
    y, x = (h - hh) // 2, (w - ww) // 2
    return rgb[..., y:y + hh, x:x + ww, :]


# --------------------------------------------------------------------------------------------------------------
# Losses on features
# --------------------------------------------------------------------------------------------------------------
def _features(net, x_bgr, layers: Iterable[str]) -> dict:
    """True representations for ``layers`` (input names map to ``x_bgr`` itself)."""
    import tensorflow as tf

    layers = sorted(set(layers))
    wanted = [l for l in layers if not _is_input(l)]
    feats = dict(net.features(x_bgr, wanted)) if wanted else {}
    out = {l: tf.stop_gradient(feats[l]) for l in wanted}
    for l in layers:
        if _is_input(l):
            out[l] = x_bgr
    return out


def _module_losses(net, stack: InversionStack, rgb, indices: Sequence[int], chained: bool):
    """Per-module MSE for modules ``indices`` (ascending, contiguous when chained) on an RGB batch.

    ``chained=False``: each module gets the true ``phi_in``. ``chained=True``: the first gets the true
    representation, each later one the previous module's output. Returns a list of scalar tensors.
    """
    import tensorflow as tf

    x_bgr = net.preprocess(rgb)
    layers = {stack.specs[i].out_layer for i in indices} | {stack.specs[i].in_layer for i in indices}
    feats = _features(net, x_bgr, layers)
    losses, h = [], None
    for j, i in enumerate(indices):
        spec = stack.specs[i]
        inp = h if (chained and j > 0) else feats[spec.in_layer]
        h = stack.models[i](inp, training=True)
        losses.append(tf.reduce_mean(tf.square(h - feats[spec.out_layer])))
    return losses


# --------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings shared by every training mode (thesis: Adam 3e-4, batch 32, 3000 steps)."""

    steps: int = 3000
    lr: float = 3e-4
    log_every: int = 10
    eval_every: int = 100
    ckpt_every: int = 100
    progress: bool = True

    def __post_init__(self):
        for f in ("steps", "log_every", "eval_every", "ckpt_every"):
            if int(getattr(self, f)) < 1:
                raise ValueError(f"TrainSettings.{f} must be >= 1, got {getattr(self, f)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"TrainSettings.lr must be a positive finite float, got {self.lr!r}")


@dataclass
class TrainResult:
    """Outcome of one training loop.

    ``train_loss``/``heldout_loss`` map module name (and the objective name, e.g. ``"e2e"``) to the last
    logged value; ``start_step`` is where this call began (> 0 after a resume), ``steps`` the final step.
    """

    name: str
    steps: int
    start_step: int
    train_loss: dict[str, float]
    heldout_loss: dict[str, float]
    ckpt_dir: str | None


def _run_loop(name: str, net, stack: InversionStack, indices: Sequence[int], *, chained: bool,
              objective: Sequence[float], batches: BatchFn, settings: TrainSettings,
              heldout: np.ndarray | None, ckpt_dir, log: LogFn | None) -> TrainResult:
    """The one training loop behind every mode.

    Trains the variables of ``stack.models[i] for i in indices`` on ``sum_j objective[j] * loss_j`` where
    ``loss_j`` is the MSE of module ``indices[j]`` (see :func:`_module_losses`). Logs every module's loss under
    ``"<module>/train_loss"`` (and ``"<name>/train_loss"`` for the objective when it is not a single module).
    """
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    indices = list(indices)
    module_names = [stack.specs[i].name for i in indices]
    variables = [v for i in indices for v in stack.models[i].trainable_variables]
    weights = tf.constant(list(objective), tf.float32)
    report_objective = not (len(indices) == 1 and list(objective) == [1.0])

    optimizer = keras.optimizers.Adam(learning_rate=settings.lr)
    optimizer.build(variables)
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    last = tf.Variable(tf.fill([len(indices) + 1], np.nan), dtype=tf.float32, trainable=False, name="last_loss")
    manager = None
    if ckpt_dir is not None:
        ckpt_dir = Path(ckpt_dir)
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        tracked = {f"module_{stack.specs[i].name}": stack.models[i] for i in indices}
        ckpt = tf.train.Checkpoint(step=step_var, optimizer=optimizer, last_loss=last, **tracked)
        manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=2)
        if manager.latest_checkpoint:
            ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()

    probe = batches(0)
    if probe.ndim != 4 or probe.shape[-1] != 3:
        raise ValueError(f"batches(step) must return (N, H, W, 3) RGB arrays, got shape {probe.shape}")
    _check_divisible(probe.shape[1:3], stack, indices)

    @tf.function(input_signature=[tf.TensorSpec(probe.shape, tf.float32)])
    def train_step(rgb):
        with tf.GradientTape() as tape:
            losses = tf.stack(_module_losses(net, stack, rgb, indices, chained))
            total = tf.reduce_sum(weights * losses)
        grads = tape.gradient(total, variables)
        finite = tf.math.is_finite(total)
        for g in grads:
            finite = tf.logical_and(finite, tf.reduce_all(tf.math.is_finite(g)))

        def apply():
            optimizer.apply_gradients(zip(grads, variables))
            return tf.constant(True)

        tf.cond(finite, apply, lambda: tf.constant(False))
        return total, losses, finite

    eval_step = None
    if heldout is not None:
        heldout = np.asarray(heldout, np.float32)
        _check_divisible(heldout.shape[1:3], stack, indices)

        @tf.function(input_signature=[tf.TensorSpec((None,) + heldout.shape[1:], tf.float32)])
        def eval_step(rgb):
            losses = tf.stack(_module_losses(net, stack, rgb, indices, chained))
            return tf.reduce_sum(weights * losses), losses

    def evaluate(step: int) -> dict[str, float]:
        totals, per = [], []
        for b in range(0, len(heldout), 8):
            chunk = heldout[b:b + 8]
            t, l = eval_step(chunk)
            totals.append(float(t) * len(chunk))
            per.append(l.numpy() * len(chunk))
        out = dict(zip(module_names, (np.sum(per, axis=0) / len(heldout)).tolist()))
        if report_objective:
            out[name] = sum(totals) / len(heldout)
        if log is not None:
            for k, v in out.items():
                log(f"{k}/heldout_loss", float(v), step)
        return out

    start = int(step_var.numpy())
    train_loss: dict[str, float] = {}
    heldout_loss: dict[str, float] = {}
    if start > 0 and np.all(np.isfinite(last.numpy())):
        values = last.numpy().tolist()
        train_loss = dict(zip(module_names, values[:-1]))
        if report_objective:
            train_loss[name] = values[-1]
    bar = tqdm(total=settings.steps, initial=min(start, settings.steps), desc=name, disable=not settings.progress,
               mininterval=2.0, leave=False)
    try:
        for step in range(start, settings.steps):
            rgb = probe if step == 0 else batches(step)
            total, losses, finite = train_step(np.asarray(rgb, np.float32))
            total_v = float(total)
            if not bool(finite):
                kept = manager.latest_checkpoint if manager is not None else None
                raise DivergenceError(
                    f"training {name!r} diverged at step {step}: the loss of module(s) {module_names} "
                    f"(objective {total_v!r}, per module {losses.numpy().tolist()}) or its gradient is NaN/inf. "
                    f"The update was not applied and no checkpoint was written after it; last finite checkpoint: "
                    f"{kept or 'none (no checkpoint written yet)'}. Lower the learning rate or check the inputs.")
            values = losses.numpy().tolist()
            last.assign(np.array(values + [total_v], np.float32))
            step_var.assign(step + 1)
            bar.update(1)
            done = step + 1
            if done % settings.log_every == 0 or done == settings.steps:
                train_loss = dict(zip(module_names, values))
                if report_objective:
                    train_loss[name] = total_v
                if log is not None:
                    for k, v in train_loss.items():
                        log(f"{k}/train_loss", float(v), done)
                bar.set_postfix(loss=f"{total_v:.4g}")
            if eval_step is not None and (done % settings.eval_every == 0 or done == settings.steps):
                heldout_loss = evaluate(done)
            if manager is not None and (done % settings.ckpt_every == 0 or done == settings.steps):
                manager.save(checkpoint_number=done)
    finally:
        bar.close()
    if eval_step is not None and not heldout_loss:
        heldout_loss = evaluate(max(start, settings.steps))
    return TrainResult(name, max(start, settings.steps), start, train_loss, heldout_loss,
                       str(ckpt_dir) if ckpt_dir is not None else None)


def _check_divisible(hw, stack: InversionStack, indices: Sequence[int]):
    factor = int(np.prod([stack.specs[i].stride for i in range(indices[0], len(stack.specs))]))
    if hw[0] % factor or hw[1] % factor:
        raise ValueError(f"image size {tuple(hw)} is not a multiple of the stack's total stride {factor}; "
                         f"the up-sampling modules could not restore the exact size. Use crops divisible by "
                         f"{factor} (see fit_to_stride)")


def train_module(net, stack: InversionStack, name: str, batches: BatchFn, settings: TrainSettings, *,
                 heldout: np.ndarray | None = None, ckpt_dir=None, log: LogFn | None = None) -> TrainResult:
    """Train module ``name`` of ``stack`` alone on true activations: ``phi_in(x) -> phi_out(x)``.

    Parameters
    ----------
    net : FeatureNet
        Frozen net that supplies inputs and targets.
    stack : InversionStack
        Holds the module's spec and Keras model (trained in place).
    name : str
        Module name (``spec.name``).
    batches : callable
        ``step -> (B, S, S, 3)`` float32 RGB [0, 255]; S a multiple of the stack's total stride.
    settings : TrainSettings
    heldout : ndarray, optional
        (N, S', S', 3) RGB [0, 255] images for the held-out loss.
    ckpt_dir : path, optional
        Checkpoint directory; an existing checkpoint there is restored and training continues at its step.
    log : callable, optional
        ``log(metric_name, value, step)``.
    """
    return _run_loop(name, net, stack, [stack.index(name)], chained=False, objective=[1.0], batches=batches,
                     settings=settings, heldout=heldout, ckpt_dir=ckpt_dir, log=log)


def train_stack(net, stack: InversionStack, batches: BatchFn, settings: TrainSettings, *,
                heldout: np.ndarray | None = None, ckpt_dir=None, log: LogFn | None = None) -> dict[str, TrainResult]:
    """Train every module on its own operation (thesis Fig. 6), one after another, deepest first.

    Each module gets its own checkpoint subdirectory ``ckpt_dir/<module>``, so a killed run resumes inside the
    module it was training and skips the finished ones. Returns ``{module: TrainResult}``.
    """
    results = {}
    for spec in stack.specs:
        sub = Path(ckpt_dir) / spec.name if ckpt_dir is not None else None
        results[spec.name] = train_module(net, stack, spec.name, batches, settings, heldout=heldout,
                                          ckpt_dir=sub, log=log)
    return results


def train_end_to_end(net, stack: InversionStack, batches: BatchFn, settings: TrainSettings, *,
                     heldout: np.ndarray | None = None, ckpt_dir=None, log: LogFn | None = None,
                     name: str = "e2e") -> TrainResult:
    """Train the whole chain at once from ``stack.in_layer`` with the loss only on the final output (Fig. 5).

    The intermediate modules' MSEs against the true intermediate representations are logged (as
    ``"<module>/train_loss"``) but carry no gradient; the objective is logged as ``"<name>/train_loss"``.
    """
    n = len(stack)
    return _run_loop(name, net, stack, list(range(n)), chained=True, objective=[0.0] * (n - 1) + [1.0],
                     batches=batches, settings=settings, heldout=heldout, ckpt_dir=ckpt_dir, log=log)


def train_joint(net, stack: InversionStack, batches: BatchFn, settings: TrainSettings, *,
                heldout: np.ndarray | None = None, ckpt_dir=None, log: LogFn | None = None,
                name: str = "joint") -> TrainResult:
    """Train the chain at once on the sum of every module's MSE on its intermediate target (chained inputs)."""
    n = len(stack)
    return _run_loop(name, net, stack, list(range(n)), chained=True, objective=[1.0] * n,
                     batches=batches, settings=settings, heldout=heldout, ckpt_dir=ckpt_dir, log=log)


# --------------------------------------------------------------------------------------------------------------
# Evaluation and use
# --------------------------------------------------------------------------------------------------------------
def module_losses(net, stack: InversionStack, rgb: np.ndarray, *, chained: bool, batch_size: int = 8) -> dict:
    """Mean per-module MSE on RGB images (N, H, W, 3): own true input (``chained=False``) or through the stack."""
    rgb = np.asarray(rgb, np.float32)
    idx = list(range(len(stack)))
    sums = np.zeros(len(idx))
    for b in range(0, len(rgb), batch_size):
        chunk = rgb[b:b + batch_size]
        sums += np.array([float(l) for l in _module_losses(net, stack, chunk, idx, chained)]) * len(chunk)
    return {s.name: float(v) for s, v in zip(stack.specs, sums / len(rgb))}


def reconstruct(net, stack: InversionStack, rgb: np.ndarray, *, batch_size: int = 8, clip: bool = True) -> np.ndarray:
    """Reconstruct RGB images from their ``stack.in_layer`` representation through the stack.

    Parameters
    ----------
    rgb : ndarray
        (N, H, W, 3) or (H, W, 3) RGB in [0, 255]; H and W multiples of ``stack.total_stride``
        (see :func:`fit_to_stride`).

    Returns
    -------
    ndarray
        Same shape, float32 RGB; clipped to [0, 255] when ``clip`` (the image one would display). Requires
        ``stack.out_layer`` to be the input.
    """
    if not _is_input(stack.out_layer):
        raise ValueError(f"the stack ends at {stack.out_layer!r}, not the image; cannot reconstruct RGB")
    rgb = np.asarray(rgb, np.float32)
    single = rgb.ndim == 3
    batch = rgb[None] if single else rgb
    _check_divisible(batch.shape[1:3], stack, [0])
    outs = []
    for b in range(0, len(batch), batch_size):
        x_bgr = net.preprocess(batch[b:b + batch_size])
        phi = _features(net, x_bgr, [stack.in_layer])[stack.in_layer]
        outs.append(np.asarray(net.deprocess(stack(phi))))
    out = np.concatenate(outs).astype(np.float32)
    if clip:
        out = np.clip(out, 0.0, 255.0)
    return out[0] if single else out


@dataclass
class Evaluation:
    """Held-out evaluation of a stack that ends at the image.

    ``images``/``reconstructions``: (N, H, W, 3) RGB [0, 255] (reconstructions clipped); ``scores``: per-image
    arrays from :func:`restoration.metrics.score_batch` (mse, psnr, ssim, nerr = ||x - x0||^2 / ||x0||^2 in
    pixel space); ``summary``: their means (``psnr_mean``, ...); ``own_loss``/``chained_loss``: per-module MSE on
    the held-out images with true inputs and through the stack from ``stack.in_layer``.
    """

    names: list[str]
    images: np.ndarray
    reconstructions: np.ndarray
    scores: dict[str, np.ndarray]
    summary: dict[str, float]
    own_loss: dict[str, float]
    chained_loss: dict[str, float]


def evaluate(net, stack: InversionStack, named_images) -> Evaluation:
    """Reconstruct ``[(name, rgb (H, W, 3)), ...]`` (same size, multiple of the total stride) and score them."""
    from restoration import metrics

    names = [n for n, _ in named_images]
    images = np.stack([np.asarray(im, np.float32) for _, im in named_images])
    recs = reconstruct(net, stack, images)
    scores = metrics.score_batch(images, recs)
    return Evaluation(names, images, recs, scores, metrics.summarize_scores(scores),
                      module_losses(net, stack, images, chained=False),
                      module_losses(net, stack, images, chained=True))


def loss_table(stack: InversionStack, evaluation: Evaluation, train_loss: dict[str, float]) -> dict:
    """Report table: per module, its operation, final train loss and held-out MSE (own input / through stack)."""
    def fmt(v):
        return None if v is None or not np.isfinite(v) else float(f"{v:.4g}")

    rows = [[s.name, f"{s.in_layer} -> {s.out_layer}", fmt(train_loss.get(s.name)),
             fmt(evaluation.own_loss[s.name]), fmt(evaluation.chained_loss[s.name])] for s in stack.specs]
    return {"title": "Per-module MSE (representation units; image = normalised BGR pixels)",
            "columns": ["module", "operation", "train loss (final)", "held-out loss (true input)",
                        f"held-out loss (from {stack.in_layer} through the stack)"],
            "rows": rows}


def numbers_table(evaluation: Evaluation) -> dict:
    """Report table: PSNR / SSIM / normalised error / MSE per held-out image, plus the mean row."""
    s = evaluation.scores
    rows = [[n, round(float(s["psnr"][i]), 2), round(float(s["ssim"][i]), 4), round(float(s["nerr"][i]), 5),
             round(float(s["mse"][i]), 2)] for i, n in enumerate(evaluation.names)]
    m = evaluation.summary
    rows.append(["mean", round(m["psnr_mean"], 2), round(m["ssim_mean"], 4), round(m["nerr_mean"], 5),
                 round(m["mse_mean"], 2)])
    return {"title": "Held-out reconstruction quality (RGB, [0, 255], reconstructions clipped)",
            "columns": ["image", "PSNR (dB)", "SSIM", "normalised error ||x-x0||^2/||x0||^2", "MSE"],
            "rows": rows}
