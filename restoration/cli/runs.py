"""The run commands: ``runs`` (list, select, export), ``show`` (one run whole), ``compare`` (two runs' config and
numbers), ``resume`` (re-run from checkpoints); the text they print."""

from __future__ import annotations

import argparse
import os
import sys


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


def write_csv(frame, path: str, argument: str) -> str:
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


def runs(args: argparse.Namespace) -> int:
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
        written.append(f"wrote {len(recs)} runs to {write_csv(query.frame_of(recs), args.csv, '--csv')}")
    if args.metrics_csv:
        metrics = query.metrics_frame(recs)
        written.append(
            f"wrote {len(metrics)} metric points of {metrics['run_id'].nunique()} runs to "
            f"{write_csv(metrics, args.metrics_csv, '--metrics-csv')}"
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


def show(args: argparse.Namespace) -> int:
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


def compare(args: argparse.Namespace) -> int:
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


def resume(args: argparse.Namespace) -> int:
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
