"""Compute precision: float32, bfloat16, or ``auto``, which measures this machine once and picks the faster of the
two where bfloat16 stays within its accuracy budget.

Why measure: the same TensorFlow build runs bfloat16 on three very different paths. On an Intel Xeon with AMX
oneDNN's bfloat16 convolutions run about 3x the float32 rate; on an AMD EPYC with AVX512-BF16 about 2x; on a CPU
with AVX2 only TensorFlow hands bfloat16 to Eigen, which emulates it about 10x *slower* than float32. No flag
list predicts the rate (a CPU may hide its flags, oneDNN may be capped by ``ONEDNN_MAX_CPU_ISA``), so ``auto``
asks the machine.

The probe (the workloads and child of :mod:`restoration.probe_workloads`, run by :func:`probe`) times the path that
matters, a VGG-like block's forward and backward (what the M&V step and module training spend their time on), in both
precisions, with repeats taken in alternating rounds (a second job on the machine then slows both alike: measured one
after the other under load, a 2.3x gain once read as 1.09x and chose float32), and compares the bfloat16 gradient with
the float32 one. bfloat16 is chosen when (:func:`decide`): it ran; its gradient is within :data:`ERROR_BUDGET` of
float32's; its median step is at least :data:`MIN_SPEEDUP` times faster; and its median beats float32's fastest repeat
(a gain larger than the machine's run-to-run spread). Otherwise float32. The probe runs in a child because a capped
oneDNN may *abort* the process when asked for a bfloat16 kernel it will not build (``ONEDNN_MAX_CPU_ISA=AVX2`` on an
AVX-512 CPU: TensorFlow still routes bfloat16 to oneDNN by the CPU's flags, and oneDNN refuses), and because
``ONEDNN_VERBOSE`` in the child names the kernels that ran. The result is cached per machine kind (CPU model, its vector
flags, the oneDNN and TensorFlow settings) in ``<runs>/machine/precision-<key>.json`` and in the process, and recorded
in every run's provenance.

The path a developer's CPU runs can be lowered to another machine kind's with
:data:`restoration.machine.ISA_PATHS` (in a child process: the variables are read at start), which the precision
tests use to exercise every kind on one machine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from restoration.machine import MachineKind, cpu_info
from restoration.probe_workloads import BEGIN as _BEGIN
from restoration.probe_workloads import MODULE as _MODULE
from restoration.probe_workloads import ONLY as _ONLY
from restoration.probe_workloads import RESULT as _RESULT

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
#: the probe's workload (:func:`~restoration.probe_workloads.measure`); a change measures every machine again
PROBE_VERSION = 3  # 3: the block step computes its kernel gradients too; the module step on both libraries


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

    bfloat16 was measured on TensorFlow's default kernel library: where this process runs the other one
    (``RESTORATION_KERNELS`` forced it, :mod:`restoration.kernel_library`), ``auto`` takes float32, and a forced
    ``"bfloat16"`` that the kernels refuse (the probe could not build them, or oneDNN turned on where TensorFlow
    leaves it off) is a one-line ``ValueError`` here, not an abort deep inside TensorFlow."""
    from restoration import kernel_library

    if check(precision) == "float32":
        return precision
    p = probe()
    other_library = kernel_library.in_effect(cpu_info()[1]) != p.library_default
    if precision == "auto":
        return "float32" if other_library else p.chosen
    if p.bfloat16.failed and not p.bfloat16.ms:
        raise ValueError(
            f"precision='bfloat16' cannot run on this machine ({p.machine.describe()}): "
            f"{p.bfloat16.failed}; use precision=auto or precision=float32"
        )
    if other_library and p.library_default == "eigen":
        raise ValueError(
            f"precision='bfloat16' with oneDNN turned on where TensorFlow leaves it off ({p.machine.describe()}): "
            f"oneDNN has no bfloat16 kernel for this CPU; use precision=float32 or {kernel_library.SETTING}=eigen"
        )
    return precision


