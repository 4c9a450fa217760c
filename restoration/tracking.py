"""Sacred glue: experiments, observers, metrics, artifacts and run queries. The only module importing Sacred.

Every run lands in one SQL database: by default SQLite at ``runs/sacred.sqlite`` (a real database file, no
server); ``SACRED_DB_URL`` selects another (e.g. ``postgresql://user@host/db``). Tables are Sacred's own
(``run``, ``experiment``, ``artifact``, ``source``, ``repository``, ``host``, ...) plus ``metric``, which Sacred
0.8.7's ``SqlObserver`` lacks: it drops every ``log_scalar`` value. :class:`MetricsSqlObserver` adds it, so loss
curves live beside the run::

    SELECT name, step, value FROM metric WHERE run_id = '3' AND name = 'train/DC1' ORDER BY step;

Sacred keeps ``result`` in a FLOAT column (a run returning a dict never reaches COMPLETED), so structured
results go in ``run.info["report"]`` (:func:`set_report`) and in artifacts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import signal
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
SQLITE_BUSY_TIMEOUT_S = 30


# ----------------------------------------------------------------------------------------------------------
# where things live
# ----------------------------------------------------------------------------------------------------------

def runs_dir() -> Path:
    """``$RESTORATION_RUNS_DIR`` or ``<repo>/runs``: the SQLite database and checkpoints live here."""
    return Path(os.environ.get("RESTORATION_RUNS_DIR", REPO_ROOT / "runs")).resolve()


def db_url() -> str:
    """``$SACRED_DB_URL`` or ``sqlite:///<runs_dir>/sacred.sqlite``."""
    return os.environ.get("SACRED_DB_URL") or f"sqlite:///{runs_dir() / 'sacred.sqlite'}"


def checkpoint_dir(experiment_name: str, config: dict) -> Path:
    """The checkpoint folder for this experiment and config: a killed run, re-run with the same config, resumes.

    The folder is ``<runs_dir>/checkpoints/<name>/<sha1 of the config's JSON>/attempt<N>``: the newest attempt
    that has not been marked complete (:func:`mark_checkpoint_complete`), so a run that finished is never
    silently reused by the next one, which trains afresh in a new attempt folder. Give experiments a fixed
    ``seed`` in their config, or every run gets a new folder.
    """
    text = json.dumps(config, sort_keys=True, default=str)
    base = runs_dir() / "checkpoints" / experiment_name / hashlib.sha1(text.encode()).hexdigest()[:12]
    n = 1
    while (base / f"attempt{n}" / "COMPLETE").exists():
        n += 1
    path = base / f"attempt{n}"
    path.mkdir(parents=True, exist_ok=True)
    (base / "config.json").write_text(text)
    return path


def mark_checkpoint_complete(path: str | os.PathLike) -> None:
    """Mark a checkpoint folder as finished: later runs of the same config start a new attempt."""
    (Path(path) / "COMPLETE").write_text(dt.datetime.now().isoformat())


_ENGINES: dict[str, Any] = {}


def engine(url: str | None = None):
    """A SQLAlchemy engine for ``url`` (default :func:`db_url`), cached; SQLite gets WAL and a busy timeout."""
    import sqlalchemy as sa
    url = url or db_url()
    if url not in _ENGINES:
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            eng = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

            @sa.event.listens_for(eng, "connect")
            def _pragmas(dbapi_conn, _record):  # readers (make report) never block a running experiment
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
                cur.close()
        else:
            try:
                eng = sa.create_engine(url, pool_pre_ping=True)
            except ModuleNotFoundError as e:
                raise ModuleNotFoundError(
                    f"the run database {url.split('@')[-1]} (SACRED_DB_URL) needs the Python driver {e.name!r}, "
                    f"which is not installed. Fix: `.venv/bin/pip install -e '.[postgres]'` (PostgreSQL: "
                    f"psycopg), or unset SACRED_DB_URL to use runs/sacred.sqlite.") from e
        _ENGINES[url] = eng
    return _ENGINES[url]


class DatabaseLockedError(RuntimeError):
    """The run database stayed locked past the busy timeout."""


def _locked_message(url: str, err: Exception) -> str:
    return (f"the run database {url} is locked ({err}). Another process holds a write lock (a second run "
            f"writing at the same moment for over {SQLITE_BUSY_TIMEOUT_S} s, or a DB browser with an open "
            f"transaction). Close it and re-run; nothing of this run was lost before this point. For many "
            f"parallel runs use a server database: SACRED_DB_URL=postgresql://...")


# ----------------------------------------------------------------------------------------------------------
# the observer
# ----------------------------------------------------------------------------------------------------------

