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
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from restoration.preimage.recipes import RECIPES  # plain data, no TensorFlow import

MIN_SIZE = 16  # px: below this a reconstruction or pre-image says nothing (VGG16's pool1 would be 8x8)


def _size(text: str) -> int:
    """argparse type of ``--size``: an integer of at least :data:`MIN_SIZE` px."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer number of pixels")
    if value < MIN_SIZE:
        raise argparse.ArgumentTypeError(
            f"{value} px is too small; use at least {MIN_SIZE} (the image is resized to SIZE x SIZE)"
        )
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _out_png(text: str) -> str:
    """argparse type of ``--out``: a .png path whose folder exists or can be made, and that can be written."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r} must end in .png (the result is written as an 8-bit PNG)")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name ending in .png")
    folder = path.parent if str(path.parent) else Path(".")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(
            f"{text!r} cannot be written (no write permission in {probe}); choose another path"
        )
    return text


def _save_png(path: str, rgb) -> str:
    """Write an RGB float image in [0, 255] (clipped) as an 8-bit PNG, creating the folder. If that fails after
    the work is done, the image goes to a temporary file instead, and that path is returned."""
    import tempfile

    import imageio.v3 as iio
    import numpy as np

    from restoration import atomic

    pixels = np.round(np.clip(rgb, 0, 255)).astype(np.uint8)
    try:
        with atomic.replacing(path) as tmp:  # whole or not at all
            iio.imwrite(tmp, pixels, extension=".png")
        return path
    except OSError as e:
        fallback = tempfile.NamedTemporaryFile(prefix="restoration-", suffix=".png", delete=False).name
        iio.imwrite(fallback, pixels, extension=".png")
        print(f"warning: could not write {path} ({e}); the result was saved to {fallback}", file=sys.stderr)
        return fallback


def _load_sized(path: str, size: int):
    """The image's centred square at ``size`` px; refuses to upscale an image smaller than that."""
    from restoration import data

    native = data.load_image(path)
    side = min(native.shape[:2])
    if side < size:
        raise ValueError(
            f"--image {path} is {native.shape[1]}x{native.shape[0]} px, smaller than --size {size}: it "
            f"would be upscaled; pass --size {max(side, MIN_SIZE)} or a larger image"
        )
    return data.center_crop_resize(native, size)


def _check_size(net, layer: str, size: int) -> None:
    """Refuse a ``--size`` the net cannot take to ``layer`` (too small for its windows, or not the input size that
    fully connected layers need)."""
    if layer == "input":
        return
    try:
        net.layer_hw(layer, (size, size))
    except ValueError as e:
        if "fully connected" in str(e):
            if size != net.default_size:
                raise ValueError(
                    f"--size {size}: {layer} lies behind {net.name}'s fully connected layers, which need "
                    f"its input size; pass --size {net.default_size}"
                ) from e
            return
        raise ValueError(f"--size {size} is too small to reach {net.name}'s {layer} ({e}); use a larger size") from e


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    """Load the ``*_modules.npz``/``.json`` artifacts of run ``--run``, push ``--image`` through the run's net to
    the stack's input layer and back through the modules, save the PNG, print PSNR and normalised error."""
    import numpy as np

    from restoration import tracking
    from restoration import metrics
    from restoration import stacks
    from restoration import nets
    from restoration.stacks import reconstruction

    rec = tracking.get_run(args.run)
    npz = sorted(n for n in rec.artifact_names if n.endswith("_modules.npz"))
    if not npz:
        raise KeyError(
            f"run {rec.id} ({rec.experiment}, {rec.state_text}) stored no trained modules "
            f"(*_modules.npz); its artifacts are {rec.artifact_names}. Use a completed trained-inversion "
            f"run (`python -m restoration runs --status completed`)."
        )
    stack = stacks.load_stack_bytes(rec.artifact(npz[0]), rec.artifact(npz[0][: -len(".npz")] + ".json"))
    cfg = rec.config
    size = args.size or int(cfg.get("eval_size") or cfg.get("crop") or 128)
    image = _load_sized(args.image, size)  # the run and the image are checked before TensorFlow starts
    net = nets.build(cfg.get("net", "vgg16"), cfg.get("weights", "default"), seed=int(cfg.get("seed", 0)))
    _check_size(net, stack.in_layer, size)
    out = reconstruction.reconstruct(net, stack, image.astype(np.float32))
    written = _save_png(args.out, out)
    print(
        f"run {rec.id} ({rec.experiment}): {stack.in_layer} -> image through {len(stack)} modules "
        f"({', '.join(s.name for s in stack.specs)}); net {net.name}: {net.weights_label}"
    )
    print(f"image {args.image} at {image.shape[1]}x{image.shape[0]} px")
    print(
        f"PSNR {metrics.psnr(image, out):.2f} dB   normalised error ||x-x0||^2/||x0||^2 "
        f"{metrics.normalized_error(out, image.astype(np.float32)):.5f}"
    )
    print(f"wrote {written}")
    return 0


