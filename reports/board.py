"""The runs in TensorBoard: event files written from the run database (SQLite or PostgreSQL), one folder per run.

``python -m restoration_reports.board`` (``make board``, ``restoration-board``) writes
``out/tensorboard/<id>-<experiment>/`` for every run and starts TensorBoard on 127.0.0.1, printing its address. Per run:

* **Scalars**: every series of the ``metric`` table (``log_scalar``), with its steps and wall times.
* **Images**: the run's PNG artifacts (reconstructions, error maps, prior filters, samples), under ``artifacts/``.
* **HParams**: the run's config values as hyperparameters and its payload measures (``measure/psnr_mean``, ...)
  as metrics, with the run's state as one more hyperparameter. The runs of one sweep point across seeds (the
  replicates of ``make claims``) form one session group, so the dashboard shows their mean.
* **Text**: the run's state ("died: no heartbeat since ...", "running since ..."), its provenance, and the tail of
  its captured output.

Writing is incremental: each folder keeps ``.board.json`` (the last metric row written, the artifacts, the state
the text and the hyperparameters were written with), so a second call writes only what is new, and
``--follow`` keeps a running run's curves growing while TensorBoard is open. A run's hyperparameters are written
once it is no longer RUNNING (completed, failed, interrupted, died or incomplete: its measures exist then); if its
state changes later they are written again, and a TensorBoard started afterwards shows the newer.

Nothing here imports TensorFlow: TensorBoard's own protocol buffers and event writer are enough.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from restoration import atomic, paths

STATE_FILE = ".board.json"
OUTPUT_TAIL = 60  # lines of captured output shown
EXPERIMENT_SUFFIX = ".experiment"


def default_dir() -> Path:
    return paths.work_dir() / "out" / "tensorboard"


@dataclass
class Written:
    """What has been written of one run (``.board.json`` in its folder)."""

    metric_id: int = 0
    artifacts: list[str] = field(default_factory=list)
    state: str = ""  # the state text last written
    output_len: int = 0  # the captured output's length when last written
    text_step: int = 0
    hparams: str = ""  # the state the hyperparameters were written with ("" = not yet)

    @classmethod
    def load(cls, folder: Path) -> "Written":
        try:
            data = json.loads((folder / STATE_FILE).read_text())
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, folder: Path) -> None:
        atomic.write_text(folder / STATE_FILE, json.dumps(asdict(self)))


@dataclass
class BoardCounts:
    """What one pass wrote, over all runs."""

    runs: int = 0
    points: int = 0
    images: int = 0
    texts: int = 0
    hparams: int = 0

    def line(self, out: Path) -> str:
        return (
            f"board: {self.runs} runs in {out}; wrote {self.points} scalar points, {self.images} images, "
            f"{self.texts} texts, {self.hparams} hparams rows"
        )


# ----------------------------------------------------------------------------------------------------------
# TensorBoard's summaries, built from its protocol buffers
# ----------------------------------------------------------------------------------------------------------


def _scalar(tag: str, value: float):
    from tensorboard.compat.proto import summary_pb2

    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])


def _text(tag: str, text: str):
    import numpy as np
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.text import metadata as text_metadata
    from tensorboard.util import tensor_util

    meta = text_metadata.create_summary_metadata(display_name=tag, description="")
    tensor = tensor_util.make_tensor_proto(np.array(text.encode("utf-8"), dtype=object))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=tensor)])


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("not a PNG file")
    return struct.unpack(">II", png[16:24])


def _image(tag: str, png: bytes, description: str = ""):
    import numpy as np
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.image import metadata as image_metadata
    from tensorboard.util import tensor_util

    w, h = png_size(png)
    meta = image_metadata.create_summary_metadata(display_name=tag, description=description, converted_to_tensor=True)
    tensor = tensor_util.make_tensor_proto(np.array([str(w).encode(), str(h).encode(), png], dtype=object))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=meta, tensor=tensor)])


_STATUS = {
    "COMPLETED": "STATUS_SUCCESS",
    "FAILED": "STATUS_FAILURE",
    "INTERRUPTED": "STATUS_FAILURE",
    "TIMEOUT": "STATUS_FAILURE",
    "DIED": "STATUS_FAILURE",
    "INCOMPLETE": "STATUS_UNKNOWN",
}


def _session_end(state: str, end_time: float | None):
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(
        status=api_pb2.Status.Value(_STATUS.get(state, "STATUS_UNKNOWN")), end_time_secs=end_time or 0.0
    )
    meta = metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_end_info=info))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=metadata.SESSION_END_INFO_TAG, metadata=meta)])


def _event(summary, step: int = 0, wall_time: float | None = None):
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(summary=summary, step=int(step), wall_time=wall_time or time.time())


def _no_tensorflow() -> None:
    """TensorBoard's writer reaches for TensorFlow's file API when TensorFlow is installed (seconds of start-up and
    its log lines); ``tensorboard.compat.notf`` present is TensorBoard's own switch to its TensorFlow-free file API."""
    import types

    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))


