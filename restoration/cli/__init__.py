"""User command line: ``python -m restoration <command> ...``.

Commands
--------
reconstruct  apply the inversion modules a run trained to any image:
             ``python -m restoration reconstruct --run RUN_ID --image PATH --out PNG``
invert       optimisation pre-image (Mahendran & Vedaldi) of one image at one layer:
             ``python -m restoration invert --net vgg16 --layer conv3_3 --image PATH --recipe mv2016 --out PNG``
runs         list the runs in the database with their state (running, died, incomplete, ...), newest first;
             select with ``--figure NAME`` (repeatable), ``--status STATE``, ``--where KEY=VALUE`` (repeatable;
             also ``KEY!=VALUE``, ``KEY>NUMBER``, ``KEY<NUMBER``; dotted keys reach nested config), ``--since DATE``,
             ``--until DATE``, ``--limit N``; export with ``--csv PATH`` (one row per run: config and summary
             numbers) and ``--metrics-csv PATH`` (logged metrics, long form), ``-`` for stdout;
             ``--mark-dead`` marks runs whose process died FAILED, ``--recover`` attaches spooled records
show         one run whole: ``python -m restoration show RUN_ID`` (state, times, commit, config, summary,
             artifacts, metrics, the failure's trace)
compare      how two runs differ: ``python -m restoration compare RUN_A RUN_B`` (config, summary numbers)
resume       re-run runs with their stored config, resuming from their checkpoints:
             ``python -m restoration resume RUN_ID ...`` or ``resume --dead``

Arguments are checked before any work starts; an error is one line naming the argument and the fix, exit 2.

Package ``restoration.cli``: :func:`main` and :func:`build_parser` (here); the image commands in :mod:`.images`,
the run commands in :mod:`.runs`.
"""

from __future__ import annotations

import argparse
import sys

from restoration.cli import images, runs
from restoration.preimage.recipes import RECIPES  # plain data, no TensorFlow import


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    from restoration import program

    p = argparse.ArgumentParser(
        prog=program("restoration"),
        description=__doc__.split("\n\nPackage ")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from restoration import version_text

    p.add_argument("--version", action="version", version=version_text(p.prog))
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_reconstruct, _add_invert, _add_precision, _add_runs, _add_show, _add_compare, _add_resume):
        add(sub)
    return p


def _add_reconstruct(sub) -> None:
    """The ``reconstruct`` command's options."""
    r = sub.add_parser("reconstruct", help="apply a run's trained inversion modules to an image")
    r.add_argument("--run", required=True, help="run id (see `python -m restoration runs`)")
    r.add_argument("--image", required=True, help="path of the image to reconstruct")
    r.add_argument("--out", required=True, type=images.png_arg, help="output PNG path")
    r.add_argument(
        "--size",
        type=images.size_arg,
        default=None,
        help=f"centre-crop and resize the image to SIZE px, at least {images.MIN_SIZE} and at most the image's "
        f"shorter side (default: the run's held-out evaluation size)",
    )
    r.set_defaults(func=images.reconstruct)


def _add_invert(sub) -> None:
    """The ``invert`` command's options."""
    i = sub.add_parser("invert", help="optimisation pre-image of an image at a layer")
    i.add_argument("--net", default="vgg16", choices=["vgg16", "alexnet"])
    i.add_argument(
        "--weights",
        default=None,
        help="weights: 'hed' (VGG16 default), a .h5/.npy path; AlexNet needs bvlc_alexnet.npy",
    )
    i.add_argument("--layer", required=True, help="layer name, e.g. conv3_3 or pool5")
    i.add_argument("--image", required=True, help="path of the image to invert")
    i.add_argument("--recipe", default="mv2016", choices=sorted(RECIPES), help="optimisation recipe")
    i.add_argument(
        "--optimizer", default=None, choices=["adam", "momentum", "lbfgs"], help="override the recipe's optimiser"
    )
    i.add_argument("--steps", type=_positive, default=None, help="override the recipe's number of steps")
    i.add_argument("--size", type=images.size_arg, default=None, help="image size (default: the net's, 224 / 227)")
    i.add_argument("--out", required=True, type=images.png_arg, help="output PNG path")
    i.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "float32", "bfloat16"],
        help="the net's compute precision (default auto: bfloat16 where this machine measures it faster; "
        "see `python -m restoration precision`)",
    )
    i.set_defaults(func=images.invert)