def _cmd_invert(args: argparse.Namespace) -> int:
    """Optimisation pre-image of ``--image`` at ``--layer`` with a recipe (``restoration.preimage.recipes``); saves the
    pre-image as PNG and prints the final normalised feature error and every term of the objective."""
    import numpy as np

    from restoration import preimage
    from restoration import metrics
    from restoration import nets
    from restoration.preimage import recipes

    from restoration import data
    from restoration.nets import layers

    # a missing or unreadable image and an unknown layer are named before TensorFlow starts
    data.load_image(args.image)
    own_fc = args.net == "vgg16" and args.weights not in (None, "hed", "default")  # the HED trunk has no fc layers
    layers.table(args.net, include_fc=own_fc).resolve(args.layer)
    net = nets.build(args.net, args.weights or "default", precision=args.precision)
    layer = net.resolve(args.layer)
    recipe = recipes.get_recipe(args.recipe)
    size = args.size or recipe.image_size.get(net.name, net.default_size)
    _check_size(net, layer, size)
    image = _load_sized(args.image, size).astype(np.float32)
    res = preimage.invert_layer(
        net, image[None], args.layer, recipe=recipe, n_steps=args.steps, optimizer=args.optimizer
    )
    out = np.clip(res.rgb[0], 0, 255)
    written = _save_png(args.out, out)
    print(
        f"{net.name} ({net.weights_label}) layer {layer}; recipe {recipe.name}, {res.optimizer}, {net.precision}, "
        f"{res.n_steps} steps, {size}x{size} px, {res.wall_time_s:.1f} s "
        f"({1000 * res.time_per_step_s:.1f} ms/step)"
    )
    print(f"normalised feature error ||phi(x)-phi0||^2/||phi0||^2: {float(res.feature_errors[layer][0]):.5f}")
    for name, value in res.terms.items():
        print(f"  {name:24s} {value:.6g}")
    print(
        f"image: SSIM {metrics.ssim(image, out):.4f}  PSNR {metrics.psnr(image, out):.2f} dB  "
        f"normalised pixel error {metrics.normalized_error(out, image):.4f}"
    )
    print(f"wrote {written}")
    return 0


def _cmd_precision(args: argparse.Namespace) -> int:
    """This machine's precision probe (measured once per machine kind, cached under the runs folder)."""
    from restoration import precision

    argv = (["--refresh"] if args.refresh else []) + (["--json"] if args.json else [])
    return precision.main(argv)


def _value_text(value) -> str:
    """A config value as ``--where`` reads it back: strings bare unless they would read as something else
    (``"5"`` is shown quoted), everything else as JSON (``0.001``, ``true``, ``null``, ``[1, 2]``)."""
    import json

    from restoration.tracking.query import ABSENT, parse_value

    if value is ABSENT:
        return str(value)
    if isinstance(value, str):
        return value if value and value.strip() == value and parse_value(value) == value else json.dumps(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _number_text(value) -> str:
    """A summary number for people: 6 significant digits (``nan`` for a stored NaN)."""
    import math

    from restoration.tracking.query import ABSENT

    if value is ABSENT:
        return str(value)
    return "nan" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"


def _columns(rows: list[list[str]], indent: str = "") -> list[str]:
    """Rows of cells as lines with every column padded to its widest cell (the last column is not padded)."""
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(len(r) for r in rows))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] if len(r) > 1 else indent + r[0]
        for r in rows
    ]