def _writer(folder: Path):
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    _no_tensorflow()
    folder.mkdir(parents=True, exist_ok=True)
    return EventFileWriter(str(folder), flush_secs=1)


# ----------------------------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------------------------


def folder_name(rec) -> str:
    """``<id>-<experiment>``: sorted by id in TensorBoard's run list, and named."""
    return f"{rec.id}-{rec.experiment}"


def hparams_of(rec) -> dict:
    """The run's config as hyperparameter values (numbers, booleans, strings; lists and None as text), plus its
    experiment, state and resolved precision."""
    from restoration.tracking.query import flatten

    out = {}
    for key, value in flatten(rec.config or {}).items():
        if (
            isinstance(value, bool)
            or isinstance(value, str)
            or (isinstance(value, (int, float)) and math.isfinite(value))
        ):
            out[key] = value
        else:
            out[key] = json.dumps(value, default=str)
    out["experiment"] = rec.experiment
    out["state"] = rec.state
    resolved = ((rec.provenance or {}).get("precision") or {}).get("resolved")
    if resolved:
        out["precision_resolved"] = str(resolved)
    return out


def measures_of(rec) -> dict[str, float]:
    """The run's payload summary (``measure/<key>`` tags), finite numbers only."""
    summary = (rec.report or {}).get("summary") or {}
    return {
        f"measure/{k}": float(v)
        for k, v in summary.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def group_of(rec) -> str:
    """The session group: a sweep's point without its seed (replicates of one setting group together), else the
    run alone."""
    tag = rec.sweep
    if tag and isinstance(tag.get("point"), dict):
        point = {k: v for k, v in tag["point"].items() if k != "seed"}
        precision = (rec.config or {}).get("precision", "")
        return f"{tag.get('name')}: {rec.experiment} {json.dumps(point, sort_keys=True)} {precision}".strip()
    return f"run {rec.id}"


def _texts(rec, captured: str) -> tuple[str, str, str]:
    state = f"**{rec.state}**: {rec.state_text}"
    prov = {
        "run": rec.id,
        "experiment": rec.experiment,
        "host": rec.host,
        "commit": rec.commit,
        "start": str(rec.start_time),
        "stop": str(rec.stop_time),
        **(rec.provenance or {}),
    }
    provenance = "```\n" + json.dumps(prov, indent=2, default=str) + "\n```"
    lines = captured.splitlines()[-OUTPUT_TAIL:]
    output = "```\n" + ("\n".join(lines) or "(no captured output)") + "\n```"
    return state, provenance, output


def write_run(rec, folder: Path) -> BoardCounts:
    """Write what is new of run ``rec`` into ``folder``; returns the counts."""
    done = Written.load(folder)
    counts = BoardCounts(runs=1)
    events = []
    for metric_id, name, step, value, stamp in rec.metric_rows(after=done.metric_id):
        events.append(_event(_scalar(name, value), step, stamp.timestamp() if stamp else None))
        done.metric_id = metric_id
        counts.points += 1
    for name in rec.artifact_names:
        if name.lower().endswith(".png") and name not in done.artifacts:
            try:
                events.append(_event(_image(f"artifacts/{name}", rec.artifact(name))))
                counts.images += 1
            except (KeyError, ValueError):
                pass
            done.artifacts.append(name)
    captured = rec.captured_output()
    state, provenance, output = _texts(rec, captured)
    if state != done.state or len(captured) != done.output_len:
        done.text_step += 1
        events += [
            _event(_text("state", state), done.text_step),
            _event(_text("provenance", provenance), done.text_step),
            _event(_text("output", output), done.text_step),
        ]
        done.state, done.output_len = state, len(captured)
        counts.texts += 3
    if rec.state != "RUNNING" and done.hparams != rec.state:
        events += _hparams_events(rec)
        done.hparams = rec.state
        counts.hparams += 1
    if events:
        writer = _writer(folder)
        for e in events:
            writer.add_event(e)
        writer.close()
    done.save(folder)
    return counts


def _hparams_events(rec) -> list:
    from tensorboard.plugins.hparams import summary_v2 as hp

    start = rec.start_time.timestamp() if rec.start_time else None
    out = [_event(hp.hparams_pb(hparams_of(rec), trial_id=group_of(rec), start_time_secs=start))]
    out += [_event(_scalar(tag, v)) for tag, v in measures_of(rec).items()]
    end = rec.stop_time or rec.heartbeat
    out.append(_event(_session_end(rec.state, end.timestamp() if end else None)))
    return out


def _experiment(out: Path, recs) -> None:
    """The HParams dashboard's columns: every hyperparameter seen and the measures as its metrics (rewritten each
    pass, in one file of the board's root)."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    names, metrics = set(), set()
    for rec in recs:
        if rec.state != "RUNNING":
            names.update(hparams_of(rec))
            metrics.update(measures_of(rec))
    if not names:
        return
    for old in out.glob(f"events.out.tfevents.*{EXPERIMENT_SUFFIX}"):
        old.unlink()
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    _no_tensorflow()
    writer = EventFileWriter(str(out), filename_suffix=EXPERIMENT_SUFFIX)
    # TensorBoard lists both alphabetically whatever the order here
    summary = hp.hparams_config_pb([hp.HParam(n) for n in sorted(names)], [hp.Metric(m) for m in sorted(metrics)])
    writer.add_event(_event(summary))
    writer.close()


def write(out: Path | None = None, url: str | None = None) -> BoardCounts:
    """Write every run of the database ``url`` (default: this project's) under ``out``; incremental."""
    from restoration.tracking.query import select

    out = Path(out or default_dir())
    out.mkdir(parents=True, exist_ok=True)
    recs = select(url=url)
    total = BoardCounts()
    for rec in recs:
        c = write_run(rec, out / folder_name(rec))
        for f in ("runs", "points", "images", "texts", "hparams"):
            setattr(total, f, getattr(total, f) + getattr(c, f))
    _experiment(out, recs)
    return total


# ----------------------------------------------------------------------------------------------------------
# TensorBoard itself
# ----------------------------------------------------------------------------------------------------------


def free_port(preferred: int = 6006) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def serve(out: Path, port: int) -> subprocess.Popen:
    """TensorBoard on 127.0.0.1:``port`` over ``out`` (a child process; its start-up lines go to a log file)."""
    log = open(out / "tensorboard.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(out),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--reload_interval",
            "5",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/environment", timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    from restoration import program, version_text
    from restoration.errors import safe_streams
    from restoration.tracking.database import DatabaseError, mask_secrets

    safe_streams()
    p = argparse.ArgumentParser(prog=program("restoration_reports.board"), description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=version_text(p.prog))
    p.add_argument("--out", default=None, help="event files folder (default: out/tensorboard)")
    p.add_argument("--port", type=int, default=6006, help="TensorBoard's port on 127.0.0.1 (a free one if taken)")
    p.add_argument("--no-serve", action="store_true", help="write the event files only")
    p.add_argument(
        "--follow",
        action="store_true",
        help="keep writing what is new (running runs' curves) every --interval seconds until Ctrl-C",
    )
    p.add_argument("--interval", type=float, default=10.0, help="seconds between passes with --follow")
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else default_dir()
    try:
        print(write(out).line(out), flush=True)
    except DatabaseError as e:
        print(f"error: {mask_secrets(e)}", file=sys.stderr)
        return 1
    if args.no_serve and not args.follow:
        return 0
    proc = None
    if not args.no_serve:
        port = free_port(args.port)
        proc = serve(out, port)
        if not wait_until_up(port, proc):
            print(f"error: TensorBoard did not start; see {out / 'tensorboard.log'}", file=sys.stderr)
            proc.terminate()
            return 1
        print(f"TensorBoard: http://127.0.0.1:{port}/  (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(args.interval if args.follow else 3600)
            if args.follow:
                counts = write(out)
                if counts.points or counts.images or counts.texts or counts.hparams:
                    print(counts.line(out), flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        if proc is not None:
            proc.terminate()


if __name__ == "__main__":
    sys.exit(main())
