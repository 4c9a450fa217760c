"""The project's Sacred observer: Sacred's SqlObserver made safe to lose nothing.

What it adds to ``sacred.observers.SqlObserver`` (0.8.7), and why:

* **A ``metric`` table** for ``log_scalar`` values, which Sacred's SQL observer drops.
* **Run ids that cannot collide**: the row is inserted with a temporary unique ``run_id`` and renamed to its
  database-assigned integer ``id`` in the same transaction (Sacred takes ``max(id) + 1`` first, so two processes
  starting at once got the same id). Creating the schema is retried when another process created it first.
* **One session, one lock**: Sacred calls observers from the run thread and its heartbeat thread; each event
  runs whole under one re-entrant lock and commits before it lets go (Sacred's own arrangement could deadlock on
  SQLite and then silently drop the observer).
* **Nothing lost to a busy or failing database**: an event that fails is rolled back and retried while the
  error looks transient (locked, busy, I/O, connection) for up to ``RESTORATION_DB_RETRY_S`` seconds (default
  300), with a warning now and then; after that, or at once for any other error, the event goes to an on-disk
  spool (:class:`restoration.tracking.spool.Spool`, artifacts copied) and every later event follows it there, in
  order, until the database takes them again. A spooled final status is applied when the spool is drained
  (by the next event, the next run, or ``python -m restoration runs --recover``).
* **Honest endings**: a run whose record is still partly in the spool when it ends is reported as incomplete
  (:func:`restoration.tracking.record_complete`), so ``python -m restoration_experiments`` exits non-zero, and its
  checkpoint folders are not marked complete; a result that is not a number is stored as NULL instead of
  breaking the session.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
import warnings

from sacred.observers import SqlObserver
from sacred.serializer import flatten
from sqlalchemy.orm import sessionmaker

from restoration.tracking import database
from restoration.tracking.database import is_transient, retry_budget_s
from restoration.tracking.events import apply_event, create_schema
from restoration.tracking.spool import Spool


def _iso(t) -> str | None:
    return t.isoformat() if isinstance(t, dt.datetime) else None


def _time(s):
    return dt.datetime.fromisoformat(s) if s else None


def _number(result):
    """A run's result as Sacred's FLOAT column can hold it (numpy scalars too); None for anything else."""
    import numbers

    if isinstance(result, bool) or not isinstance(result, numbers.Real):
        return None
    return float(result)


def wait_for_last_heartbeat(observer, timeout: float | None = None) -> None:
    """Join the heartbeat thread of the run ``observer`` belongs to. Sacred stops it with a 2 s timeout before
    the run's final event, so its last beat (the run's final info) may still be on its way to the database."""
    from sacred.utils import IntervalTimer

    for thread in threading.enumerate():
        owner = getattr(getattr(thread, "func", None), "__self__", None)
        if (
            isinstance(thread, IntervalTimer)
            and observer in getattr(owner, "observers", ())
            and thread is not threading.current_thread()
        ):
            thread.join(timeout)


class MetricsSqlObserver(SqlObserver):
    """Sacred's SQL observer that loses nothing: see the module docstring. Made by :func:`make_observer`."""

    @classmethod
    def for_url(cls, url: str | None) -> "MetricsSqlObserver":
        """An observer bound to ``url``, or (None) to :func:`database.db_url` when its run starts."""
        obs = cls.create_from(None, None)
        obs.lock = threading.RLock()
        obs.fixed_url, obs.url, obs.run, obs.spool, obs.lost, obs._run_id = url, url, None, None, [], None
        obs.complete_on_success = []
        if url is not None:
            obs.bind(url)
        return obs

    def bind(self, to_url: str) -> None:
        self.url = to_url
        self.engine = database.engine(to_url, write=True)
        self.session = sessionmaker(bind=self.engine)()

    # ---- the one way every event reaches the database ----------------------------------------------
    def _attempt(self, apply, event: str, budget_s: float | None = None) -> BaseException | None:
        """Run ``apply()`` (which commits) with rollback and retries while the error looks transient, for up
        to ``budget_s`` (default :func:`retry_budget_s`); the final error, or None when stored."""
        deadline = time.monotonic() + (retry_budget_s() if budget_s is None else budget_s)
        delay, warned = 0.5, time.monotonic()
        while True:
            try:
                apply()
                return None
            except Exception as e:  # noqa: BLE001 - every failure must roll back, or the session is dead
                self._rollback()
                if not is_transient(e) or time.monotonic() >= deadline:
                    return e
                if time.monotonic() - warned > 30:
                    warned = time.monotonic()
                    warnings.warn(
                        f"run {self._run_id}: storing {event} in {database.describe(self.url)} fails "
                        f"({str(e).splitlines()[0][:120]}); still retrying, nothing is lost"
                    )
                time.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
                delay = min(delay * 2, 10.0)

    def _rollback(self) -> None:
        try:
            self.session.rollback()
        except Exception:  # noqa: BLE001 - a dropped connection fails the rollback too
            pass

    def _store(self, record: dict, files: dict | None = None) -> bool:
        """Store one event (a JSON-able record), or spool it; True when it reached the database.

        Never raises into Sacred (which would drop the observer for the rest of the run): whatever goes wrong
        is spooled or, when even that fails, recorded in :attr:`lost`, which nothing clears. A SIGTERM
        (KeyboardInterrupt) arriving meanwhile spools the event before it propagates.
        """
        with self.lock:
            try:
                return self._store_locked(record, files)
            except KeyboardInterrupt:
                self._rollback()
                self._spool(record, files, "the run was interrupted while storing it")
                raise
            except Exception as e:  # noqa: BLE001 - see the docstring
                self._rollback()
                self._lose(record, f"{type(e).__name__}: {e}")
                return False

    def _store_locked(self, record: dict, files: dict | None) -> bool:
        if self.spool.pending():
            self._drain(budget_s=0)  # one try: the spool already says the database is not answering
        if self.spool.pending():
            self._spool(record, files, "earlier events still wait in the spool")
            return False
        err = self._attempt(lambda: self._apply(record, files), record["event"])
        if err is None:
            return True
        self._spool(record, files, str(database.explain(self.url, err)))
        return False

    def _spool(self, record: dict, files: dict | None, why: str) -> None:
        try:
            self.spool.append(record, files)
            warnings.warn(
                f"run {self._run_id}: {record['event']} not stored yet ({why}); it waits in {self.spool.folder}"
            )
        except OSError as e:
            self._lose(record, f"{why}; spooling failed too: {e}")

    def _lose(self, record: dict, why: str) -> None:
        self.lost.append(f"{record['event']}: {why}")
        warnings.warn(f"run {self._run_id}: {record['event']} is lost ({why})")

    def _drain(self, budget_s: float | None = None) -> None:
        """Apply spooled events in order; stop at the first that still fails."""
        for record, files in self.spool.events():
            if self._attempt(lambda: self._apply(record, files), record["event"], budget_s) is not None:
                return
            self.spool.pop_first()

    def _apply(self, record: dict, files: dict | None) -> None:
        apply_event(self.session, self.run, record, files)

    @property
    def incomplete(self) -> str | None:
        """Why the run's record is not whole in the database (None when it is)."""
        if self.lost:
            return f"{len(self.lost)} event(s) lost: " + "; ".join(self.lost[:3])
        waiting = self.spool.pending() if self.spool is not None else 0
        if waiting:
            return f"{waiting} event(s) could not be stored yet; they wait in {self.spool.folder}"
        return None

    # ---- Sacred's events ----------------------------------------------------------------------------
    def started_event(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        self.run, self.spool, self.lost, self.complete_on_success = None, None, [], []
        self._run_id = _id
        if self.fixed_url is None or self.engine is None:
            self.bind(self.fixed_url or database.db_url())
        with self.lock:
            err = self._attempt(lambda: create_schema(self.engine), "the schema")
            if err is None:
                err = self._attempt(
                    lambda: self._insert_run(ex_info, command, host_info, start_time, config, meta_info, _id),
                    "the run's start",
                )
            if err is not None:  # the run has not started: nothing was produced, nothing is lost
                raise database.explain(self.url, err) from err
        self._run_id = self.run.run_id
        self.spool = Spool.for_run(self.url, self.run.run_id)
        self.spool.own()
        self._recover_others()
        return _id if _id is not None else int(self.run.run_id)

    def _recover_others(self) -> None:
        """Attach what earlier runs spooled, now that the database takes writes again (best effort)."""
        from restoration.tracking.recovery import recover

        if any(sp.folder != self.spool.folder for sp in Spool.all_for(self.url)):
            try:
                recover(url=self.url, quiet=True)
            except Exception:  # noqa: BLE001 - the next start or `runs --recover` tries again
                pass

    def _insert_run(self, ex_info, command, host_info, start_time, config, meta_info, _id):
        from sacred.observers.sql_bases import Experiment, Host, Run

        exp = Experiment.get_or_create(ex_info, self.session)
        host = Host.get_or_create(host_info, self.session)
        run = Run(
            run_id=str(_id) if _id is not None else f"new-{uuid.uuid4().hex[:20]}",
            config=json.dumps(flatten(config)),
            command=command,
            priority=meta_info.get("priority", 0),
            comment=meta_info.get("comment", ""),
            experiment=exp,
            host=host,
            status="RUNNING",
            start_time=start_time,
        )
        self.session.add(run)
        self.session.flush()  # the INSERT: the database assigns run.id (and holds SQLite's write lock)
        if _id is None:
            run.run_id = str(run.id)
        self.session.commit()
        self.run = run  # only once it is in the database: a failed start leaves no half-started run

    def heartbeat_event(self, info, captured_out, beat_time, result):
        self._store(
            {
                "event": "heartbeat",
                "info": json.dumps(flatten(info)),
                "captured_out": captured_out,
                "beat_time": _iso(beat_time),
                "result": _number(result),
            }
        )

    def log_metrics(self, metrics_by_name, info):
        rows = [
            dict(name=name, step=int(step), value=float(value), timestamp=_iso(ts))
            for name, m in metrics_by_name.items()
            for step, value, ts in zip(m["steps"], m["values"], m["timestamps"])
        ]
        if rows:
            self._store({"event": "metrics", "rows": rows})

    def artifact_event(self, name, filename, metadata=None, content_type=None):
        self._store({"event": "artifact", "name": name}, {"file": filename})

    def resource_event(self, filename):
        self._store({"event": "resource", "filename": filename}, {"file": filename})

    def completed_event(self, stop_time, result):
        wait_for_last_heartbeat(self)  # it carries the run's final info (the report payload)
        stored = self._store({"event": "completed", "stop_time": _iso(stop_time), "result": _number(result)})
        if stored and self.incomplete is None:
            from restoration.tracking.checkpoints import mark_checkpoint_complete

            for path in self.complete_on_success:
                mark_checkpoint_complete(path)
        self.spool.remove()

    def interrupted_event(self, interrupt_time, status):
        if self.spool is not None:  # a start that failed raised its own error
            self._store({"event": "interrupted", "interrupt_time": _iso(interrupt_time), "status": status})
            self.spool.remove()

    def failed_event(self, fail_time, fail_trace):
        if self.spool is not None:
            self._store({"event": "failed", "fail_time": _iso(fail_time), "fail_trace": "\n".join(fail_trace)})
            self.spool.remove()


def make_observer(url: str | None = None) -> MetricsSqlObserver:
    """The project's observer; with ``url=None`` it binds to :func:`database.db_url` when a run starts, so an
    imported experiment follows ``SACRED_DB_URL`` / ``RESTORATION_RUNS_DIR`` as they are at run time."""
    return MetricsSqlObserver.for_url(url)