def _key_values(pairs: list[tuple[str, str]]) -> list[str]:
    """``key = value`` lines, indented, with the ``=`` signs aligned."""
    width = max(len(k) for k, _ in pairs)
    return [f"  {k.ljust(width)} = {v}" for k, v in pairs]


def _time_text(t) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


def _duration_text(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds >= 3600:
        return f"{seconds:.0f} s ({seconds / 3600:.2f} h)"
    return f"{seconds:.0f} s ({seconds / 60:.1f} min)"


def _commit_text(commit, dirty, short: bool = False) -> str:
    if not commit:
        return "-"
    return (commit[:10] if short else commit) + (" (dirty)" if dirty else "")


def _size_text(n: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _write_csv(frame, path: str, argument: str) -> str:
    """Write ``frame`` as CSV to ``path`` (``-``: stdout), lists and dicts as JSON text (which other tools can
    read back); a path that cannot be written is a one-line error."""
    import json

    frame = frame.copy()
    for column in frame.columns[frame.dtypes == object]:  # noqa: E721 - a pandas dtype mask
        frame[column] = frame[column].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    if path == "-":  # text that is not UTF-8 (a byte in a config value) is written escaped, never an error
        sys.stdout.write(frame.to_csv(index=False).encode("utf-8", "backslashreplace").decode("utf-8"))
        return "stdout"
    from restoration import atomic

    try:
        with atomic.replacing(path) as tmp:  # whole or not at all: no truncated CSV on a failure
            frame.to_csv(tmp, index=False, encoding="utf-8", errors="backslashreplace")
    except OSError as e:
        raise ValueError(f"{argument} {path}: cannot be written ({atomic.why(e)}); choose another path") from None
    return path


def _run_filter(args: argparse.Namespace):
    """The ``runs`` selection from the command line; bad arguments raise one-line ``ValueError`` s."""
    from restoration.tracking.query import RunFilter

    return RunFilter(
        experiment=args.figure,
        status=args.status,
        where=args.where,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )


def _cmd_runs(args: argparse.Namespace) -> int:
    from restoration import tracking
    from restoration.tracking import query

    flt = _run_filter(args)  # before any work: a bad argument changes nothing
    if args.csv == "-" and args.metrics_csv == "-":
        raise ValueError("--csv - and --metrics-csv - would mix two tables on stdout; write one of them to a file")
    if args.recover:
        left = tracking.recover()
        if not left:
            print("nothing spooled: every run's record is in the database")
        for run_id, n in left.items():
            print(f"run {run_id}: " + ("record recovered" if n == 0 else f"{n} events still wait (database busy?)"))
    if args.mark_dead:
        marked = tracking.mark_dead()
        for r in marked:
            print(f"run {r.id} ({r.experiment}): marked FAILED, {r.state_text}")
        if not marked:
            print("no dead runs")
    recs = query.select(flt)
    to_stdout = "-" in (args.csv, args.metrics_csv)
    written = []
    if args.csv:
        written.append(f"wrote {len(recs)} runs to {_write_csv(query.frame_of(recs), args.csv, '--csv')}")
    if args.metrics_csv:
        metrics = query.metrics_frame(recs)
        written.append(
            f"wrote {len(metrics)} metric points of {metrics['run_id'].nunique()} runs to "
            f"{_write_csv(metrics, args.metrics_csv, '--metrics-csv')}"
        )
    if to_stdout:
        for line in written:
            print(line, file=sys.stderr)
        return 0
    if not recs:
        print(
            f"no runs in {tracking.describe(tracking.db_url())}" + (f" with {flt.describe()}" if flt.describe() else "")
        )
    else:
        _print_runs(recs, [c.key for c in flt.where])
    for line in written:
        print(line)
    return 0


def _print_runs(recs: list, keys: list[str]) -> None:
    """The run list: id, figure, state, start, duration, the config values ``--where`` asked about, detail."""
    from restoration.tracking.query import lookup

    keys = list(dict.fromkeys(keys))
    rows = [["id", "figure", "state", "started", "duration", *keys, "detail"]]
    for r in recs:
        start = r.start_time.strftime("%Y-%m-%d %H:%M:%S") if r.start_time else "-"
        dur = f"{r.duration_s:.0f}s" if r.duration_s is not None else "-"
        values = [lookup(r.config, k) for k in keys]
        detail = r.state_text if r.state not in ("COMPLETED", "INTERRUPTED") else ""
        rows.append([r.id, r.experiment, r.state, start, dur, *(_value_text(v) for v in values), detail])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {0, 4}  # ids and durations align right
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row[:-1], widths))]
        print("  ".join(cells + [row[-1]]).rstrip())


