"""Reading runs back, and looking after the ones that did not end cleanly.

:class:`RunRecord` is one run as stored, read with plain SQL through a read-only engine (reading never needs
write access). Its :attr:`RunRecord.state` is Sacred's status, except that a ``RUNNING`` row is one of

* ``RUNNING``: its heartbeat is recent (Sacred beats every 10 s);
* ``INCOMPLETE``: part of its record waits in this machine's spool (the database was busy or failing);
* ``DIED``: no heartbeat for ``RESTORATION_STALE_S`` seconds (default: the observer's retry budget + 120 s, i.e.
  7 min) and nothing spooled: the process was killed (``kill -9``, out of memory, a timeout) before it could
  say so.

:func:`mark_dead` writes ``FAILED`` (with a "died: no heartbeat since ..." trace) on such rows, and
:func:`recover` attaches spooled events once the database takes writes again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import warnings

import numpy as np

from restoration.tracking import database
from restoration.tracking.spool import Spool

STATUSES = ("QUEUED", "RUNNING", "COMPLETED", "FAILED", "INTERRUPTED", "TIMEOUT")


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a RUNNING row counts as DIED (``RESTORATION_STALE_S``); by default
    longer than a live run may spend retrying a busy database (``RESTORATION_DB_RETRY_S`` + 120 s)."""
    from restoration.tracking.observer import retry_budget_s
    return float(os.environ.get("RESTORATION_STALE_S", retry_budget_s() + 120))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # Sacred stores naive UTC times


@dataclasses.dataclass
class RunRecord:
    """One run as stored: what the report and the CLI need."""
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

    @property
    def last_sign_of_life(self) -> dt.datetime | None:
        return self.heartbeat or self.start_time

    @property
    def spooled(self) -> int:
        """Events of this run waiting in this machine's spool."""
        return Spool.for_run(self.url, self.id).pending()

    @property
    def state(self) -> str:
        """``status``, or for a RUNNING row: RUNNING, INCOMPLETE or DIED (see the module docstring)."""
        if self.status != "RUNNING":
            return self.status
        if self.spooled:
            return "INCOMPLETE"
        seen = self.last_sign_of_life
        if seen is not None and (_utcnow() - seen).total_seconds() > stale_after_s():
            return "DIED"
        return "RUNNING"

    @property
    def state_text(self) -> str:
        """One line for people: ``"died: no heartbeat since 2026-11-26 10:00:03 UTC"``, ``"completed"``, ..."""
        state = self.state
        if state == "DIED":
            return f"died: no heartbeat since {_fmt(self.last_sign_of_life)}"
        if state == "INCOMPLETE":
            return f"record incomplete: {self.spooled} events wait in the spool (python -m restoration runs --recover)"
        if state == "RUNNING":
            return f"running since {_fmt(self.start_time)} (heartbeat {_fmt(self.heartbeat)})"
        if state == "FAILED" and self.fail_trace:
            return "failed: " + failure_line(self.fail_trace)
        return state.lower()

    def artifact(self, name: str) -> bytes:
        """The stored bytes of artifact ``name`` (raises ``KeyError`` listing the run's artifacts)."""
        import sqlalchemy as sa
        with _connect(self.url) as c:
            row = c.execute(sa.text("SELECT content FROM artifact WHERE run_id = :r AND filename = :f "
                                    "ORDER BY artifact_id DESC LIMIT 1"), dict(r=self.id, f=name)).first()
        if row is None:
            raise KeyError(f"run {self.id} has no artifact {name!r}; it has {self.artifact_names}")
        return bytes(row[0])

    def metrics(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{name: (steps, values)}`` from the ``metric`` table, sorted by step."""
        import sqlalchemy as sa
        out: dict[str, tuple[list, list]] = {}
        with _connect(self.url) as c:
            if not sa.inspect(c).has_table("metric"):
                return {}
            for name, step, value in c.execute(sa.text(
                    "SELECT name, step, value FROM metric WHERE run_id = :r ORDER BY name, step, metric_id"),
                    dict(r=self.id)):
                s, v = out.setdefault(name, ([], []))
                s.append(step)
                v.append(np.nan if value is None else value)
        return {k: (np.asarray(s), np.asarray(v, float)) for k, (s, v) in out.items()}


def _fmt(t: dt.datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "never"


def failure_line(trace: str) -> str:
    lines = [ln for ln in (trace or "").strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


class _connect:
    """A read-only connection that turns driver errors into one-line :class:`database.DatabaseError` s."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        try:
            self.conn = database.engine(self.url, write=False).connect()
        except database.DatabaseError:
            raise
        except Exception as e:  # noqa: BLE001
            raise database.explain(self.url, e) from e
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        self.conn.close()
        if exc is not None and not isinstance(exc, (database.DatabaseError, KeyError)):
            import sqlalchemy as sa
            if isinstance(exc, sa.exc.SQLAlchemyError):
                raise database.explain(self.url, exc) from exc
        return False


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
    url = url or database.db_url()
    if not database.exists(url):
        return []
    out = []
    with _connect(url) as c:
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
    """The run with id ``run_id``; ``KeyError`` naming the database when there is none (or the id is no
    number: Sacred's ids are)."""
    text = str(run_id).encode("utf-8", "backslashreplace").decode("utf-8")  # bytes that are not UTF-8, shown
    if not text.strip().isdigit():
        raise KeyError(f"{text!r} is not a run id (run ids are numbers); list runs with `python -m restoration runs`")
    recs = _records("WHERE r.run_id = :r", dict(r=text.strip()), url)
    if not recs:
        raise KeyError(f"no run {text} in {database.describe(url or database.db_url())}; list runs with "
                       f"`python -m restoration runs`")
    return recs[0]


def normalise_status(status: str | None) -> str | None:
    """``"completed"`` -> ``"COMPLETED"``; unknown statuses raise ``ValueError`` listing the known ones."""
    if status is None:
        return None
    s = str(status).strip().upper()
    if s not in STATUSES + ("DIED", "INCOMPLETE"):
        raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES + ('DIED', 'INCOMPLETE'))}")
    return s


