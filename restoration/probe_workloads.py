"""The precision probe's workloads and its child process (:func:`child`), run by
:func:`restoration.precision.run_probe` in a fresh process per environment (oneDNN and TensorFlow read their
switches once, at start). The child announces each measurement on stdout (:data:`BEGIN`, so oneDNN's verbose
creation lines in between name that measurement's kernels) and answers one JSON line per precision
(:data:`RESULT`), which :func:`restoration.precision.parse_child_output` reads.
"""

from __future__ import annotations

import json
import re
import os

BEGIN = "restoration-probe-begin "
RESULT = "restoration-probe-result "
#: the child measures this precision alone (and a float32 reference for bfloat16's error) ...
ONLY = "RESTORATION_PROBE_ONLY"
#: ... or, as this value, float32's module step alone
MODULE = "module"


def block_step(precision: str, *, size: int = 56, channels: int = 128):
    """One VGG-like block (3x3 conv, ReLU, 3x3 conv on a ``size`` px map of ``channels`` channels, batch 1) forward
    and back in ``precision`` with fixed random weights, as a traced function returning the gradient to its input.
    The gradients to both kernels are computed too (module training needs them, and the kernel libraries differ
    most there: Eigen's filter gradient is its slow part), though only the input's is returned."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
    k1, k2 = (
        tf.Variable(rng.normal(0, np.sqrt(2 / (9 * channels)), (3, 3, channels, channels)).astype(np.float32))
        for _ in range(2)
    )
    x = tf.Variable(rng.normal(0, 1, (1, size, size, channels)).astype(np.float32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:  # float32 weights cast to the compute type, as the modules keep them
            h = tf.nn.relu(tf.nn.conv2d(tf.cast(x, dtype), tf.cast(k1, dtype), 1, "SAME"))
            y = tf.cast(tf.nn.conv2d(h, tf.cast(k2, dtype), 1, "SAME"), tf.float32)
            loss = tf.reduce_sum(tf.square(y)) / tf.cast(tf.size(y), tf.float32)
        gx, g1, g2 = tape.gradient(loss, [x, k1, k2])
        with tf.control_dependencies([g1, g2]):
            return tf.identity(gx)

    return step


def module_step(*, batch: int = 16, size: int = 32, channels: int = 64, hidden: int = 64, kernel: int = 5):
    """One training step's gradients of a DC inversion module (fig12_vgg16's: a stride-2 transposed convolution
    from ``channels`` maps of ``size`` px to ``hidden`` maps of twice the size, ReLU, a convolution to the 3
    colour channels; ``kernel`` x ``kernel`` kernels) on a batch, float32, as a traced function returning the loss
    after both kernel gradients. Module training spends its time here, and the kernel libraries differ most here
    (Eigen's filter gradients; issue 27 measured module training 2.4x faster with oneDNN on an AVX2-only CPU)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    feats = tf.constant(rng.normal(0, 1, (batch, size, size, channels)).astype(np.float32))
    target = tf.constant(rng.normal(0, 1, (batch, 2 * size, 2 * size, 3)).astype(np.float32))
    k1 = tf.Variable(
        rng.normal(0, np.sqrt(2 / kernel**2 / channels), (kernel, kernel, hidden, channels)), dtype="float32"
    )
    k2 = tf.Variable(rng.normal(0, np.sqrt(2 / kernel**2 / hidden), (kernel, kernel, hidden, 3)), dtype="float32")
    out_shape = (batch, 2 * size, 2 * size, hidden)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.nn.conv2d_transpose(feats, k1, out_shape, 2, "SAME"))
            loss = tf.reduce_mean(tf.square(tf.nn.conv2d(h, k2, 1, "SAME") - target))
        g1, g2 = tape.gradient(loss, [k1, k2])
        with tf.control_dependencies([g1, g2]):
            return tf.identity(loss)

    return step


def _ms(step) -> float:
    import time

    t = time.perf_counter()
    step().numpy()
    return 1000 * (time.perf_counter() - t)