def _metric_table():
    import sqlalchemy as sa
    from sacred.observers.sql_bases import Base
    if "metric" not in Base.metadata.tables:
        sa.Table("metric", Base.metadata,
                 sa.Column("metric_id", sa.Integer, primary_key=True),
                 sa.Column("run_id", sa.String(24), sa.ForeignKey("run.run_id"), index=True),
                 sa.Column("name", sa.String(128), index=True),
                 sa.Column("step", sa.Integer),
                 sa.Column("value", sa.Float),
                 sa.Column("timestamp", sa.DateTime))
    return Base.metadata.tables["metric"]


def _make_observer(url: str | None = None):
    """The project's observer; with ``url=None`` it binds to :func:`db_url` when a run starts, so an imported
    experiment follows ``SACRED_DB_URL`` / ``RESTORATION_RUNS_DIR`` as they are at run time."""
    import time

    import sqlalchemy as sa
    from sacred.observers import SqlObserver
    from sqlalchemy.orm import sessionmaker

    class MetricsSqlObserver(SqlObserver):
        """Sacred's SqlObserver plus a ``metric`` table for ``log_scalar`` values, readable run ids
        (``run_id`` equals the row id: 1, 2, ...), and safe concurrent use.

        Sacred calls the observer from two threads (the run and its heartbeat). Sacred's own observer gives each
        thread its own session and locks only the commit, so the run thread can hold SQLite's write lock
        (an autoflush) while waiting for the observer lock that the heartbeat thread holds while waiting for the
        write lock: a deadlock that ends in "database is locked", after which Sacred silently drops the observer
        and the run "completes" without its artifacts. Here one session serves both threads and every event runs
        whole under one re-entrant lock, committing before it lets go; a lock held by another process is waited
        for and retried. If an event still cannot be stored, the run is marked FAILED instead of COMPLETED.
        """

        retries = 4

        def _guarded(self, event: str, fn):
            with self.lock:
                for attempt in range(self.retries + 1):
                    try:
                        return fn()
                    except sa.exc.OperationalError as e:
                        self.session.rollback()
                        if "locked" not in str(e) and "busy" not in str(e):
                            raise
                        if attempt == self.retries:
                            self._lost = f"{event}: {_locked_message(self.url, getattr(e, 'orig', e))}"
                            raise DatabaseLockedError(self._lost) from e
                        time.sleep(2.0 * (attempt + 1))

        def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
            from sacred.observers.sql_bases import Base, Run

            self.run = None  # a start that fails must not let later events touch the previous run's row

            def start():
                if self.fixed_url is None or self.engine is None:
                    self.bind(self.fixed_url or db_url())
                _metric_table()
                Base.metadata.create_all(self.engine)
                run_id = _id
                if run_id is None:
                    run_id = (self.session.query(sa.func.max(Run.id)).scalar() or 0) + 1
                return SqlObserver.started_event(self, ex_info, command, host_info, start_time, config,
                                                 meta_info, run_id)
            self._lost = None
            return self._guarded("start", start)

        def heartbeat_event(self, info, captured_out, beat_time, result):
            return self._guarded("heartbeat", lambda: SqlObserver.heartbeat_event(
                self, info, captured_out, beat_time, result))

        def artifact_event(self, name, filename, metadata=None, content_type=None):
            return self._guarded(f"artifact {name}", lambda: SqlObserver.artifact_event(
                self, name, filename, metadata, content_type))

        def resource_event(self, filename):
            return self._guarded("resource", lambda: SqlObserver.resource_event(self, filename))

        def log_metrics(self, metrics_by_name, info):
            table = _metric_table()
            rows = [dict(run_id=self.run.run_id, name=name, step=int(step), value=float(value), timestamp=ts)
                    for name, m in metrics_by_name.items()
                    for step, value, ts in zip(m["steps"], m["values"], m["timestamps"])]

            def insert():
                self.session.execute(table.insert(), rows)
                self.session.commit()
            if rows:
                self._guarded("metrics", insert)

        def completed_event(self, stop_time, result):
            if getattr(self, "_lost", None):  # something of this run was not stored: never claim COMPLETED
                return self.failed_event(stop_time, [f"the run finished, but part of its record was lost: "
                                                     f"{self._lost}"])
            return self._guarded("completed", lambda: SqlObserver.completed_event(self, stop_time, result))

        def interrupted_event(self, interrupt_time, status):
            if self.run is None:  # the run never reached the database (start failed): nothing to mark
                return None
            return self._guarded("interrupted", lambda: SqlObserver.interrupted_event(
                self, interrupt_time, status))

        def failed_event(self, fail_time, fail_trace):
            if self.run is None:  # the start itself failed and raised its own error
                return None
            return self._guarded("failed", lambda: SqlObserver.failed_event(self, fail_time, fail_trace))

        def bind(self, to_url: str) -> None:
            self.url = to_url
            self.engine = engine(to_url)
            self.session = sessionmaker(bind=self.engine)()

    obs = MetricsSqlObserver.create_from(None, None)
    obs.lock = threading.RLock()
    obs._lost = None
    obs.fixed_url = url
    obs.url = url
    if url is not None:
        obs.bind(url)
    return obs


