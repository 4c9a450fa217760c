"""Run registered experiments: ``python -m restoration_experiments fig06 with quick``, or every one with ``--all``.

Everything after the id is Sacred's command line (``with quick``, ``with thesis image_dir=...``,
``print_config``, ...); the id may be written ``fig06``, ``6`` or ``06``. ``python -m restoration_experiments --list``
shows the registry (``experiments/registry.toml``).

``python -m restoration_experiments --all [--profile quick|thesis] [--only ID ...] [-- SACRED ARGS]`` runs every figure
in registry order, each in its own process (a crash or a missing weights file ends that figure only), and prints
each figure's wall time, its outcome and the total. Figures that need AlexNet weights fail at once without
``bvlc_alexnet.npy`` and are recorded as such. ``python -m restoration_experiments --sweep NAME [--cluster ...]`` runs
a declared sweep on Dask (see experiments/sweep.py);
``python -m restoration_experiments --claims [--n 3]`` runs every claim's arms for replicate seeds
(experiments/claims.py).

Exit status: 0 when every figure completed or failed only for
missing AlexNet weights, 1 otherwise.
"""

import argparse
import importlib
import subprocess
import sys
import time


def _registry():
    from restoration.contract import registry

    return registry.load()


def _one_line_errors(ex):
    """While ``ex`` runs from the command line, an error a researcher can act on (a bad config value, missing
    weights, a database problem, a full disk) is printed as one line instead of Sacred's filtered traceback;
    the whole trace stays stored with the run (``python -m restoration show ID``)."""
    import contextlib

    import sacred.experiment as sacred_experiment

    from restoration.errors import DivergenceError
    from restoration.tracking.database import DatabaseError, mask_secrets

    acted_on = (ValueError, FileNotFoundError, DatabaseError, DivergenceError, PermissionError)
    original = sacred_experiment.print_filtered_stacktrace

    def print_one_line(*args, **kwargs):
        exc = sys.exc_info()[1]
        no_space = isinstance(exc, OSError) and getattr(exc, "errno", None) == 28
        if not isinstance(exc, acted_on) and not no_space:
            return original(*args, **kwargs)
        text = str(exc.args[0] if exc.args and isinstance(exc, ValueError) else exc).strip() or type(exc).__name__
        text = text.splitlines()[0]
        if no_space:
            text = (
                f"no space left on the device ({getattr(exc, 'filename', None) or 'writing the run'}); free some "
                f"and re-run: the last checkpoint is kept"
            )
        run = getattr(ex, "current_run", None)
        where = (
            f" (run {run._id}: `python -m restoration show {run._id}` has the trace)"
            if run and run._id and not no_space
            else ""
        )  # on a full disk the stored record may be partial
        from restoration.errors import printable

        print(printable(f"error: {mask_secrets(text)}{where}"), file=sys.stderr)

    @contextlib.contextmanager
    def patched():
        import warnings

        shown = warnings.formatwarning
        sacred_experiment.print_filtered_stacktrace = print_one_line
        warnings.formatwarning = lambda message, *a, **k: f"warning: {message}\n"  # one line, not two
        try:
            yield
        finally:
            sacred_experiment.print_filtered_stacktrace = original
            warnings.formatwarning = shown

    return patched()


def _named_configs(module_name: str) -> list[str]:
    try:
        return sorted(importlib.import_module(module_name).ex.named_configs)
    except Exception as e:  # noqa: BLE001 - a broken module is named, the listing goes on
        return [f"(cannot import {module_name}: {type(e).__name__})"]


def figure_help(fig_id: str, entry, module) -> str:
    """``python -m restoration_experiments fig06 --help``: the figure's title, what it is, its named configs, the
    options and its quick config."""
    from restoration import program, tracking

    doc = (module.__doc__ or "").strip().split("\n\n")[0]
    named = sorted(module.ex.named_configs)
    config = tracking.config_of(module.ex, ["quick"])
    lines = [
        f"usage: {program('restoration_experiments')} {fig_id} [with NAMED_CONFIG ... KEY=VALUE ...] [options]",
        "",
        entry.title,
        "",
        doc,
        "",
        f"named configs: {', '.join(named)} (quick: the default profile)",
        "options: " + ", ".join(f"{s}/{lng}" for s, lng in tracking.experiment.OPTIONS.items()),
        "",
        "config (with quick; change a key with KEY=VALUE after `with`):",
    ]
    lines += [f"  {k} = {v!r}" for k, v in sorted(tracking.query.flatten(config).items())]
    return "\n".join(lines)


_NO_COMPUTE = ("print_config", "print_dependencies", "print_named_configs", "save_config")