def _cmd_show(args: argparse.Namespace) -> int:
    """One run whole: state, times, host, commit, config, summary numbers, artifacts, metrics, failure trace."""
    from restoration import tracking
    from restoration.tracking import query

    rec = tracking.get_run(args.run_id)
    print(f"run {rec.id}: {rec.experiment} ({rec.command or 'main'}), {rec.state}")
    print(
        "\n".join(
            _columns(
                [
                    ["state", rec.state_text],
                    ["started", _time_text(rec.start_time)],
                    ["stopped", _time_text(rec.stop_time)],
                    ["duration", _duration_text(rec.duration_s)],
                    ["host", rec.host or "-"],
                    ["commit", _commit_text(rec.commit, rec.dirty)],
                ]
            )
        )
    )
    config = query.flatten(rec.config)
    print(f"\nconfig ({len(config)} keys)")
    if config:
        print("\n".join(_key_values([(k, _value_text(config[k])) for k in sorted(config)])))
    summary = query.result_numbers(rec)
    print(f"\nsummary ({len(summary)} numbers)" + ("" if summary else ": the run stored no report summary"))
    if summary:
        print("\n".join(_key_values([(k, _number_text(v)) for k, v in summary.items()])))
    sizes = query.artifact_sizes(rec)
    print(f"\nartifacts ({len(sizes)})")
    if sizes:
        print("\n".join(_columns([[name, _size_text(n).rjust(9)] for name, n in sizes.items()], "  ")))
    metrics = query.metric_overview(rec)
    print(f"\nmetrics ({len(metrics)})")
    if metrics:
        width = len(str(max(m.points for m in metrics)))
        print(
            "\n".join(
                _columns(
                    [
                        [
                            m.name,
                            f"{m.points:>{width}} points",
                            f"last {_number_text(m.last_value)} at step {m.last_step}",
                        ]
                        for m in metrics
                    ],
                    "  ",
                )
            )
        )
    if rec.fail_trace:
        lines = [ln for ln in rec.fail_trace.rstrip().splitlines() if ln.strip()]
        tail = lines[-args.trace_lines :]
        print(f"\nfailure (last {len(tail)} of {len(lines)} lines of the trace)")
        print("\n".join("  " + ln for ln in tail))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    """How run B differs from run A: state, duration, commit, then the config keys and summary numbers that
    differ (or that only one run has)."""
    from restoration import tracking

    diff = tracking.compare(args.run_a, args.run_b)
    a, b = diff.a, diff.b
    print(
        "\n".join(
            _columns(
                [
                    ["", f"run {a.id}", f"run {b.id}"],
                    ["figure", a.experiment, b.experiment],
                    ["state", a.state, b.state],
                    ["duration", _duration_text(a.duration_s), _duration_text(b.duration_s)],
                    [
                        "commit",
                        _commit_text(a.commit, a.dirty, short=True),
                        _commit_text(b.commit, b.dirty, short=True),
                    ],
                ]
            )
        )
    )
    print()
    if diff.config:
        print(
            "\n".join(
                _columns(
                    [["config", f"run {a.id}", f"run {b.id}"]]
                    + [["  " + d.key, _value_text(d.a), _value_text(d.b)] for d in diff.config]
                )
            )
        )
    else:
        print("config: the same")
    print()
    if diff.results:
        print(
            "\n".join(
                _columns(
                    [["result", f"run {a.id}", f"run {b.id}", "b - a"]]
                    + [
                        [
                            "  " + d.key,
                            _number_text(d.a),
                            _number_text(d.b),
                            "" if d.delta is None else f"{d.delta:+.6g}",
                        ]
                        for d in diff.results
                    ]
                )
            )
        )
    else:
        print("result: the same summary numbers")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    """Re-run runs with their stored config (the same config hash, so their checkpoints are resumed)."""
    import json
    import subprocess
    import tempfile

    from restoration import tracking

    if args.dead:
        tracking.mark_dead()
        everything = tracking.runs()
        died = [
            r
            for r in everything
            if r.status == "FAILED" and (r.fail_trace or "").startswith("died:") and r.command in (None, "main")
        ]
        # resume a died run unless a later run of the same experiment and config exists (it was resumed already)
        targets = [
            r
            for r in died
            if not any(
                o.start_time
                and r.start_time
                and o.start_time > r.start_time
                and o.experiment == r.experiment
                and o.config == r.config
                for o in everything
            )
        ]
        claimed = []
        for r in targets:  # one atomic update each: a second `resume --dead` at the same time skips the run
            ok, who = tracking.claim_for_resume(r)
            if ok:
                claimed.append(r)
            else:
                print(f"run {r.id} ({r.experiment}) is already being resumed ({who}); skipped")
        targets = claimed
    else:
        targets = [tracking.get_run(i) for i in args.run_ids]
    if not targets:
        print("nothing to resume")
        return 0
    code = 0
    for r in targets:
        config = {k: v for k, v in r.config.items() if k != "__doc__"}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(config, f)
        print(f"resuming run {r.id} ({r.experiment}, {r.state_text}) with its stored config", flush=True)
        rc = subprocess.call([sys.executable, "-m", "restoration_experiments", r.experiment, "with", f.name])
        os.unlink(f.name)
        code = code or rc
    return code


