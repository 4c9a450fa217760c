"""The machine: which CPU this is, which of its vector features decide the kernels, and which other machine kinds
its oneDNN can be lowered to (:data:`ISA_PATHS`), plus its float32 GEMM rate, the yardstick speeds are stated
against. Pure Python (TensorFlow is never imported here).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re

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

        from restoration.kernel_library import user_environ

        name, flags = cpu_info()
        env = user_environ()
        try:
            tf_version = importlib.metadata.version("tensorflow")
        except importlib.metadata.PackageNotFoundError:
            tf_version = "none"
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return cls(
            name,
            tuple(f for f in KERNEL_FLAGS if f in flags),
            tuple((k, env[k]) for k in KERNEL_ENV if env.get(k)),
            tf_version,
            cores,
        )

    def key(self, version: int = 0) -> str:
        """A short digest of the kind; ``version`` (the probe's workload version) goes in too, so a changed
        workload is measured again."""
        ident = {**dataclasses.asdict(self), "probe": version}
        return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]

    def describe(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env)
        return f"{self.cpu}, {self.cores} cores, flags {' '.join(self.flags) or 'none'}" + (f", {env}" if env else "")


@dataclasses.dataclass(frozen=True)
class IsaPath:
    """A machine kind's bfloat16 path, reproduced on this CPU by environment variables set before TensorFlow
    starts. A cap can only lower the ISA: a CPU without ``needs`` cannot run the path."""

    name: str
    env: tuple[tuple[str, str], ...]
    needs: tuple[str, ...]
    what: str
    kernel: str  # a regular expression every bfloat16 kernel of this path matches (oneDNN's name, or "eigen")

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


# Each path sets TensorFlow's switch too, so a path runs the same whatever the calling environment says (the
# oneDNN paths turn it on: their purpose is oneDNN's kernels for that ISA).
ISA_PATHS = (
    IsaPath(
        "AVX512_CORE_AMX",
        (("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX"), ("TF_ENABLE_ONEDNN_OPTS", "1")),
        ("amx_bf16", "amx_tile"),
        "Intel Xeon with AMX: bfloat16 convolutions on the matrix tiles",
        r"avx512_core_amx",
    ),
    IsaPath(
        "AVX512_CORE_BF16",
        (("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16"), ("TF_ENABLE_ONEDNN_OPTS", "1")),
        ("avx512_bf16",),
        "AVX512-BF16 (AMD EPYC Zen 4, Intel Cooper Lake): bfloat16 dot products into float32",
        r"avx512_core_bf16",
    ),
    IsaPath(
        "AVX512_CORE",
        (("ONEDNN_MAX_CPU_ISA", "AVX512_CORE"), ("TF_ENABLE_ONEDNN_OPTS", "1")),
        ("avx512f", "avx512bw", "avx512vl", "avx512dq"),
        "AVX-512 without BF16: oneDNN emulates bfloat16 with AVX-512 integer ops",
        r"avx512_core(?![_\w])",
    ),
    # On an AVX2-only CPU TensorFlow leaves oneDNN off by default (restoration.kernel_library.tf_default): both
    # precisions run on Eigen, bfloat16 emulated. A cap alone does not reproduce that (TensorFlow decides by the
    # CPU's own flags, which still show AVX-512, and the capped oneDNN refuses bfloat16), so the path sets
    # TensorFlow's switch to that kind's default as well; auto may then turn oneDNN on for float32, as it would
    # there. OpenBLAS (numpy's GEMM, the benches' reference rate) is held to its AVX2 (Haswell) kernels too.
    # What no variable emulates: that CPU's cores (clock, cache sizes, two 256-bit FMA pipes against Zen 4's
    # AVX-512 datapath, memory bandwidth), so rates and ratios measured here are not that machine's; the kernels,
    # the decisions and the numerics are.
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