def measure(precision: str, *, size: int = 56, channels: int = 128, repeats: int = 9, max_s: float = 60.0) -> dict:
    """Time :func:`block_step` in ``precision``: ``{"ms": [...], "grad": array}``. Repeats stop early after
    ``max_s`` seconds (an emulated bfloat16 can be very slow)."""
    import time

    step = block_step(precision, size=size, channels=channels)
    grad = step().numpy()  # trace and build kernels
    ms, start = [], time.perf_counter()
    for _ in range(repeats):
        ms.append(_ms(step))
        if time.perf_counter() - start > max_s and len(ms) >= 3:
            break
    return {"ms": ms, "grad": grad}


def measure_interleaved(steps: dict, *, repeats: int = 9, max_s: float = 60.0) -> dict[str, list[float]]:
    """Time several built steps in alternating rounds (the order flips every round), so a second job on the
    machine slows each alike instead of whichever happened to run while it did: ``{name: [ms, ...]}``."""
    import time

    names = list(steps)
    ms = {n: [] for n in names}
    start = time.perf_counter()
    for r in range(repeats):
        for n in names if r % 2 == 0 else names[::-1]:
            ms[n].append(_ms(steps[n]))
        if time.perf_counter() - start > max_s and r >= 2:
            break
    return ms


def _refusal(e: Exception) -> str:
    text = str(e).strip()
    refused = re.search(r"could not create a primitive[^.\n]*", text)
    msg = (refused.group(0) if refused else (text.splitlines() or [""])[0])[:200] or type(e).__name__
    return f"{type(e).__name__}: {msg}"


def _tf_onednn() -> bool | None:
    """Whether this process's TensorFlow has oneDNN on (its own answer)."""
    from restoration.kernel_library import tensorflow_reports

    lib = tensorflow_reports()
    return None if lib is None else lib == "onednn"


def child() -> None:
    """The probe's child process. Both precisions are built first, float32 then bfloat16, each announced on stdout
    (oneDNN names its kernels between the announcements), float32 answered at once with three repeats so a crash
    while building bfloat16 still leaves a float32 result; then both are timed in alternating rounds and answered
    again (the last answer counts). With :data:`ONLY` set, that precision alone (bfloat16's error
    is then taken against a float32 reference computed here on the same kernels library)."""
    import numpy as np

    only = os.environ.get(ONLY)
    if only == MODULE:
        print(f"{BEGIN}float32", flush=True)
        step = module_step()
        step()  # trace and build kernels
        ms = [_ms(step) for _ in range(9)]
        print(RESULT + json.dumps({"precision": "float32", "ms": ms, "onednn": _tf_onednn()}), flush=True)
        return
    if only:
        ref = measure("float32", repeats=1)["grad"] if only == "bfloat16" else None
        print(f"{BEGIN}{only}", flush=True)
        try:
            r = measure(only)
        except Exception as e:  # a kernel oneDNN will not build: report it, do not hide it
            print(RESULT + json.dumps({"precision": only, "error": _refusal(e)}), flush=True)
            return
        rel = None if ref is None else float(np.linalg.norm(r["grad"] - ref) / np.linalg.norm(ref))
        answer = {"precision": only, "ms": r["ms"], "rel_error": rel, "onednn": _tf_onednn()}
        print(RESULT + json.dumps(answer), flush=True)
        return
    print(f"{BEGIN}float32", flush=True)
    steps = {"float32": block_step("float32")}
    ref = steps["float32"]().numpy()
    early = [_ms(steps["float32"]) for _ in range(3)]
    answer = {"precision": "float32", "ms": early, "rel_error": None, "onednn": _tf_onednn()}
    print(RESULT + json.dumps(answer), flush=True)
    print(f"{BEGIN}bfloat16", flush=True)
    rel = None
    try:
        steps["bfloat16"] = block_step("bfloat16")
        grad = steps["bfloat16"]().numpy()
        rel = float(np.linalg.norm(grad - ref) / np.linalg.norm(ref))
    except Exception as e:  # a kernel oneDNN will not build: report it, do not hide it
        print(RESULT + json.dumps({"precision": "bfloat16", "error": _refusal(e)}), flush=True)
    print(f"{BEGIN}timing", flush=True)  # kernels oneDNN re-creates while timing are nobody's
    ms = measure_interleaved(steps)
    for pr, times in ms.items():
        print(
            RESULT
            + json.dumps(
                {"precision": pr, "ms": times, "rel_error": rel if pr == "bfloat16" else None, "onednn": _tf_onednn()}
            ),
            flush=True,
        )
