"""Compute precision: float32, bfloat16, or ``auto``, which measures this machine once and picks the faster of the
two where bfloat16 stays within its accuracy budget.

Why measure: the same TensorFlow build runs bfloat16 on three very different paths. On an Intel Xeon with AMX
oneDNN's bfloat16 convolutions run about 3x the float32 rate; on an AMD EPYC with AVX512-BF16 about 2x; on a CPU
with AVX2 only TensorFlow hands bfloat16 to Eigen, which emulates it about 10x *slower* than float32. No flag
list predicts the rate (a CPU may hide its flags, oneDNN may be capped by ``ONEDNN_MAX_CPU_ISA``), so ``auto``
asks the machine.

The probe (:func:`measure`, run in a child process by :func:`probe`) times the path that matters, a VGG-like
block's forward and backward to its input (what the M&V step and module training spend their time on), in both
precisions, with repeats taken in alternating rounds (a second job on the machine then slows both alike: measured
one after the other under load, a 2.3x gain once read as 1.09x and chose float32), and compares the bfloat16
gradient with the float32 one. bfloat16 is chosen when
(:func:`decide`): it ran; its gradient is within :data:`ERROR_BUDGET` of float32's; its median step is at least
:data:`MIN_SPEEDUP` times faster; and its median beats float32's fastest repeat (a gain larger than the machine's
run-to-run spread).
Otherwise float32. The probe runs in a child because a capped oneDNN may *abort* the process when asked for a
bfloat16 kernel it will not build (``ONEDNN_MAX_CPU_ISA=AVX2`` on an AVX-512 CPU: TensorFlow still routes bfloat16
to oneDNN by the CPU's flags, and oneDNN refuses), and because ``ONEDNN_VERBOSE`` in the child names the kernels
that ran. The result is cached per machine kind (CPU model, its vector flags, the oneDNN and TensorFlow
settings) in ``<runs>/machine/precision-<key>.json`` and in the process, and recorded in every run's provenance.

The path a developer's CPU runs can be lowered to another machine kind's with :data:`ISA_PATHS` (in a child
process: the variables are read at start), which the precision tests use to exercise every kind on one machine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

PRECISIONS = ("float32", "bfloat16")
CHOICES = PRECISIONS + ("auto",)

#: bfloat16 must run the probe's step at least this many times faster than float32 (a smaller gain is within the
#: machine's run-to-run spread of about 15 %, and bfloat16 costs a little accuracy)
MIN_SPEEDUP = 1.2
#: largest relative L2 difference of the probe's bfloat16 gradient from the float32 one. Every bfloat16 path that
#: accumulates in float32 lands at 2.0-2.4 % here (AVX512-BF16, oneDNN's AVX-512 emulation and Eigen, measured
#: 2026-12-02): the input, both kernels, the hidden map, the output and the backward maps are each rounded to
#: 8 bits (2^-9 = 0.2 % each). With such gradients the M&V feature error after 41 steps moved 0.7 % and module
#: training's held-out PSNR 0.06 dB (benchmarks/README.md). 5 % flags a kernel whose error grows with the
#: reduction length (bfloat16 accumulation over 1152 terms would be several times larger).
ERROR_BUDGET = 0.05
#: how long the whole probe may take before it counts as failed (an emulated bfloat16 is slow, not endless)
PROBE_TIMEOUT_S = 300.0
#: flags that decide which kernels run (part of the machine kind; /proc/cpuinfo names)
KERNEL_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512dq",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_fp16",
)
#: environment variables that change the kernels (part of the machine kind, recorded with every run)
KERNEL_ENV = ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_DEFAULT_FPMATH_MODE")
#: the probe's workload (:func:`measure`); a change measures every machine again
PROBE_VERSION = 2


def check(precision: str) -> str:
    """``precision`` if it is one of :data:`CHOICES`, else a one-line ``ValueError`` with the fix."""
    if precision not in CHOICES:
        raise ValueError(
            f"precision={precision!r}: use 'auto' (measured on this machine), 'float32' or 'bfloat16' "
            f"(bfloat16 runs the net on the CPU's bfloat16 units; images, losses and optimiser state "
            f"stay float32)"
        )
    return precision


def resolve(precision: str) -> str:
    """``"float32"`` or ``"bfloat16"``: ``precision`` itself, or for ``"auto"`` this machine's measured choice.

    A forced ``"bfloat16"`` that this machine's kernels refuse (the probe could not build them) is a one-line
    ``ValueError`` here, not an abort deep inside TensorFlow."""
    if check(precision) == "float32":
        return precision
    p = probe()
    if precision == "auto":
        return p.chosen
    if p.bfloat16.failed and not p.bfloat16.ms:
        raise ValueError(
            f"precision='bfloat16' cannot run on this machine ({p.machine.describe()}): "
            f"{p.bfloat16.failed}; use precision=auto or precision=float32"
        )
    return precision


# ----------------------------------------------------------------------------------------------------------
# the machine
# ----------------------------------------------------------------------------------------------------------


def cpu_info() -> tuple[str, tuple[str, ...]]:
    """The CPU's model name and its flags from ``/proc/cpuinfo`` (``("unknown", ())`` where there is none)."""
    name, flags = "unknown", ()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name == "unknown":
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = tuple(line.split(":", 1)[1].split())
    except OSError:
        pass
    return name, flags