def runs(name: str | None = None, *, status: str | None = None, url: str | None = None) -> list[RunRecord]:
    """All runs (of experiment ``name``, in ``status`` — any case; DIED and INCOMPLETE are states of RUNNING
    rows), newest first."""
    status = normalise_status(status)
    clauses, params = [], {}
    if name:
        clauses.append("e.name = :n")
        params["n"] = name
    if status in STATUSES:
        clauses.append("r.status = :s")
        params["s"] = status
    elif status is not None:
        clauses.append("r.status = 'RUNNING'")
    where = ("WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY r.id DESC"
    recs = _records(where, params, url)
    return [r for r in recs if r.state == status] if status in ("RUNNING", "DIED", "INCOMPLETE") else recs


def is_figure_run(record: RunRecord) -> bool:
    """A run of the experiment's own result: its main command (not e.g. ``print_config``) and not one point of a
    sweep (``info["sweep"]``, :mod:`restoration.sweeps`), which runs the experiment with other settings."""
    return record.command in (None, "main") and not (record.info or {}).get("sweep")


#: the sweep name of ``make claims``'s replicate runs (:mod:`experiments.claims`)
CLAIMS_SWEEP = "claims"


def is_claim_arm(record: RunRecord) -> bool:
    """A run a claim may be judged on: a figure run (:func:`is_figure_run`) or a replicate of ``make claims``
    (a sweep over seeds that runs the figure's own config)."""
    tag = (record.info or {}).get("sweep")
    return record.command in (None, "main") and (not tag or (isinstance(tag, dict)
                                                              and tag.get("name") == CLAIMS_SWEEP))


def claim_runs(name: str, *, url: str | None = None) -> list[RunRecord]:
    """Every COMPLETED run of experiment ``name`` that a claim may be judged on, newest first."""
    return [r for r in runs(name, status="COMPLETED", url=url) if is_claim_arm(r)]


def latest_completed_run(name: str, *, url: str | None = None) -> RunRecord | None:
    """The newest COMPLETED run of experiment ``name``'s own result (:func:`is_figure_run`), or None."""
    recs = [r for r in runs(name, status="COMPLETED", url=url) if is_figure_run(r)]
    return recs[0] if recs else None


def latest_run(name: str, *, url: str | None = None) -> RunRecord | None:
    """The newest run of experiment ``name``'s own result whatever its state, or None."""
    recs = [r for r in runs(name, url=url) if is_figure_run(r)]
    return recs[0] if recs else None


def failure_message(record: RunRecord) -> str | None:
    """The last line of a failed run's trace (the exception and its message), for reports."""
    return failure_line(record.fail_trace) or None if record.fail_trace else None


# ----------------------------------------------------------------------------------------------------------
# Runs that did not end cleanly
# ----------------------------------------------------------------------------------------------------------

def mark_dead(*, url: str | None = None) -> list[RunRecord]:
    """Mark every DIED run (see the module docstring) ``FAILED`` with a "died: no heartbeat since ..." trace;
    returns the runs marked."""
    import sqlalchemy as sa
    url = url or database.db_url()
    dead = runs(status="DIED", url=url)
    if not dead:
        return []
    now = _utcnow()
    eng = database.engine(url, write=True)
    try:
        with eng.begin() as c:
            for r in dead:
                trace = (f"died: no heartbeat since {_fmt(r.last_sign_of_life)}; the process was killed or lost "
                         f"(kill -9, out of memory, a timeout). Marked by `python -m restoration runs --mark-dead` "
                         f"at {_fmt(now)}. Re-run it (`python -m restoration resume {r.id}`) to resume from its "
                         f"checkpoints.")
                # only if it is still as seen: a run that came back to life (a new heartbeat) is left alone
                c.execute(sa.text("UPDATE run SET status = 'FAILED', fail_trace = :t, stop_time = :s "
                                  "WHERE run_id = :r AND status = 'RUNNING' "
                                  "AND (heartbeat IS NULL OR heartbeat <= :seen)"),
                          dict(t=trace, s=r.last_sign_of_life or now, r=r.id, seen=r.heartbeat or now))
    except sa.exc.SQLAlchemyError as e:
        raise database.explain(url, e) from e
    return dead


RESUMED = "\nresumed: "  # the line a claimed died run's trace gains (see :func:`claim_for_resume`)


def claim_for_resume(run: RunRecord, *, url: str | None = None) -> tuple[bool, str]:
    """Claim a died run for resuming in one atomic database update: its trace gains a ``resumed: by pid P on
    host H at T`` line only if nobody added one first. ``(True, "")`` for the claimant; ``(False, who)`` when
    another ``resume`` claimed it (two ``resume --dead`` at once resume each run once)."""
    import socket

    import sqlalchemy as sa
    url = url or database.db_url()
    old = run.fail_trace or ""
    if RESUMED in old:
        return False, old.split(RESUMED, 1)[1].splitlines()[0]
    who = f"pid {os.getpid()} on {socket.gethostname()} at {_fmt(_utcnow())}"
    eng = database.engine(url, write=True)
    try:
        with eng.begin() as c:
            done = c.execute(sa.text("UPDATE run SET fail_trace = :new WHERE run_id = :r AND status = 'FAILED' "
                                     "AND fail_trace = :old"),
                             dict(new=old + RESUMED + who, r=run.id, old=old)).rowcount
            if done == 1:
                return True, ""
            now = c.execute(sa.text("SELECT fail_trace FROM run WHERE run_id = :r"), dict(r=run.id)).scalar() or ""
    except sa.exc.SQLAlchemyError as e:
        raise database.explain(url, e) from e
    return False, now.split(RESUMED, 1)[1].splitlines()[0] if RESUMED in now else "another process"


def recover(*, url: str | None = None, quiet: bool = False) -> dict[str, int]:
    """Attach every spooled event of this machine to the database ``url``, in order; returns
    ``{run id: events still waiting}`` for the spools it looked at (0 = fully recovered)."""
    from sqlalchemy.orm import Session

    from sacred.observers.sql_bases import Run

    from restoration.tracking.observer import apply_event

    url = url or database.db_url()
    left = {}
    for spool in Spool.all_for(url):
        if not spool.own(wait=False):  # its run is alive and drains it itself
            continue
        try:
            with Session(database.engine(url, write=True)) as session:
                run = session.query(Run).filter_by(run_id=spool.run_id).first()
                if run is None:
                    raise LookupError(f"run {spool.run_id} is not in {database.describe(url)}")
                for record, files in spool.events():
                    apply_event(session, run, record, files)
                    spool.pop_first()
        except Exception as e:  # noqa: BLE001 - one damaged spool must not stop the others
            if not quiet:
                warnings.warn(f"spool {spool.folder}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}; "
                              f"{spool.pending()} events still wait")
        left[spool.run_id] = spool.pending()
        spool.remove()
    return left