# ----------------------------------------------------------------------------------------------------------
# the probe
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """One precision's probe: milliseconds per step of each repeat, the kernels that ran (oneDNN implementation
    names, or ``eigen`` where TensorFlow used no oneDNN kernel), why it could not run (or ``None``), and whether
    the child's TensorFlow had oneDNN on (its own ``IsMklEnabled``; ``None`` where it did not say)."""

    precision: str
    ms: tuple[float, ...] = ()
    kernels: tuple[str, ...] = ()
    failed: str | None = None
    onednn: bool | None = None

    @property
    def library(self) -> str:
        """``onednn`` or ``eigen``, as TensorFlow reported it in the child (else as the kernels show)."""
        if self.onednn is not None:
            return "onednn" if self.onednn else "eigen"
        return "eigen" if self.kernels in ((), ("eigen",)) else "onednn"

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
    """A measured choice of precision and kernel library for one machine kind, with its evidence.

    ``float32`` and ``bfloat16`` (the VGG-like block of :func:`~.probe_workloads.block_step`) ran on TensorFlow's
    default library for this machine (``library_default``). Where TensorFlow leaves oneDNN off (an AVX2-only CPU)
    float32's module step (:func:`~.probe_workloads.module_step`) is timed on both libraries, ``module_default``
    and ``module_other``, else both are ``None``. ``library`` is the library a run takes
    (:mod:`restoration.kernel_library`)."""

    machine: MachineKind
    onednn_isa: str  # what oneDNN said it runs ("Intel AVX2", ...), or "oneDNN not used"
    float32: Timing
    bfloat16: Timing
    rel_error: float | None  # relative L2 of the bfloat16 gradient against the float32 one
    chosen: str
    reason: str
    measured_at: str
    library_default: str = "onednn"
    module_default: Timing | None = None
    module_other: Timing | None = None
    library: str = "onednn"
    library_reason: str = ""

    @property
    def speedup(self) -> float:
        """bfloat16 against float32 on the default library (the numbers the precision rule reads)."""
        return self.float32.median / self.bfloat16.median if self.bfloat16.ms and self.float32.ms else float("nan")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Probe":
        m = d["machine"]
        machine = MachineKind(
            m["cpu"], tuple(m["flags"]), tuple(tuple(e) for e in m["env"]), m["tensorflow"], int(m["cores"])
        )

        def timing(t):
            if t is None:
                return None
            return Timing(t["precision"], tuple(t["ms"]), tuple(t["kernels"]), t["failed"], t["onednn"])

        return cls(
            machine,
            d["onednn_isa"],
            timing(d["float32"]),
            timing(d["bfloat16"]),
            d["rel_error"],
            d["chosen"],
            d["reason"],
            d["measured_at"],
            d["library_default"],
            timing(d["module_default"]),
            timing(d["module_other"]),
            d["library"],
            d["library_reason"],
        )

    def decided_again(self) -> "Probe":
        """The same measurements under today's rules (:func:`choose`): the cache keeps measurements, not rules."""
        chosen, reason, library, library_reason = choose(
            self.float32, self.bfloat16, self.rel_error, self.library_default, self.module_default, self.module_other
        )
        return dataclasses.replace(self, chosen=chosen, reason=reason, library=library, library_reason=library_reason)

    def summary(self) -> str:
        """One line: the choice and why."""
        return f"precision auto -> {self.chosen}: {self.reason}"

    def library_summary(self) -> str:
        """One line: the kernel library and why."""
        return f"kernel library auto -> {self.library}: {self.library_reason}"


def choose(
    f32: Timing,
    bf16: Timing,
    rel_error: float | None,
    library_default: str,
    module_default: Timing | None = None,
    module_other: Timing | None = None,
) -> tuple[str, str, str, str]:
    """``(precision, reason, library, library_reason)``: the precision first (:func:`decide`, on TensorFlow's
    default library, the only one that runs bfloat16 everywhere); bfloat16 keeps that library; float32 takes the
    library whose module step was faster (:func:`kernel_library.decide <restoration.kernel_library.decide>`)."""
    from restoration import kernel_library

    chosen, reason = decide(f32, bf16, rel_error)
    lib, lib_reason = kernel_library.decide(module_default, module_other, library_default)
    if chosen == "bfloat16":
        return chosen, reason, library_default, f"bfloat16 runs on TensorFlow's default here; {lib_reason}"
    return chosen, reason, lib, lib_reason


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