@dataclasses.dataclass(frozen=True)
class MachineKind:
    """What decides which kernels run: the CPU model and its vector flags, the oneDNN/TF switches in the
    environment, the TensorFlow version and the cores this process may use."""

    cpu: str
    flags: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    tensorflow: str
    cores: int

    @classmethod
    def here(cls) -> "MachineKind":
        import importlib.metadata

        name, flags = cpu_info()
        try:
            tf_version = importlib.metadata.version("tensorflow")
        except importlib.metadata.PackageNotFoundError:
            tf_version = "none"
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return cls(
            name,
            tuple(f for f in KERNEL_FLAGS if f in flags),
            tuple((k, os.environ[k]) for k in KERNEL_ENV if os.environ.get(k)),
            tf_version,
            cores,
        )

    def key(self) -> str:
        """Names the cache file; includes :data:`PROBE_VERSION`, so a changed workload is measured again."""
        ident = {**dataclasses.asdict(self), "probe": PROBE_VERSION}
        return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]

    def describe(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env)
        return f"{self.cpu}, {self.cores} cores, flags {' '.join(self.flags) or 'none'}" + (f", {env}" if env else "")


# ----------------------------------------------------------------------------------------------------------
# the probe
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """One precision's probe: milliseconds per step of each repeat, the kernels that ran (oneDNN implementation
    names, or ``eigen`` where TensorFlow used no oneDNN kernel), and why it could not run (or ``None``)."""

    precision: str
    ms: tuple[float, ...] = ()
    kernels: tuple[str, ...] = ()
    failed: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.ms) if self.ms else float("nan")

    def spread(self) -> str:
        if not self.ms:
            return self.failed or "not run"
        return f"{self.median:.1f} ms [{min(self.ms):.1f}-{max(self.ms):.1f}, {len(self.ms)} repeats]"

    @property
    def path(self) -> str:
        """The kernels in a few words: ``brg_conv_fwd:avx512_core_bf16``, ``eigen``, ..."""
        return ", ".join(self.kernels) if self.kernels else ("none: " + self.failed if self.failed else "unknown")


@dataclasses.dataclass(frozen=True)
class Probe:
    """A measured choice of precision for one machine kind, with its evidence."""

    machine: MachineKind
    onednn_isa: str  # what oneDNN said it runs ("Intel AVX2", ...), or "oneDNN not used"
    float32: Timing
    bfloat16: Timing
    rel_error: float | None  # relative L2 of the bfloat16 gradient against the float32 one
    chosen: str
    reason: str
    measured_at: str

    @property
    def speedup(self) -> float:
        return self.float32.median / self.bfloat16.median if self.bfloat16.ms and self.float32.ms else float("nan")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Probe":
        m = d["machine"]
        machine = MachineKind(
            m["cpu"], tuple(m["flags"]), tuple(tuple(e) for e in m["env"]), m["tensorflow"], int(m["cores"])
        )
        timing = [
            Timing(t["precision"], tuple(t["ms"]), tuple(t["kernels"]), t["failed"])
            for t in (d["float32"], d["bfloat16"])
        ]
        return cls(machine, d["onednn_isa"], *timing, d["rel_error"], d["chosen"], d["reason"], d["measured_at"])

    def summary(self) -> str:
        """One line: the choice and why."""
        return f"precision auto -> {self.chosen}: {self.reason}"


