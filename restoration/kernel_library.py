"""Which kernel library TensorFlow runs the nets on: oneDNN or Eigen, chosen by measurement like the precision.

TensorFlow decides once per process, the first time it asks (``IsMklEnabled``), from ``TF_ENABLE_ONEDNN_OPTS``
(``1``/``true`` on, ``0``/``false`` off) and, where that is unset, from the CPU: on Linux x86 oneDNN is on by
default only where the CPU has AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (:func:`tf_default`, the rule of
TensorFlow's ``tensorflow/core/util/port.cc``). The three machine kinds this project meets:

* Intel Xeon with AMX, AMD EPYC with AVX512-BF16: oneDNN on by default (float32 and bfloat16 on oneDNN);
* AMD EPYC with AVX2 only: oneDNN *off* by default, so float32 runs on Eigen, whose convolution gradients ran
  module training at 24 % of the machine's GEMM rate against 59-64 % with oneDNN on (issue 27, measured there).

``auto`` (the default; ``RESTORATION_KERNELS=onednn|eigen`` forces one) keeps TensorFlow's default where it is on,
and where it is off the precision probe also times float32's module step (a DC module's gradients, where the
libraries differ) on both libraries, in child processes alternated twice each (the switch is read once, before
TensorFlow starts, and a 2-core machine's speed drifts between processes); the faster library wins by the rule of
:func:`decide`.
:func:`restoration.precision.prepare_kernels` applies the choice by setting ``TF_ENABLE_ONEDNN_OPTS`` *before
TensorFlow is imported* (command lines and experiments call it first thing; child processes inherit it).
``TF_ENABLE_ONEDNN_OPTS`` as the user set it is read as that machine's default (that is how the precision tests
emulate an AVX2-only CPU on a newer one: the ISA cap plus ``TF_ENABLE_ONEDNN_OPTS=0``); its value before
``prepare_kernels`` changed it is kept in :data:`ORIGINAL`, so the machine kind (the probe's cache key) and every
child see the machine as it was.

Numerics: the two libraries differ by float32 round-off (another summation order): a tiny net's features came out
identical and their gradient 3.5e-7 apart, relative (``tests/restoration/test_kernel_library.py`` bounds it at
1e-5), so the library is recorded in each run's provenance but is not part of a module's or cell's digest.
bfloat16 is measured on TensorFlow's default library only: with oneDNN turned on where TensorFlow leaves it off
(an AVX2-only CPU), oneDNN has no bfloat16 kernel for that ISA and refuses it, so a bfloat16 run keeps the default
library.
"""

from __future__ import annotations

import os
import sys

LIBRARIES = ("onednn", "eigen")
CHOICES = ("auto",) + LIBRARIES
#: TensorFlow's switch, read once per process before its first kernel
SWITCH = "TF_ENABLE_ONEDNN_OPTS"
#: the project's own setting: auto (measured), or a forced library
SETTING = "RESTORATION_KERNELS"
#: the value of :data:`SWITCH` before ``precision.prepare_kernels`` set it ("" when it was unset); present only
#: after that
ORIGINAL = "RESTORATION_TF_ENABLE_ONEDNN_OPTS_BEFORE"
#: CPU flags (``/proc/cpuinfo`` names) for which TensorFlow turns oneDNN on by default on Linux x86
DEFAULT_ON_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
#: the other library must run the probe's float32 step at least this many times faster to be chosen (it costs no
#: accuracy, so less than the precision's 1.2x; more than the repeats' typical spread of about 5 % at the median)
MIN_SPEEDUP = 1.1
#: the one-sided Mann-Whitney U test's level for "the other library's repeats are faster"
ALPHA = 0.01


def tf_default(flags) -> str:
    """The library TensorFlow takes on a Linux x86 CPU with ``flags`` when ``TF_ENABLE_ONEDNN_OPTS`` is unset."""
    return "onednn" if any(f in set(flags) for f in DEFAULT_ON_FLAGS) else "eigen"


def parse_switch(value: str | None) -> str | None:
    """``TF_ENABLE_ONEDNN_OPTS`` as TensorFlow reads it (``ReadBoolFromEnvVar``): ``"onednn"``, ``"eigen"``, or
    ``None`` for unset or a value TensorFlow ignores (it warns and keeps its default)."""
    v = (value or "").strip().lower()
    return "onednn" if v in ("1", "true") else "eigen" if v in ("0", "false") else None