# ----------------------------------------------------------------------------------------------------------
# experiments
# ----------------------------------------------------------------------------------------------------------

def _interrupt_on_sigterm():
    """A ``kill`` (SIGTERM) becomes KeyboardInterrupt, so Sacred marks the run INTERRUPTED and the last
    checkpoint stays; a later run with the same config resumes from it."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, _frame):
        raise KeyboardInterrupt(f"received signal {signum}; the last checkpoint is kept, re-run to resume")
    signal.signal(signal.SIGTERM, handler)


def make_experiment(name: str, *, observe: bool = True):
    """A Sacred experiment named ``name`` (the figure id, e.g. ``"fig06"``) with the project's observer.

    Sources under the repository root are recorded with the run, and so are the git commit (Sacred's
    ``save_git_info``), the host and the config including ``seed``. ``SACRED_DB_URL`` / ``RESTORATION_RUNS_DIR``
    choose the database; ``observe=False`` makes a throw-away experiment (no database).
    """
    import sacred
    from sacred.utils import apply_backspaces_and_linefeeds

    sacred.SETTINGS.CAPTURE_MODE = "sys"  # fd capture would swallow TensorFlow's C++ logs into a tee process
    # "imported": the experiment file and every imported module of this repository (the library) are stored
    # with the run; .venv is excluded because its module names do not match their paths.
    sacred.SETTINGS.DISCOVER_SOURCES = "imported"
    warnings.filterwarnings("ignore", message=".*not in session, add operation along.*")  # Sacred 0.8.7 + SA 2
    ex = sacred.Experiment(name, base_dir=str(REPO_ROOT), save_git_info=True)
    ex.captured_out_filter = apply_backspaces_and_linefeeds  # tqdm bars stored as their final state
    if observe:
        ex.observers.append(_make_observer())
    ex.pre_run_hook(_interrupt_on_sigterm)
    return ex


def metric_logger(run) -> Callable[[str, float, int], None]:
    """``log(name, value, step)`` for library code: forwards to ``run.log_scalar``; NaN is logged as-is."""
    def log(name: str, value: float, step: int) -> None:
        run.log_scalar(name, float(value), int(step))
    return log


def _artifact_name(filename: str) -> str:
    if len(filename) > 64:
        raise ValueError(f"artifact name {filename!r} is longer than Sacred's 64-character column; shorten it")
    return filename


def add_file(run, path: str | os.PathLike, name: str | None = None) -> None:
    """Store an existing file as an artifact of ``run``."""
    run.add_artifact(str(path), name=_artifact_name(name or Path(path).name))


def _add_bytes(run, data: bytes, filename: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / filename
        p.write_bytes(data)
        add_file(run, p, filename)


def add_figure(run, fig, filename: str, *, dpi: int = 110) -> None:
    """Save a matplotlib figure as a PNG artifact and close it."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    _add_bytes(run, buf.getvalue(), filename)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def add_json(run, obj, filename: str) -> None:
    """Store a JSON-serialisable object (numpy values converted) as an artifact."""
    _add_bytes(run, json.dumps(_jsonable(obj), indent=1).encode(), filename)