def decide(
    f32: Timing,
    bf16: Timing,
    rel_error: float | None,
    *,
    min_speedup: float = MIN_SPEEDUP,
    budget: float = ERROR_BUDGET,
) -> tuple[str, str]:
    """``(precision, reason)`` from the probe's timings: bfloat16 only when it ran, stayed within ``budget`` of
    float32's gradient, was at least ``min_speedup`` times faster at the median, and its slowest repeat beat
    float32's fastest. A pure function of the measurements (tested with made-up ones)."""
    if not f32.ms:
        return "float32", f"the float32 probe did not run ({f32.failed}); float32 is the safe default"
    if bf16.failed or not bf16.ms:
        return "float32", f"bfloat16 could not run here: {bf16.failed or 'no timing'}"
    speed = f32.median / bf16.median
    timings = f"float32 {f32.spread()}, bfloat16 {bf16.spread()}"
    if rel_error is None or not rel_error <= budget:
        return "float32", (
            f"bfloat16's gradient is {100 * (rel_error or float('nan')):.2f} % off float32's (budget "
            f"{100 * budget:.0f} %); {timings}"
        )
    if speed < min_speedup:
        gain = f"{1 / speed:.2f}x slower" if speed < 1 else f"only {speed:.2f}x faster (needs {min_speedup:.2f}x)"
        return "float32", f"bfloat16 is {gain} on the conv step; {timings}"
    if bf16.median >= min(f32.ms):
        return "float32", f"bfloat16's {speed:.2f}x is within the spread of the repeats; {timings}"
    return "bfloat16", (
        f"bfloat16 {speed:.2f}x faster on the conv step, gradient within {100 * rel_error:.2f} % of "
        f"float32 (budget {100 * budget:.0f} %); {timings}"
    )


def _cache_path(machine: MachineKind) -> Path:
    from restoration.paths import runs_dir

    return runs_dir() / "machine" / f"precision-{machine.key()}.json"


_PROBES: dict[str, Probe] = {}