def machine_key(machine: MachineKind) -> str:
    """The probe cache's key for a machine kind (the kind and :data:`PROBE_VERSION`)."""
    return machine.key(PROBE_VERSION)


def _cache_path(machine: MachineKind) -> Path:
    from restoration.paths import runs_dir

    return runs_dir() / "machine" / f"precision-{machine_key(machine)}.json"


_PROBES: dict[str, Probe] = {}


def probe(*, refresh: bool = False) -> Probe:
    """This machine kind's probe: from the process, else from the cache file, else measured now (a child
    process, some seconds) and cached. ``refresh=True`` measures again."""
    machine = MachineKind.here()
    key = machine_key(machine)
    if not refresh and key in _PROBES:
        return _PROBES[key]
    path = _cache_path(machine)
    result = None
    if not refresh and path.is_file():
        try:
            # the measurements are cached, the rule is not: decide again with today's thresholds
            result = Probe.from_dict(json.loads(path.read_text())).decided_again()
        except (ValueError, KeyError, TypeError, AttributeError):
            result = None  # a damaged cache file is measured again and replaced
    if result is None:
        result = run_probe(machine)
        _write_atomic(path, json.dumps(result.to_dict(), indent=1))
    _PROBES[key] = result
    return result


def prepare_kernels(*, measured: Probe | None = None) -> str | None:
    """Apply this machine's library choice to this process (and so to its children) before TensorFlow starts:
    with ``RESTORATION_KERNELS=auto`` the precision probe's choice (measured once per machine kind, cached), else
    the forced library (``measured`` gives the probe instead of this machine's). Returns the library set, or
    ``None`` where nothing was changed: TensorFlow is already imported in this process (its switch is read once),
    or the choice is what TensorFlow does anyway."""
    from restoration import kernel_library as kl

    if "tensorflow" in sys.modules:
        return None
    want = kl.setting()
    if want == "auto":
        want = (measured or probe()).library
    if want == kl.in_effect(cpu_info()[1]):
        return None
    if kl.ORIGINAL not in os.environ:
        os.environ[kl.ORIGINAL] = os.environ.get(kl.SWITCH, "")
    os.environ.update(kl.switch_env(want))
    return want


def _write_atomic(path: Path, text: str) -> None:
    from restoration import atomic

    try:
        atomic.write_text(path, text)
    except OSError:
        pass  # a read-only runs folder: the probe is kept in the process only


def run_probe(machine: MachineKind | None = None, env: dict | None = None) -> Probe:
    """Measure in child processes (see the module docstring) and decide. ``env`` adds variables for the children
    (an ISA cap; ``TF_ENABLE_ONEDNN_OPTS`` as another machine kind has it by default). Where TensorFlow leaves
    oneDNN off in that environment (:func:`restoration.kernel_library.default_library`), two more children time
    float32's module step (:func:`~.probe_workloads.module_step`) on each library, and :func:`choose` takes the
    faster one."""
    from restoration import kernel_library

    machine = machine or MachineKind.here()
    base = {**kernel_library.user_environ(), **(env or {})}
    library_default = kernel_library.default_library(cpu_info()[1], base)
    out, code = _run_child(base)
    timings, rel, isa = parse_child_output(out, code)
    modules = (None, None)
    if library_default == "eigen":  # both libraries' module step, each in its own child (the switch is read once)
        libs = (library_default, kernel_library.other(library_default))
        runs = {lib: [] for lib in libs}
        for lib in libs * MODULE_ROUNDS:  # alternated: the machine's drift between processes hits both alike
            out_lib, code_lib = _run_child({**base, **kernel_library.switch_env(lib), _ONLY: _MODULE})
            timings_lib, _, isa_lib = parse_child_output(out_lib, code_lib)
            runs[lib].append(timings_lib["float32"])
            isa = isa_lib if isa == "oneDNN not used" else isa
        modules = [_pooled(runs[lib]) for lib in libs]
    chosen, reason, library, library_reason = choose(
        timings["float32"], timings["bfloat16"], rel, library_default, *modules
    )
    return Probe(
        machine,
        isa,
        timings["float32"],
        timings["bfloat16"],
        rel,
        chosen,
        reason,
        dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        library_default,
        *modules,
        library,
        library_reason,
    )


