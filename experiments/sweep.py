"""Sweeps on Dask: ``python -m restoration_experiments --sweep NAME [--cluster local|serial|slurm|tcp://host:8786]``.

The grid is declared in ``experiments/registry.toml`` (``[sweeps.NAME]``; see :mod:`restoration.sweeps`); every
configuration is one Sacred run of the registered experiment, tagged with the sweep, in the run database.
Configurations that already completed are skipped, a failed one is retried once and listed, the Dask dashboard
link is printed. ``make sweep SWEEP=NAME`` runs it on a local cluster (both cores); with several machines
(``--cluster`` an address or ``slurm``) set ``SACRED_DB_URL`` to a PostgreSQL server first. ``--cluster serial``
runs the same configurations one by one in this process (the baseline to compare wall times with).

Exit status: 0 when every configuration completed, 1 when some failed, 2 for a bad sweep or option.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys


def run_point(experiment: str, named_configs: list[str], updates: dict, tag: dict, env: dict) -> dict:
    """Run one configuration of a registered experiment in this process (a Dask worker, or the caller with
    ``--cluster serial``) and report ``{"run_id", "status", "error"}``. The experiment module is imported once
    per process; its observer binds to ``env``'s database when the run starts."""
    os.environ.update(env)
    from restoration import tracking
    from restoration.contract import registry

    module = importlib.import_module(registry.load().figure(experiment).module)
    try:
        run = module.ex.run(named_configs=list(named_configs), config_updates=dict(updates), meta_info={"sweep": tag})
    except Exception as e:  # noqa: BLE001 - Sacred marked the run FAILED; say why to the sweep
        return {"run_id": None, "status": "FAILED", "error": f"{type(e).__name__}: {e}".splitlines()[0]}
    complete, why = tracking.record_complete(run)
    return {"run_id": run._id, "status": run.status if complete else "INCOMPLETE", "error": why}


def check_keys(sweep) -> None:
    """Refuse a sweep whose grid or fixed values name a key its experiment does not have (each point would run the
    same configuration under a different label): one :class:`restoration.sweeps.SweepError` line."""
    from restoration import sweeps, tracking
    from restoration.contract import registry

    module = importlib.import_module(registry.load().figure(sweep.experiment).module)
    try:
        tracking.check_config_keys(
            module.ex,
            [k for k, _ in sweep.grid] + [k for k, _ in sweep.fixed],
            sweep.named_configs,
            what=sweep.experiment,
        )
    except ValueError as e:
        raise sweeps.SweepError(f"sweep {sweep.name!r}: {e}") from None


def main(argv: list[str]) -> int:
    from restoration import sweeps

    p = argparse.ArgumentParser(prog="python -m restoration_experiments --sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("name", nargs="?", help="sweep name (see --list)")
    p.add_argument("--list", action="store_true", help="list the declared sweeps")
    p.add_argument(
        "--cluster",
        default="local",
        help="local (default: a Dask LocalCluster, one worker per core), serial (one by one, no Dask), "
        "slurm (dask-jobqueue), or a scheduler address such as tcp://head:8786",
    )
    p.add_argument("--workers", type=int, default=None, help="local cluster: number of workers (default: cores)")
    p.add_argument(
        "--slurm",
        default="",
        help="SLURM options: queue=...,account=...,cores=8,memory=16GB,walltime=02:00:00,jobs=4,"
        "job_extra='--gres=gpu:1'",
    )
    args = p.parse_args(argv)
    try:
        declared = sweeps.load()
        if args.list or not args.name:
            for s in declared.values():
                print(f"  {s.name:<22} {s.experiment:<14} {len(s.points()):>3} runs  {s.title}")
            return 0 if args.list else 2
        if args.name not in declared:
            raise sweeps.SweepError(
                f"no sweep {args.name!r} in experiments/registry.toml; declared: "
                f"{', '.join(sorted(declared)) or 'none'}"
            )
        sweep = declared[args.name]
        check_keys(sweep)
        spec = sweeps.ClusterSpec.parse(args.cluster, workers=args.workers, slurm=args.slurm)
        outcome = sweeps.run_sweep(sweep, run_point, cluster=spec)
    except sweeps.SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in outcome.lines():
        print(line)
    return 1 if outcome.by_status("failed") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