def probe(*, refresh: bool = False) -> Probe:
    """This machine kind's probe: from the process, else from the cache file, else measured now (a child
    process, some seconds) and cached. ``refresh=True`` measures again."""
    machine = MachineKind.here()
    key = machine.key()
    if not refresh and key in _PROBES:
        return _PROBES[key]
    path = _cache_path(machine)
    result = None
    if not refresh and path.is_file():
        try:
            cached = Probe.from_dict(json.loads(path.read_text()))
            # the measurements are cached, the rule is not: decide again with today's thresholds
            result = dataclasses.replace(
                cached, **dict(zip(("chosen", "reason"), decide(cached.float32, cached.bfloat16, cached.rel_error)))
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            result = None  # a damaged cache file is measured again and replaced
    if result is None:
        result = run_probe(machine)
        _write_atomic(path, json.dumps(result.to_dict(), indent=1))
    _PROBES[key] = result
    return result


def _write_atomic(path: Path, text: str) -> None:
    from restoration import atomic

    try:
        atomic.write_text(path, text)
    except OSError:
        pass  # a read-only runs folder: the probe is kept in the process only


_BEGIN = "restoration-probe-begin "
_RESULT = "restoration-probe-result "


def run_probe(machine: MachineKind | None = None, env: dict | None = None, *, bf16_env: dict | None = None) -> Probe:
    """Measure in a child process (see the module docstring) and decide. ``env`` adds variables for the child;
    ``bf16_env``, when given, measures bfloat16 in a second child with those variables instead (a machine kind
    whose two precisions take different libraries, like an AVX2-only CPU: float32 on oneDNN, bfloat16 on Eigen)."""
    machine = machine or MachineKind.here()
    if bf16_env is None:
        out, code = _run_child(env or {})
    else:
        out32, code32 = _run_child({**(env or {}), _ONLY: "float32"})
        out16, code16 = _run_child({**bf16_env, _ONLY: "bfloat16"})
        out, code = out32 + "\n" + out16, code16 if code16 else code32
    timings, rel, isa = parse_child_output(out, code)
    chosen, reason = decide(timings["float32"], timings["bfloat16"], rel)
    return Probe(
        machine,
        isa,
        timings["float32"],
        timings["bfloat16"],
        rel,
        chosen,
        reason,
        dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


_ONLY = "RESTORATION_PROBE_ONLY"  # the child measures this precision alone (and a reference for bfloat16)


def _run_child(env: dict) -> tuple[str, object]:
    child_env = {**os.environ, **env, "ONEDNN_VERBOSE": "profile_create", "TF_CPP_MIN_LOG_LEVEL": "3"}
    repo = str(Path(__file__).resolve().parents[1])
    child_env["PYTHONPATH"] = repo + os.pathsep + child_env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-c", "from restoration.precision import _child; _child()"]
    try:
        proc = subprocess.run(cmd, env=child_env, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        return proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return out, f"timeout after {PROBE_TIMEOUT_S:.0f} s"


def kernels_in(text: str) -> tuple[str, ...]:
    """The oneDNN implementations of the convolutions and matrix products created in ``text`` (the output of a
    process run with ``ONEDNN_VERBOSE=profile_create``), sorted; ``("eigen",)`` where oneDNN created none."""
    found = {
        m.group(2)
        for m in re.finditer(
            r"onednn_verbose,[^\n]*?primitive,create:[a-z_]+,cpu,(convolution|matmul|inner_product),([^,]+),", text
        )
    }
    return tuple(sorted(found)) or ("eigen",)


def parse_child_output(out: str, code) -> tuple[dict, float | None, str]:
    """The child's timings per precision, the relative gradient error and oneDNN's ISA, from its output (its
    result lines and oneDNN's verbose lines between them); a precision whose result line is missing failed."""
    isa_m = re.search(r"onednn_verbose,.*?info,cpu,isa:([^\n]+)", out)
    isa = isa_m.group(1).strip() if isa_m else "oneDNN not used"
    sections = re.split(rf"^{_BEGIN}(\w+)$", out, flags=re.M)
    kernels = {pr: kernels_in(text) for pr, text in zip(sections[1::2], sections[2::2])}
    results = {}
    for m in re.finditer(rf"^{_RESULT}(.+)$", out, flags=re.M):
        d = json.loads(m.group(1))
        results[d["precision"]] = d
    tail = " ".join(l for l in out.strip().splitlines()[-3:] if not l.startswith("onednn_verbose"))[-240:]
    why = (
        f"the probe process ended with {'signal ' + str(-code) if isinstance(code, int) and code < 0 else code}"
        f"{': ' + tail if tail else ''}"
    )
    timings = {}
    for pr in PRECISIONS:
        if pr in results and "ms" in results[pr]:
            timings[pr] = Timing(pr, tuple(results[pr]["ms"]), kernels.get(pr, ("eigen",)))
        else:
            failed = results.get(pr, {}).get("error") or why
            timings[pr] = Timing(pr, (), (), failed)
    rel = results.get("bfloat16", {}).get("rel_error")
    return timings, rel, isa


def block_step(precision: str, *, size: int = 56, channels: int = 128):
    """One VGG-like block (3x3 conv, ReLU, 3x3 conv on a ``size`` px map of ``channels`` channels, batch 1) forward
    and back to its input in ``precision`` with fixed random weights, as a traced function returning the gradient."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
    k1, k2 = (
        tf.constant(rng.normal(0, np.sqrt(2 / (9 * channels)), (3, 3, channels, channels)).astype(np.float32))
        for _ in range(2)
    )
    x = tf.Variable(rng.normal(0, 1, (1, size, size, channels)).astype(np.float32))
    c1, c2 = tf.cast(k1, dtype), tf.cast(k2, dtype)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.nn.conv2d(tf.cast(x, dtype), c1, 1, "SAME"))
            y = tf.cast(tf.nn.conv2d(h, c2, 1, "SAME"), tf.float32)
            loss = tf.reduce_sum(tf.square(y)) / tf.cast(tf.size(y), tf.float32)
        return tape.gradient(loss, x)

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


def _child() -> None:
    """The probe's child process. Both precisions are built first, float32 then bfloat16, each announced on stdout
    (oneDNN names its kernels between the announcements), float32 answered at once with three repeats so a crash
    while building bfloat16 still leaves a float32 result; then both are timed in alternating rounds and answered
    again (the last answer counts). With ``RESTORATION_PROBE_ONLY`` set, that precision alone (bfloat16's error
    is then taken against a float32 reference computed here on the same kernels library)."""
    import numpy as np

    only = os.environ.get(_ONLY)
    if only:
        ref = measure("float32", repeats=1)["grad"] if only == "bfloat16" else None
        print(f"{_BEGIN}{only}", flush=True)
        try:
            r = measure(only)
        except Exception as e:  # a kernel oneDNN will not build: report it, do not hide it
            print(_RESULT + json.dumps({"precision": only, "error": _refusal(e)}), flush=True)
            return
        rel = None if ref is None else float(np.linalg.norm(r["grad"] - ref) / np.linalg.norm(ref))
        print(_RESULT + json.dumps({"precision": only, "ms": r["ms"], "rel_error": rel}), flush=True)
        return
    print(f"{_BEGIN}float32", flush=True)
    steps = {"float32": block_step("float32")}
    ref = steps["float32"]().numpy()
    early = [_ms(steps["float32"]) for _ in range(3)]
    print(_RESULT + json.dumps({"precision": "float32", "ms": early, "rel_error": None}), flush=True)
    print(f"{_BEGIN}bfloat16", flush=True)
    rel = None
    try:
        steps["bfloat16"] = block_step("bfloat16")
        grad = steps["bfloat16"]().numpy()
        rel = float(np.linalg.norm(grad - ref) / np.linalg.norm(ref))
    except Exception as e:  # a kernel oneDNN will not build: report it, do not hide it
        print(_RESULT + json.dumps({"precision": "bfloat16", "error": _refusal(e)}), flush=True)
    print(f"{_BEGIN}timing", flush=True)  # kernels oneDNN re-creates while timing are nobody's
    ms = measure_interleaved(steps)
    for pr, times in ms.items():
        print(
            _RESULT + json.dumps({"precision": pr, "ms": times, "rel_error": rel if pr == "bfloat16" else None}),
            flush=True,
        )


# ----------------------------------------------------------------------------------------------------------
# the machine kinds, as oneDNN can emulate them on one CPU
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IsaPath:
    """A machine kind's bfloat16 path, reproduced on this CPU by environment variables set before TensorFlow
    starts. A cap can only lower the ISA: a CPU without ``needs`` cannot run the path."""

    name: str
    env: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]
    what: str
    kernel: str  # a regular expression every bfloat16 kernel of this path matches (oneDNN's name, or "eigen")

    @property
    def float32_env(self) -> tuple[tuple[str, str], ...]:
        """How this machine kind runs float32: the same variables but oneDNN left on (float32 uses it on every kind)."""
        return tuple((k, v) for k, v in self.env if k != "TF_ENABLE_ONEDNN_OPTS")

    def ran(self, kernels) -> bool:
        """Whether ``kernels`` (a :class:`Timing`'s) show this path, so a test knows the path really ran: one of
        them is the path's and none belongs to a higher path (oneDNN may pick a lower ISA's kernel for an odd
        shape, never a higher one than the cap)."""
        higher = [p for p in ISA_PATHS[: ISA_PATHS.index(self)]] if self in ISA_PATHS else []
        return any(re.search(self.kernel, k) for k in kernels) and not any(
            re.search(h.kernel, k) for h in higher for k in kernels
        )

    def runnable(self, flags=None) -> tuple[bool, str]:
        flags = set(cpu_info()[1] if flags is None else flags)
        missing = [f for f in self.needs if f not in flags]
        if missing:
            return False, f"this CPU lacks {', '.join(missing)} (oneDNN caps lower the ISA, they cannot add to it)"
        return True, ""


ISA_PATHS = (
    IsaPath(
        "AVX512_CORE_AMX",
        (("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX"),),
        ("amx_bf16", "amx_tile"),
        "Intel Xeon with AMX: bfloat16 convolutions on the matrix tiles",
        r"avx512_core_amx",
    ),
    IsaPath(
        "AVX512_CORE_BF16",
        (("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16"),),
        ("avx512_bf16",),
        "AVX512-BF16 (AMD EPYC Zen 4, Intel Cooper Lake): bfloat16 dot products into float32",
        r"avx512_core_bf16",
    ),
    IsaPath(
        "AVX512_CORE",
        (("ONEDNN_MAX_CPU_ISA", "AVX512_CORE"),),
        ("avx512f", "avx512bw", "avx512vl", "avx512dq"),
        "AVX-512 without BF16: oneDNN emulates bfloat16 with AVX-512 integer ops",
        r"avx512_core(?![_\w])",
    ),
    # On an AVX2-only CPU TensorFlow does not hand bfloat16 to oneDNN at all: it runs on Eigen's kernels. A cap
    # alone does not reproduce that (TensorFlow routes by the CPU's own flags, and the capped oneDNN refuses the
    # kernel), so the path turns oneDNN off as well: float32 then runs on Eigen too, which the numerics do not see.
    # OpenBLAS (numpy's GEMM, the bench's reference rate) is held to its AVX2 (Haswell) kernels too.
    IsaPath(
        "AVX2",
        (("ONEDNN_MAX_CPU_ISA", "AVX2"), ("TF_ENABLE_ONEDNN_OPTS", "0"), ("OPENBLAS_CORETYPE", "Haswell")),
        ("avx2", "fma"),
        "AVX2 only (e.g. AMD EPYC Zen 2/3): bfloat16 on TensorFlow's Eigen kernels, emulated",
        r"^eigen$",
    ),
)


def isa_path(name: str) -> IsaPath:
    for p in ISA_PATHS:
        if p.name == name:
            return p
    raise ValueError(f"ISA path {name!r}: use one of {', '.join(p.name for p in ISA_PATHS)}")


def provenance(precision: str) -> dict:
    """What a run records about its precision and machine (``info.provenance.precision`` / ``.machine``): the
    config value, what it resolved to and why, the CPU model, its kernel flags, the oneDNN switches and the ISA
    oneDNN ran, and the probe's timings. A value that cannot resolve is recorded with its error (the run itself
    then fails with that line where the net is built)."""
    p = probe()
    try:
        resolved, error = resolve(precision), None
    except ValueError as e:
        resolved, error = None, str(e)
    why = p.reason if precision == "auto" else ("forced by the config" if resolved else error)
    return {
        "precision": {
            "config": precision,
            "resolved": resolved,
            "reason": why,
            "auto_would_choose": p.chosen,
            "speedup": None if p.speedup != p.speedup else round(p.speedup, 3),
            "rel_error": p.rel_error,
            "float32_ms": list(p.float32.ms),
            "bfloat16_ms": list(p.bfloat16.ms),
            "float32_kernels": list(p.float32.kernels),
            "bfloat16_kernels": list(p.bfloat16.kernels),
            "measured_at": p.measured_at,
        },
        "machine": {
            "cpu": p.machine.cpu,
            "cores": p.machine.cores,
            "flags": list(p.machine.flags),
            "env": dict(p.machine.env),
            "onednn_isa": p.onednn_isa,
            "tensorflow": p.machine.tensorflow,
            "key": p.machine.key(),
        },
    }


def main(argv=None) -> int:
    """``python -m restoration precision [--refresh]``: this machine's probe, its choice and its evidence."""
    import argparse

    ap = argparse.ArgumentParser(prog="restoration precision", description=main.__doc__)
    ap.add_argument("--refresh", action="store_true", help="measure again instead of reading the cached probe")
    ap.add_argument("--json", action="store_true", help="print the probe as JSON")
    args = ap.parse_args(argv)
    p = probe(refresh=args.refresh)
    if args.json:
        print(json.dumps(p.to_dict(), indent=1))
        return 0
    print(describe(p))
    return 0


def describe(p: Probe, *, cached: bool = True) -> str:
    """The probe in a few lines for people: the machine, each precision's timing and kernels, the choice (and the
    cache file, for a probe of this machine kind as it is; ``cached=False`` for one measured under other
    variables)."""
    lines = [
        f"machine: {p.machine.describe()}; TensorFlow {p.machine.tensorflow}",
        f"oneDNN ISA in use: {p.onednn_isa}",
        f"float32:  {p.float32.spread()}; kernels {p.float32.path}",
        f"bfloat16: {p.bfloat16.spread()}; kernels {p.bfloat16.path}",
        f"{p.summary()}",
        f"(measured {p.measured_at}" + (f"; cached in {_cache_path(p.machine)})" if cached else "; not cached)"),
    ]
    return "\n".join(lines)


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 GEMM rate now (numpy, best of ``repeats`` ``n x n`` products), GFLOP/s: the
    yardstick a long job states its speed against, measured in the same run."""

    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    import time

    t = time.perf_counter()
    fn()
    return time.perf_counter() - t
