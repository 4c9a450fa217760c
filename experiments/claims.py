"""Replicates for the claims: ``python -m restoration_experiments --claims [--n 3] [--only ID ...] [--cluster local]``.

Runs every arm of every claim in ``experiments/registry.toml`` for seeds ``0..n-1`` (``make claims``; ``N=5``
for five), as Sacred runs on the sweep machinery (:mod:`restoration.sweeps`: a local Dask cluster by default,
``--cluster serial`` one by one). Arms with the same seed share initialisation, data order and jitter. Runs that
already completed (an earlier ``make claims``, or the figure's own quick run at the same precision) are reused, and
seed 0 of an arm at the machine's precision runs as the figure's own quick run (the report shows it);
claims with AlexNet arms are skipped without ``bvlc_alexnet.npy``, saying so. The plan
(:mod:`restoration.replicates`) is printed first, the CPU and its GEMM rate measured at the start, and each run's
wall time as it ends. ``make report`` then judges the claims on all of them (:mod:`restoration_reports.claims`).

Exit status: 0 when every run completed, 1 when some failed, 2 for bad options.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time


def pinned_precision(figure: str) -> str:
    """The precision ``figure``'s quick config fixes (``float32`` for joint training), or ``auto``."""
    from sacred.initialize import create_run

    from restoration.contract import registry

    module = importlib.import_module(registry.load().figure(figure).module)
    ex = module.ex
    config = create_run(ex, ex.default_command, config_updates={}, named_configs=["quick"]).config
    return str(config.get("precision", "auto"))


def parse_extra(tokens: list[str]) -> dict:
    """``["steps=500", "image_dir=/data"]`` -> ``{"steps": 500, "image_dir": "/data"}`` (values as Sacred reads
    them on a command line)."""
    from sacred.arg_parser import _convert_value

    out = {}
    for token in tokens:
        if "=" not in token:
            raise ValueError(
                f"{token!r} is not key=value; e.g. python -m restoration_experiments --claims -- steps=500"
            )
        key, value = token.split("=", 1)
        out[key.strip()] = _convert_value(value)
    return out


def build_plan(n: int, only: list[str] | None, extra: dict | None = None):
    from restoration import paths, precision, replicates, tracking
    from restoration.contract import registry

    reg = registry.load()
    claims = replicates.select_claims(reg, only)
    figures = {f for c in claims for f in c.figures}
    pinned = {f: pinned_precision(f) for f in sorted(figures)}
    if extra:
        if "seed" in extra or "precision" in extra:
            raise ValueError("make claims sets seed and precision itself; leave them out of the extra config values")
        for f in sorted(figures):
            module = importlib.import_module(reg.figure(f).module)
            tracking.check_config_keys(module.ex, list(extra), ["quick"], what=f)
    return replicates.plan(
        claims,
        reg,
        n,
        pinned=pinned,
        resolve=precision.resolve,
        completed=tracking.claim_runs,
        alexnet_missing=paths.missing_alexnet_weights(),
        extra=extra,
    )


def main(argv: list[str]) -> int:
    from restoration import machine, replicates, sweeps, tracking

    p = argparse.ArgumentParser(prog="python -m restoration_experiments --claims", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3, help="seeds 0..n-1 (default 3)")
    p.add_argument("--only", nargs="*", default=None, help="claim ids (default: every claim)")
    p.add_argument("--cluster", default="local", help="local (default), serial, slurm or a scheduler address")
    p.add_argument("--workers", type=int, default=None, help="local cluster: number of workers")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.add_argument("extra", nargs="*", help="config values for every run after --, e.g. -- image_dir=/data")
    args = p.parse_args(argv)
    try:
        extra = parse_extra(args.extra)
        plan = build_plan(args.n, args.only, extra)
        spec = sweeps.ClusterSpec.parse(args.cluster, workers=args.workers)
    except (ValueError, sweeps.SweepError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in plan.lines():
        print(line)
    if args.dry_run or not plan.runs_to_do:
        return 0
    print(
        f"machine: {machine.MachineKind.here().describe()}; float32 GEMM {machine.gemm_gflops():.0f} GFLOP/s "
        f"(numpy 2048^2, measured now)",
        flush=True,
    )
    from restoration_experiments.sweep import run_point

    t0, failed, total = time.monotonic(), 0, plan.runs_to_do
    env = sweeps.worker_environment()
    for ap in plan.arms:
        if ap.arm.precision == "auto" and not extra and 0 in ap.todo:
            # seed 0 at the machine's precision is the figure's own quick run: stored as one (no sweep tag), so
            # the report shows it as the figure and `make report` does not run it again
            t = time.monotonic()
            reply = run_point(ap.arm.figure, ["quick"], {"seed": 0}, {}, env)
            print(
                f"  {ap.arm.figure} seed 0 (the figure's own quick run): run {reply.get('run_id')} "
                f"{reply.get('status')} ({time.monotonic() - t:.1f} s) {reply.get('error') or ''}",
                flush=True,
            )
            failed += reply.get("status") != "COMPLETED"
            ap.todo = [s for s in ap.todo if s != 0]
        if not ap.todo:
            continue
        sweep = replicates.claims_sweep(ap.arm, ap.todo, extra)
        outcome = sweeps.run_sweep(sweep, run_point, cluster=spec)
        for line in outcome.lines():
            print(line, flush=True)
        failed += len(outcome.by_status("failed"))
    print(
        f"make claims: {total} runs in {(time.monotonic() - t0) / 60:.1f} min, {failed} failed; "
        f"database {tracking.describe(tracking.db_url())}; `make report` judges the claims",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