#: child processes per kernel library for the module step (alternated)
MODULE_ROUNDS = 2


def _pooled(timings: list[Timing]) -> Timing:
    """One library's module-step timings from several children: their repeats together (the first failure, if
    every child failed)."""
    ms = tuple(m for t in timings for m in t.ms)
    if not ms:
        return timings[0]
    ok = [t for t in timings if t.ms]
    return Timing("float32", ms, ok[0].kernels, None, ok[0].onednn)


def _run_child(env: dict) -> tuple[str, object]:
    """Run :func:`~.probe_workloads.child` with exactly ``env`` (plus oneDNN's creation log); its output and
    exit status."""
    child_env = {**env, "ONEDNN_VERBOSE": "profile_create", "TF_CPP_MIN_LOG_LEVEL": "3"}
    repo = str(Path(__file__).resolve().parents[1])
    child_env["PYTHONPATH"] = repo + os.pathsep + child_env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-c", "from restoration.probe_workloads import child; child()"]
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
            timings[pr] = Timing(
                pr, tuple(results[pr]["ms"]), kernels.get(pr, ("eigen",)), None, results[pr].get("onednn")
            )
        else:
            failed = results.get(pr, {}).get("error") or why
            timings[pr] = Timing(pr, (), (), failed)
    rel = results.get("bfloat16", {}).get("rel_error")
    return timings, rel, isa


def provenance(precision: str, *, confirm_library: bool = False) -> dict:
    """What a run records about its precision and machine (``info.provenance.precision`` / ``.machine``): the
    config value, what it resolved to and why, the CPU model, its kernel flags, the oneDNN switches and the ISA
    oneDNN ran, and the probe's timings. A value that cannot resolve is recorded with its error (the run itself
    then fails with that line where the net is built). ``confirm_library`` starts TensorFlow, if it is not yet,
    to record its own word on the kernel library (a run about to compute; not Sacred's printing commands)."""
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
        "kernel_library": _library_provenance(p, confirm_library),
        "machine": {
            "cpu": p.machine.cpu,
            "cores": p.machine.cores,
            "flags": list(p.machine.flags),
            "env": dict(p.machine.env),
            "onednn_isa": p.onednn_isa,
            "tensorflow": p.machine.tensorflow,
            "key": machine_key(p.machine),
        },
    }


def _library_provenance(p: Probe, confirm: bool = False) -> dict:
    """The kernel library part of :func:`provenance`: what TensorFlow runs by default here, what auto chose and
    why, what this process runs (and whether TensorFlow itself confirms it), and the float32 timings."""
    from restoration import kernel_library

    flags = cpu_info()[1]
    return {
        "setting": kernel_library.setting(),
        "tensorflow_default": p.library_default,
        "auto_would_choose": p.library,
        "reason": p.library_reason,
        "in_effect": kernel_library.in_effect(flags),
        "tensorflow_reports": kernel_library.tensorflow_reports(start=confirm),
        "module_step_ms": {t.library: list(t.ms) for t in (p.module_default, p.module_other) if t is not None},
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
        f"TensorFlow's default kernel library here: {p.library_default}",
        f"float32:  {p.float32.spread()}; kernels {p.float32.path}",
    ]
    for t in (p.module_default, p.module_other):
        if t is not None:
            lines.append(f"float32 module step on {t.library}: {t.spread()}; kernels {t.path}")
    lines += [
        f"bfloat16: {p.bfloat16.spread()}; kernels {p.bfloat16.path}",
        f"{p.summary()}",
        f"{p.library_summary()}",
        f"(measured {p.measured_at}" + (f"; cached in {_cache_path(p.machine)})" if cached else "; not cached)"),
    ]
    return "\n".join(lines)
