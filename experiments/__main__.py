"""Run registered experiments: ``python -m experiments fig06 with quick``, or every one with ``--all``.

Everything after the id is Sacred's command line (``with quick``, ``with thesis image_dir=...``,
``print_config``, ...); the id may be written ``fig06``, ``6`` or ``06``. ``python -m experiments --list`` shows
the registry (``experiments/registry.toml``).

``python -m experiments --all [--profile quick|thesis] [--only ID ...] [-- SACRED ARGS]`` runs every figure in
registry order, each in its own process (a crash or a missing weights file ends that figure only), and prints
each figure's wall time, its outcome and the total. Figures that need AlexNet weights fail at once without
``bvlc_alexnet.npy`` and are recorded as such. ``python -m experiments --sweep NAME [--cluster ...]`` runs a declared sweep on Dask (see experiments/sweep.py).

Exit status: 0 when every figure completed or failed only for
missing AlexNet weights, 1 otherwise.
"""
import argparse
import importlib
import subprocess
import sys
import time


def _registry():
    from restoration import registry
    return registry.load()


def _run_one(fig_id: str, argv: list[str]) -> int:
    reg = _registry()
    entry = reg.figure(fig_id)
    module = importlib.import_module(entry.module)
    from restoration import tracking
    named, keys = tracking.command_line_updates(argv)
    try:  # a misspelt key would be added silently and the intended one left unchanged
        tracking.check_config_keys(module.ex, keys, named, what=fig_id)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    run = module.ex.run_commandline([entry.module] + list(argv))
    if run is None:
        return 1
    complete, why = tracking.record_complete(run)
    if not complete:  # the run may have finished, but its record is not (yet) all in the database
        print(f"error: {why}", file=sys.stderr)
        return 1
    return 0 if run.status == "COMPLETED" else 1


def _missing_alexnet_weights() -> str | None:
    from restoration import nets
    path = nets.default_alexnet_path()
    return None if path.is_file() else str(path)


def run_all(profile: str, only: list[str] | None, extra: list[str]) -> int:
    """Each registered figure in order in a child process; a table of wall times at the end."""
    reg = _registry()
    ids = [reg.resolve(i) for i in only] if only else reg.ids
    missing = _missing_alexnet_weights()
    rows, t_all = [], time.monotonic()
    for fig_id in ids:
        entry = reg.figure(fig_id)
        print(f"\n=== {fig_id}: {entry.title} (profile {profile})", flush=True)
        t0 = time.monotonic()
        code = subprocess.call([sys.executable, "-m", "experiments", fig_id, "with", profile, *extra])
        seconds = time.monotonic() - t0
        if code == 0:
            outcome = "completed"
        elif entry.needs_alexnet and missing:
            outcome = "needs AlexNet weights"
        else:
            outcome = f"FAILED (exit {code})"
        rows.append((fig_id, outcome, seconds))
        print(f"=== {fig_id}: {outcome} after {seconds:.0f} s", flush=True)
    total = time.monotonic() - t_all
    width = max(len(r[0]) for r in rows)
    print("\nreproduce-all: wall time per figure")
    for fig_id, outcome, seconds in rows:
        print(f"  {fig_id:<{width}}  {seconds:7.1f} s  {outcome}")
    print(f"  {'total':<{width}}  {total:7.1f} s  ({total / 60:.1f} min; "
          f"{sum(r[1] == 'completed' for r in rows)} of {len(rows)} completed)")
    if missing and any(r[1] == "needs AlexNet weights" for r in rows):
        print(f"  AlexNet figures need bvlc_alexnet.npy at {missing} (or $ALEXNET_WEIGHTS)")
    return 0 if all(r[1] in ("completed", "needs AlexNet weights") for r in rows) else 1


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--sweep":
        from experiments.sweep import main as sweep_main
        return sweep_main(argv[1:])
    if argv and argv[0] == "--all":
        p = argparse.ArgumentParser(prog="python -m experiments --all")
        p.add_argument("--profile", default="quick", choices=["quick", "thesis"])
        p.add_argument("--only", nargs="*", default=None, help="figure ids to run (default: all)")
        p.add_argument("extra", nargs="*", help="Sacred config updates after --, e.g. -- image_dir=/data")
        args = p.parse_args(argv[1:])
        return run_all(args.profile, args.only, args.extra)
    try:
        reg = _registry()
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print(__doc__)
        for f in reg.figures:
            print(f"  {f.id:<20} {f.title}  ({f.module}{'; needs AlexNet weights' if f.needs_alexnet else ''})")
        return 0
    try:
        fig_id = reg.resolve(argv[0])
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    return _run_one(fig_id, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
