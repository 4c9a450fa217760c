"""Soak check (not in CI): many runs at once into one fresh database, with faults, and nothing lost.

Three scenarios, each on a fresh SQLite database under a temporary ``RESTORATION_RUNS_DIR``:

1. ``plain``: N tiny fig06 runs (``net=tiny_vgg``, different seeds) started at the same moment;
2. ``lock``: the same while another process holds SQLite's write lock for ``--lock-s`` seconds mid-way;
3. ``kill``: the same with one child killed by SIGKILL mid-way, then ``python -m restoration resume --dead``.

For each it reports runs started, completed, and lost: a run counts as lost unless its record (or, for the
killed child, its resumed run's record) is COMPLETED with every artifact and every logged metric it should
have. Lost must be 0. "metric gaps" counts logged training-loss steps that no record of a run holds: a process
killed with SIGKILL loses what it logged since its last heartbeat (Sacred sends metrics every 10 s).

    .venv/bin/python benchmarks/soak_concurrent_runs.py            # N = 8, about 5 min on 2 cores
    .venv/bin/python benchmarks/soak_concurrent_runs.py -n 4 --scenarios plain lock
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STEPS, LOG_EVERY = 60, 10
ARTIFACTS = {"fig06_rows.png", "fig06_modules.npz", "fig06_modules.json", "fig06_scores.json", "fig06_losses.png"}


def child(seed: int, env: dict) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "restoration_experiments",
        "fig06",
        "with",
        "net=tiny_vgg",
        "crop=16",
        "batch_size=4",
        f"steps={STEPS}",
        "eval_size=16",
        "eval_per_image=1",
        f"log_every={LOG_EVERY}",
        "eval_every=1000",
        "ckpt_every=10",
        f"seed={seed}",
        "reuse_modules=False",
    ]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def whole(recs) -> bool:
    """One of a seed's records is COMPLETED with every artifact and its whole report."""
    return any(r.status == "COMPLETED" and ARTIFACTS <= set(r.artifact_names) and r.report for r in recs)


def missing_metric_steps(recs) -> int:
    """Logged training-loss steps of the three modules that none of a seed's records holds: a killed process
    loses what it logged since its last heartbeat (Sacred sends metrics every 10 s); a resumed run logs only the
    steps after its checkpoint."""
    want = set(range(LOG_EVERY, STEPS + 1, LOG_EVERY))
    missing = 0
    for module in ("DC3", "DC2", "DC1"):
        steps = set()
        for r in recs:
            steps |= {int(s) for s in r.metrics().get(f"{module}/train_loss", ([], []))[0]}
        missing += len(want - steps)
    return missing


def hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sqlite3, time
        c = sqlite3.connect({str(db)!r}, isolation_level=None, timeout=120)
        c.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep({seconds})
        c.execute("COMMIT")
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    p.stdout.readline()
    return p


def scenario(name: str, n: int, lock_s: float) -> dict:
    runs_dir = Path(tempfile.mkdtemp(prefix=f"soak-{name}-"))
    env = {**os.environ, "RESTORATION_RUNS_DIR": str(runs_dir), "RESTORATION_STALE_S": "20"}
    os.environ.update({"RESTORATION_RUNS_DIR": str(runs_dir), "RESTORATION_STALE_S": "20"})
    from restoration import tracking
    from restoration.tracking import database

    database._ENGINES.clear()

    t0 = time.monotonic()
    procs = {seed: child(seed, env) for seed in range(n)}
    ckpts = runs_dir / "checkpoints" / "fig06"
    while not list(ckpts.glob("*/attempt1/pool1/DC2/ckpt-*.index")):  # the runs are well under way
        if all(p.poll() is not None for p in procs.values()):
            break
        time.sleep(0.5)
    locker = hold_lock(runs_dir / "sacred.sqlite", lock_s) if name == "lock" else None
    killed = None
    if name == "kill":
        killed = 0
        procs[killed].kill()
    codes = {seed: p.wait() for seed, p in procs.items()}
    if locker is not None:
        locker.wait()
    resumed = None
    if name == "kill":
        time.sleep(22)  # let its heartbeat go stale
        resumed = subprocess.call(
            [sys.executable, "-m", "restoration", "resume", "--dead"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    recs = tracking.runs("fig06")
    by_seed: dict[int, list] = {}
    for r in recs:
        by_seed.setdefault(int(r.config.get("seed", -1)), []).append(r)
    completed = sum(whole(by_seed.get(seed, [])) for seed in range(n))
    gaps = sum(missing_metric_steps(by_seed.get(seed, [])) for seed in range(n))
    return {
        "scenario": name,
        "runs started": n,
        "completed": completed,
        "lost": n - completed,
        "gaps": gaps,
        "exit codes": sorted(codes.values()),
        "resume exit": resumed,
        "seconds": round(time.monotonic() - t0),
        "database": str(runs_dir / "sacred.sqlite"),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=8, help="runs started together (default 8)")
    p.add_argument("--lock-s", type=float, default=60.0, help="seconds the injected lock is held (default 60)")
    p.add_argument("--scenarios", nargs="*", default=["plain", "lock", "kill"], choices=["plain", "lock", "kill"])
    args = p.parse_args(argv)
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"{os.cpu_count()} CPUs ({cpu}); {args.n} tiny fig06 runs per scenario, {STEPS} steps per module")
    results = [scenario(s, args.n, args.lock_s) for s in args.scenarios]
    print(f"{'scenario':9} {'started':>7} {'completed':>9} {'lost':>5} {'metric gaps':>11} {'seconds':>8}  exit codes")
    for r in results:
        print(
            f"{r['scenario']:9} {r['runs started']:7d} {r['completed']:9d} {r['lost']:5d} {r['gaps']:11d} "
            f"{r['seconds']:8d}  "
            f"{r['exit codes']}" + (f", resume: {r['resume exit']}" if r["resume exit"] is not None else "")
        )
    return 0 if all(r["lost"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