def _add_precision(sub) -> None:
    """The ``precision`` command's options."""
    q = sub.add_parser("precision", help="this machine's precision probe: what auto chooses, with its timings")
    q.add_argument("--refresh", action="store_true", help="measure again instead of reading the cached probe")
    q.add_argument("--json", action="store_true", help="print the probe as JSON")
    q.set_defaults(func=images.precision)


def _add_runs(sub) -> None:
    """The ``runs`` command's options."""
    s = sub.add_parser("runs", help="list (select, export) runs in the database with their state")
    s.add_argument(
        "--figure", action="append", default=None, help="only this experiment, e.g. fig06; repeat for several"
    )
    s.add_argument(
        "--status",
        default=None,
        help="only this state, any case: completed, failed, interrupted, running, died, incomplete",
    )
    s.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only runs whose config value KEY compares to VALUE; operators: = (or ==), != (any value), "
        "> < >= <= (numbers only); VALUE is read as JSON where it parses, so lr=1e-3 is a number; "
        "dotted keys reach nested config, e.g. size.vgg16=64; quote '>' and '<' in a shell; "
        "repeat for several (all must hold)",
    )
    s.add_argument("--since", default=None, metavar="DATE", help="only runs started on or after DATE (ISO, UTC)")
    s.add_argument(
        "--until",
        default=None,
        metavar="DATE",
        help="only runs started on or before DATE (ISO, UTC; a bare date includes that day)",
    )
    s.add_argument("--limit", default=None, metavar="N", help="only the N newest selected runs")
    s.add_argument(
        "--csv",
        default=None,
        metavar="PATH",
        help="write the selected runs as CSV (config.* and result.* columns); - for stdout",
    )
    s.add_argument(
        "--metrics-csv",
        default=None,
        metavar="PATH",
        help="write the selected runs' logged metrics as CSV (run_id, experiment, name, step, value); - for stdout",
    )
    s.add_argument(
        "--mark-dead", action="store_true", help="first mark runs whose heartbeat stopped (the process died) FAILED"
    )
    s.add_argument(
        "--recover",
        action="store_true",
        help="first attach spooled records (kept on disk while the database was busy) to the database",
    )
    s.set_defaults(func=runs.runs)


def _add_show(sub) -> None:
    """The ``show`` command's options."""
    w = sub.add_parser("show", help="one run whole: state, times, commit, config, summary, artifacts, metrics")
    w.add_argument("run_id", help="run id (see `python -m restoration runs`)")
    w.add_argument("--trace-lines", type=_positive, default=15, help="lines of a failed run's trace (default 15)")
    w.set_defaults(func=runs.show)


def _add_compare(sub) -> None:
    """The ``compare`` command's options."""
    c = sub.add_parser("compare", help="how two runs differ: config and summary numbers")
    c.add_argument("run_a", help="run id")
    c.add_argument("run_b", help="run id")
    c.set_defaults(func=runs.compare)


def _add_resume(sub) -> None:
    """The ``resume`` command's options."""
    u = sub.add_parser("resume", help="re-run runs with their stored config, resuming from their checkpoints")
    u.add_argument("run_ids", nargs="*", help="run ids")
    u.add_argument(
        "--dead",
        action="store_true",
        help="mark dead runs, then resume every died run that no later run of the same config followed",
    )
    u.set_defaults(func=runs.resume)


#: the commands that run a net: the kernel library is set for them before TensorFlow starts (``resume`` runs
#: experiments in child processes, which set it themselves)
_COMPUTING = ("reconstruct", "invert")


def main(argv: list[str] | None = None) -> int:
    from restoration.errors import DivergenceError, ImageReadError, UnknownLayerError, WeightsNotFoundError
    from restoration import atomic
    from restoration.errors import safe_streams
    from restoration.tracking.database import DatabaseError, mask_secrets

    safe_streams()  # argparse quotes bad arguments, bytes that are not UTF-8 included
    args = build_parser().parse_args(argv)
    atomic.exit_on_sigterm()  # outputs are written whole or not at all, a kill included
    if args.command == "resume" and not args.run_ids and not args.dead:
        print("error: resume needs run ids or --dead", file=sys.stderr)
        return 2
    try:
        if args.command in _COMPUTING:  # before TensorFlow starts (restoration.kernel_library)
            from restoration import precision

            precision.prepare_kernels()
        return int(args.func(args) or 0)
    except (
        WeightsNotFoundError,
        ImageReadError,
        UnknownLayerError,
        DivergenceError,
        DatabaseError,
        KeyError,
        ValueError,
    ) as e:
        from restoration.errors import printable

        print(f"error: {printable(mask_secrets(e.args[0] if e.args else e))}", file=sys.stderr)
        return 2