def user_environ(environ=None) -> dict:
    """The environment as the user gave it: :data:`SWITCH` restored to its value before
    :func:`restoration.precision.prepare_kernels` set it."""
    env = dict(os.environ if environ is None else environ)
    if ORIGINAL in env:
        before = env.pop(ORIGINAL)
        if before:
            env[SWITCH] = before
        else:
            env.pop(SWITCH, None)
    return env


def default_library(flags, environ=None) -> str:
    """What TensorFlow runs on this machine unless the project steps in: the user's switch, else the CPU's rule."""
    return parse_switch(user_environ(environ).get(SWITCH)) or tf_default(flags)


def in_effect(flags, environ=None) -> str:
    """What TensorFlow runs (or will, once started) in a process with ``environ``: the switch as it stands now
    (the project's choice where :func:`restoration.precision.prepare_kernels` set it), else the CPU's rule."""
    env = os.environ if environ is None else environ
    return parse_switch(env.get(SWITCH)) or tf_default(flags)


def setting(environ=None) -> str:
    """``RESTORATION_KERNELS``: ``auto`` (unset) or a forced library; anything else is a one-line ``ValueError``."""
    value = (os.environ if environ is None else environ).get(SETTING, "").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(
            f"{SETTING}={value!r}: use auto (measured on this machine), onednn or eigen (TensorFlow's two CPU "
            f"kernel libraries), or leave it unset"
        )
    return value


def switch_env(library: str) -> dict:
    """The variables that make a child process's TensorFlow run ``library``."""
    return {SWITCH: "1" if library == "onednn" else "0"}


def other(library: str) -> str:
    return "eigen" if library == "onednn" else "onednn"


def decide(default, alternative, default_lib: str, *, min_speedup: float = MIN_SPEEDUP) -> tuple[str, str]:
    """``(library, reason)`` for float32 from two timings of the probe's module step
    (:class:`restoration.precision.Timing`: ``ms``, ``median``, ``failed``, ``spread()``): TensorFlow's default
    ``default_lib`` unless the other library ran, was at least ``min_speedup`` times faster at the median, and its
    repeats are faster than the default's by a one-sided Mann-Whitney U test at :data:`ALPHA` (scipy; it assumes
    independent repeats, not normal ones: the repeats of a shared 2-core machine have heavy right tails). A pure
    function of the measurements."""
    from scipy.stats import mannwhitneyu

    alt_lib = other(default_lib)
    if alternative is None or default is None:
        return default_lib, f"TensorFlow's default on this CPU ({default_lib}); the other library is not measured here"
    if not default.ms:
        if alternative.ms:
            return alt_lib, f"float32 did not run on {default_lib} ({default.failed}); {alt_lib} did"
        return default_lib, "float32 ran on neither library; TensorFlow's default kept"
    if alternative.failed or not alternative.ms:
        return default_lib, f"float32 could not run on {alt_lib}: {alternative.failed or 'no timing'}"
    speed = default.median / alternative.median
    p = float(mannwhitneyu(alternative.ms, default.ms, alternative="less").pvalue)
    timings = f"module step on {default_lib} {default.spread()}, on {alt_lib} {alternative.spread()}"
    if speed >= min_speedup and p < ALPHA:
        return alt_lib, f"{alt_lib} {speed:.2f}x faster than TensorFlow's default {default_lib} (p={p:.1g}); {timings}"
    gain = f"{1 / speed:.2f}x slower" if speed < 1 else f"only {speed:.2f}x faster (needs {min_speedup:.2f}x)"
    if speed >= min_speedup:
        gain = f"{speed:.2f}x faster, but not beyond the spread (p={p:.2g})"
    return default_lib, f"{alt_lib} is {gain}, TensorFlow's default {default_lib} kept; {timings}"


def tensorflow_reports(*, start: bool = False) -> str | None:
    """What the TensorFlow of this process runs (``IsMklEnabled``), or ``None`` where TensorFlow is not imported;
    ``start=True`` imports it to ask (a run about to build its net: TensorFlow reads its switch at that import)."""
    if "tensorflow" not in sys.modules and not start:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port

        return "onednn" if _pywrap_util_port.IsMklEnabled() else "eigen"
    except Exception:  # noqa: BLE001 - a TensorFlow without the query: unknown
        return None