def add_npz(run, filename: str, **arrays) -> None:
    """Store named arrays as one compressed ``.npz`` artifact."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    _add_bytes(run, buf.getvalue(), filename)


def set_report(run, report) -> None:
    """Put the report payload (:class:`restoration.payload.Payload`) in ``run.info["report"]``.

    The summary keys are checked against the measure registry (:mod:`restoration.measures`) and the whole
    payload against JSON, here and not in the observer, so a bad payload fails the run with a clear message.
    """
    from restoration.payload import Payload

    if not isinstance(report, Payload):
        raise TypeError(f"set_report takes a restoration.payload.Payload, got {type(report).__name__}")
    payload = _jsonable(report.validate().to_dict())
    json.dumps(payload)
    run.info["report"] = payload


# ----------------------------------------------------------------------------------------------------------
# reading runs back
# ----------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class RunRecord:
    """One run as stored: what the report and the CLI need, read with plain SQL."""
    id: str
    experiment: str
    status: str
    config: dict
    info: dict
    start_time: dt.datetime | None
    stop_time: dt.datetime | None
    heartbeat: dt.datetime | None
    commit: str | None
    dirty: bool | None
    host: str | None
    fail_trace: str | None
    artifact_names: list[str]
    url: str
    command: str | None = None

    @property
    def duration_s(self) -> float | None:
        end = self.stop_time or self.heartbeat
        return (end - self.start_time).total_seconds() if end and self.start_time else None

    @property
    def report(self) -> dict | None:
        return self.info.get("report")

    def artifact(self, name: str) -> bytes:
        """The stored bytes of artifact ``name`` (raises ``KeyError`` listing the run's artifacts)."""
        import sqlalchemy as sa
        with engine(self.url).connect() as c:
            row = c.execute(sa.text("SELECT content FROM artifact WHERE run_id = :r AND filename = :f "
                                    "ORDER BY artifact_id DESC LIMIT 1"), dict(r=self.id, f=name)).first()
        if row is None:
            raise KeyError(f"run {self.id} has no artifact {name!r}; it has {self.artifact_names}")
        return bytes(row[0])

    def metrics(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{name: (steps, values)}`` from the ``metric`` table, sorted by step."""
        import sqlalchemy as sa
        out: dict[str, tuple[list, list]] = {}
        with engine(self.url).connect() as c:
            if not sa.inspect(c).has_table("metric"):
                return {}
            for name, step, value in c.execute(sa.text(
                    "SELECT name, step, value FROM metric WHERE run_id = :r ORDER BY name, step, metric_id"),
                    dict(r=self.id)):
                s, v = out.setdefault(name, ([], []))
                s.append(step)
                v.append(np.nan if value is None else value)
        return {k: (np.asarray(s), np.asarray(v, float)) for k, (s, v) in out.items()}


def _restore(text: str | None) -> dict:
    if not text:
        return {}
    from sacred.serializer import restore
    return restore(json.loads(text))


_RUN_QUERY = """
SELECT r.run_id, e.name, r.status, r.config, r.info, r.start_time, r.stop_time, r.heartbeat, r.fail_trace,
       h.hostname, r.experiment_id, r.command
FROM run r JOIN experiment e ON r.experiment_id = e.experiment_id LEFT JOIN host h ON r.host_id = h.host_id
"""


def _parse_time(v):
    if v is None or isinstance(v, dt.datetime):
        return v
    return dt.datetime.fromisoformat(str(v))


def _records(where: str, params: dict, url: str | None = None) -> list[RunRecord]:
    import sqlalchemy as sa
    url = url or db_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return []
    out = []
    with engine(url).connect() as c:
        if not sa.inspect(c).has_table("run"):
            return []
        for row in c.execute(sa.text(_RUN_QUERY + where), params).all():
            repo = c.execute(sa.text(
                "SELECT p.\"commit\", p.dirty FROM experiments_repositories x JOIN repository p "
                "ON x.repository_id = p.repository_id WHERE x.experiment_id = :e"), dict(e=row[10])).first()
            names = [r[0] for r in c.execute(sa.text(
                "SELECT filename FROM artifact WHERE run_id = :r ORDER BY artifact_id"), dict(r=row[0]))]
            out.append(RunRecord(
                id=row[0], experiment=row[1], status=row[2], config=_restore(row[3]), info=_restore(row[4]),
                start_time=_parse_time(row[5]), stop_time=_parse_time(row[6]), heartbeat=_parse_time(row[7]),
                fail_trace=row[8], host=row[9], commit=repo[0] if repo else None,
                dirty=bool(repo[1]) if repo else None, artifact_names=names, url=url, command=row[11]))
    return out


def get_run(run_id: str | int, *, url: str | None = None) -> RunRecord:
    """The run with id ``run_id``; ``KeyError`` naming the database when there is none."""
    recs = _records("WHERE r.run_id = :r", dict(r=str(run_id)), url)
    if not recs:
        raise KeyError(f"no run {run_id} in {url or db_url()}; list runs with `python -m restoration runs`")
    return recs[0]


def runs(name: str | None = None, *, status: str | None = None, url: str | None = None) -> list[RunRecord]:
    """All runs (of experiment ``name``, with ``status``), newest first."""
    clauses, params = [], {}
    if name:
        clauses.append("e.name = :n")
        params["n"] = name
    if status:
        clauses.append("r.status = :s")
        params["s"] = status
    where = ("WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY r.id DESC"
    return _records(where, params, url)


def latest_completed_run(name: str, *, url: str | None = None) -> RunRecord | None:
    """The newest COMPLETED run of experiment ``name``'s main command (not e.g. ``print_config``), or None."""
    recs = [r for r in runs(name, status="COMPLETED", url=url) if r.command in (None, "main")]
    return recs[0] if recs else None


def latest_run(name: str, *, url: str | None = None) -> RunRecord | None:
    """The newest run of experiment ``name`` whatever its status (FAILED, INTERRUPTED, RUNNING...), or None."""
    recs = runs(name, url=url)
    return recs[0] if recs else None


def failure_message(record: RunRecord) -> str | None:
    """The last line of a failed run's trace (the exception and its message), for reports."""
    if not record.fail_trace:
        return None
    lines = [ln for ln in record.fail_trace.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else None