def build_parser() -> argparse.ArgumentParser:
    from restoration import program

    p = argparse.ArgumentParser(
        prog=program("restoration"), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
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
    r.add_argument("--out", required=True, type=_out_png, help="output PNG path")
    r.add_argument(
        "--size",
        type=_size,
        default=None,
        help=f"centre-crop and resize the image to SIZE px, at least {MIN_SIZE} and at most the image's "
        f"shorter side (default: the run's held-out evaluation size)",
    )
    r.set_defaults(func=_cmd_reconstruct)


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
    i.add_argument("--size", type=_size, default=None, help="image size (default: the net's, 224 / 227)")
    i.add_argument("--out", required=True, type=_out_png, help="output PNG path")
    i.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "float32", "bfloat16"],
        help="the net's compute precision (default auto: bfloat16 where this machine measures it faster; "
        "see `python -m restoration precision`)",
    )
    i.set_defaults(func=_cmd_invert)


def _add_precision(sub) -> None:
    """The ``precision`` command's options."""
    q = sub.add_parser("precision", help="this machine's precision probe: what auto chooses, with its timings")
    q.add_argument("--refresh", action="store_true", help="measure again instead of reading the cached probe")
    q.add_argument("--json", action="store_true", help="print the probe as JSON")
    q.set_defaults(func=_cmd_precision)


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
    s.set_defaults(func=_cmd_runs)


def _add_show(sub) -> None:
    """The ``show`` command's options."""
    w = sub.add_parser("show", help="one run whole: state, times, commit, config, summary, artifacts, metrics")
    w.add_argument("run_id", help="run id (see `python -m restoration runs`)")
    w.add_argument("--trace-lines", type=_positive, default=15, help="lines of a failed run's trace (default 15)")
    w.set_defaults(func=_cmd_show)


def _add_compare(sub) -> None:
    """The ``compare`` command's options."""
    c = sub.add_parser("compare", help="how two runs differ: config and summary numbers")
    c.add_argument("run_a", help="run id")
    c.add_argument("run_b", help="run id")
    c.set_defaults(func=_cmd_compare)


def _add_resume(sub) -> None:
    """The ``resume`` command's options."""
    u = sub.add_parser("resume", help="re-run runs with their stored config, resuming from their checkpoints")
    u.add_argument("run_ids", nargs="*", help="run ids")
    u.add_argument(
        "--dead",
        action="store_true",
        help="mark dead runs, then resume every died run that no later run of the same config followed",
    )
    u.set_defaults(func=_cmd_resume)


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