def _prepare_kernels(argv: list[str]) -> bool:
    """Set this machine's kernel library before TensorFlow starts (:func:`restoration.precision.prepare_kernels`:
    measured once per machine kind; Sacred's printing commands compute nothing and skip it). ``False`` after a
    one-line error for a bad ``RESTORATION_KERNELS``."""
    if any(a in _NO_COMPUTE for a in argv[:1]):
        return True
    from restoration import precision

    try:
        precision.prepare_kernels()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return False
    return True


def _run_one(fig_id: str, argv: list[str]) -> int:
    reg = _registry()
    entry = reg.figure(fig_id)
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as e:
        print(
            f"error: {fig_id}: its module {entry.module!r} cannot be imported ({e}); fix the [figures.{fig_id}] "
            f"entry of experiments/registry.toml",
            file=sys.stderr,
        )
        return 2
    from restoration import tracking

    if any(a in ("-h", "--help", "help") for a in argv):
        print(figure_help(fig_id, entry, module))
        return 0
    named, keys = tracking.command_line_updates(argv)
    try:  # a misspelt key would be added silently and the intended one left unchanged; so would a bad option
        tracking.check_options(argv, fig_id)
        tracking.check_config_keys(module.ex, keys, named, what=fig_id)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not _prepare_kernels(argv):
        return 2
    with _one_line_errors(module.ex):
        try:
            run = module.ex.run_commandline([entry.module] + list(argv))
        except SystemExit as e:  # Sacred ends a failed run with sys.exit(1) after printing
            return int(e.code) if isinstance(e.code, int) else 1
    if run is None:
        return 1
    complete, why = tracking.record_complete(run)
    if not complete:  # the run may have finished, but its record is not (yet) all in the database
        print(f"error: {why}", file=sys.stderr)
        return 1
    return 0 if run.status == "COMPLETED" else 1


def run_all(profile: str, only: list[str] | None, extra: list[str]) -> int:
    """Each registered figure in order in a child process; a table of wall times at the end."""
    reg = _registry()
    ids = [reg.resolve(i) for i in only] if only else reg.ids
    from restoration import paths

    missing = paths.missing_alexnet_weights()
    rows, t_all = [], time.monotonic()
    for fig_id in ids:
        entry = reg.figure(fig_id)
        print(f"\n=== {fig_id}: {entry.title} (profile {profile})", flush=True)
        t0 = time.monotonic()
        code = subprocess.call([sys.executable, "-m", "restoration_experiments", fig_id, "with", profile, *extra])
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
    print(
        f"  {'total':<{width}}  {total:7.1f} s  ({total / 60:.1f} min; "
        f"{sum(r[1] == 'completed' for r in rows)} of {len(rows)} completed)"
    )
    if missing and any(r[1] == "needs AlexNet weights" for r in rows):
        print(f"  AlexNet figures need bvlc_alexnet.npy at {missing} (or $ALEXNET_WEIGHTS)")
    return 0 if all(r[1] in ("completed", "needs AlexNet weights") for r in rows) else 1


def main(argv: list[str]) -> int:
    from restoration.errors import safe_streams

    safe_streams()  # error lines may quote arguments whose bytes are not UTF-8
    if argv and argv[0] == "--version":
        from restoration import version_text
        from restoration import program

        print(version_text(program("restoration_experiments")))
        return 0
    if argv and argv[0] in ("--sweep", "--claims") and not any(a in ("-h", "--help", "--list") for a in argv):
        if not _prepare_kernels([]):  # the Dask workers are started from here and inherit the choice
            return 2
    if argv and argv[0] == "--sweep":
        from restoration_experiments.sweep import main as sweep_main

        return sweep_main(argv[1:])
    if argv and argv[0] == "--claims":
        from restoration_experiments.claims import main as claims_main

        return claims_main(argv[1:])
    if argv and argv[0] == "--all":
        p = argparse.ArgumentParser(prog="python -m restoration_experiments --all")
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
        from restoration import program

        print(
            f"usage: {program('restoration_experiments')} ID [with NAMED_CONFIG ... KEY=VALUE ...] | --list | --all | "
            f"--sweep NAME | --claims | --version\n"
        )
        print(__doc__)
        for f in reg.figures:
            print(f"  {f.id:<20} {f.title}  ({f.module}{'; needs AlexNet weights' if f.needs_alexnet else ''})")
            if argv and argv[0] == "--list":
                print(f"  {'':<20} named configs: {', '.join(_named_configs(f.module))}")
        return 0
    try:
        fig_id = reg.resolve(argv[0])
    except KeyError as e:
        from restoration.errors import printable

        print(f"error: {printable(e.args[0])}", file=sys.stderr)
        return 2
    return _run_one(fig_id, argv[1:])


def entry() -> int:
    """The ``restoration-experiments`` console command."""
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
