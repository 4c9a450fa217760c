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
import math
import os

import numpy as np

from restoration.tracking import database
from restoration.tracking.spool import Spool

STATUSES = ("QUEUED", "RUNNING", "COMPLETED", "FAILED", "INTERRUPTED", "TIMEOUT")


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a RUNNING row counts as DIED (``RESTORATION_STALE_S``); by default
    longer than a live run may spend retrying a busy database (``RESTORATION_DB_RETRY_S`` + 120 s)."""
    return float(os.environ.get("RESTORATION_STALE_S", database.retry_budget_s() + 120))


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
        """The stored payload as a dict (``info["report"]``), or None."""
        return stored_section(self.info, "report")

    @property
    def payload(self):
        """The stored payload as a :class:`restoration.contract.payload.Payload`, or None."""
        from restoration.contract.payload import Payload

        return Payload.from_dict(self.report)

    @property
    def sweep(self) -> dict | None:
        """The sweep tag (``info["sweep"]``: name, point, settings) of a sweep's run, or None."""
        return stored_section(self.info, "sweep")

    @property
    def provenance(self) -> dict:
        """How the run's config differs from the defaults, its precision and machine (``info["provenance"]``)."""
        return stored_section(self.info, "provenance") or {}

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
            row = c.execute(
                sa.text(
                    "SELECT content FROM artifact WHERE run_id = :r AND filename = :f ORDER BY artifact_id DESC LIMIT 1"
                ),
                dict(r=self.id, f=name),
            ).first()
        if row is None:
            raise KeyError(f"run {self.id} has no artifact {name!r}; it has {self.artifact_names}")
        return bytes(row[0])

    def captured_output(self) -> str:
        """What the run printed (Sacred's captured output, as stored with its last heartbeat)."""
        import sqlalchemy as sa

        with _connect(self.url) as c:
            text = c.execute(sa.text("SELECT captured_out FROM run WHERE run_id = :r"), dict(r=self.id)).scalar()
        return text or ""

    def metric_rows(self, after: int = 0) -> list[tuple[int, str, int, float, dt.datetime | None]]:
        """``(metric_id, name, step, value, timestamp)`` of every logged value with ``metric_id > after``, in
        the order they were stored: what a reader that keeps up with a running run (the TensorBoard view)
        needs. A stored null is NaN."""
        import sqlalchemy as sa

        with _connect(self.url) as c:
            if not sa.inspect(c).has_table("metric"):
                return []
            rows = c.execute(
                sa.text(
                    "SELECT metric_id, name, step, value, timestamp FROM metric WHERE run_id = :r "
                    "AND metric_id > :a ORDER BY metric_id"
                ),
                dict(r=self.id, a=int(after)),
            ).all()
        return [(int(i), str(n), int(s), math.nan if v is None else float(v), _parse_time(t)) for i, n, s, v, t in rows]

    def metrics(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{name: (steps, values)}`` from the ``metric`` table, sorted by step."""
        import sqlalchemy as sa

        out: dict[str, tuple[list, list]] = {}
        with _connect(self.url) as c:
            if not sa.inspect(c).has_table("metric"):
                return {}
            for name, step, value in c.execute(
                sa.text("SELECT name, step, value FROM metric WHERE run_id = :r ORDER BY name, step, metric_id"),
                dict(r=self.id),
            ):
                s, v = out.setdefault(name, ([], []))
                s.append(step)
                v.append(np.nan if value is None else value)
        return {k: (np.asarray(s), np.asarray(v, float)) for k, (s, v) in out.items()}


def stored_section(info, key: str) -> dict | None:
    """``info[key]`` of a stored run (``report``, ``sweep``, ``provenance``) as a dict, or None: the one reader of
    the shapes a run stores, nested or flattened by Sacred's SQL observer (``{"report.summary.psnr": 1}``), or
    still JSON text."""
    from restoration.contract.payload import unflatten

    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            return None
    if not isinstance(info, dict):
        return None
    value = info.get(key)
    if not isinstance(value, dict):
        value = unflatten(info).get(key)
    return value if isinstance(value, dict) else None


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


_REPO = (
    "(SELECT p.{col} FROM experiments_repositories x JOIN repository p ON x.repository_id = p.repository_id "
    "WHERE x.experiment_id = r.experiment_id ORDER BY p.repository_id LIMIT 1)"
)
_RUN_QUERY = f"""
SELECT r.run_id, e.name, r.status, r.config, r.info, r.start_time, r.stop_time, r.heartbeat, r.fail_trace,
       h.hostname, {_REPO.format(col='"commit"')}, {_REPO.format(col="dirty")}, r.command
FROM run r JOIN experiment e ON r.experiment_id = e.experiment_id LEFT JOIN host h ON r.host_id = h.host_id
"""


def run_query(*, experiments=(), statuses=(), since=None, until=None, limit: int | None = None) -> tuple[str, dict]:
    """The WHERE / ORDER BY / LIMIT tail of the one run query and its parameters: runs of any of
    ``restoration_experiments``, in any of the stored ``statuses``, started in ``[since, until]``, newest first."""
    clauses, params = [], {}
    for column, key, values in (("e.name", "e", list(experiments)), ("r.status", "s", list(statuses))):
        if values:
            names = [f"{key}{i}" for i in range(len(values))]
            clauses.append(f"{column} IN ({', '.join(':' + n for n in names)})")
            params.update(zip(names, values))
    if since is not None:
        clauses.append("r.start_time >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("r.start_time <= :until")
        params["until"] = until
    tail = ("WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY r.id DESC"
    if limit:
        tail += " LIMIT :limit"
        params["limit"] = int(limit)
    return tail, params


def _parse_time(v):
    if v is None or isinstance(v, dt.datetime):
        return v
    return dt.datetime.fromisoformat(str(v))


def _records(where: str, params: dict, url: str | None = None) -> list[RunRecord]:
    import sqlalchemy as sa

    url = url or database.db_url()
    if not database.exists(url):
        return []
    with _connect(url) as c:
        if not sa.inspect(c).has_table("run"):
            return []
        rows = c.execute(sa.text(_RUN_QUERY + where), params).all()
        names: dict = {}
        ids = [row[0] for row in rows]
        for i in range(0, len(ids), 500):  # the artifact names of all these runs, in a few queries
            chunk = ids[i : i + 500]
            marks = ", ".join(f":a{j}" for j in range(len(chunk)))
            for run_id, filename in c.execute(
                sa.text(f"SELECT run_id, filename FROM artifact WHERE run_id IN ({marks}) ORDER BY artifact_id"),
                {f"a{j}": v for j, v in enumerate(chunk)},
            ):
                names.setdefault(run_id, []).append(filename)
    return [
        RunRecord(
            id=row[0],
            experiment=row[1],
            status=row[2],
            config=_restore(row[3]),
            info=_restore(row[4]),
            start_time=_parse_time(row[5]),
            stop_time=_parse_time(row[6]),
            heartbeat=_parse_time(row[7]),
            fail_trace=row[8],
            host=row[9],
            commit=row[10],
            dirty=None if row[11] is None else bool(row[11]),
            artifact_names=names.get(row[0], []),
            url=url,
            command=row[12],
        )
        for row in rows
    ]


def get_run(run_id: str | int, *, url: str | None = None) -> RunRecord:
    """The run with id ``run_id``; ``KeyError`` naming the database when there is none (or the id is no
    number: Sacred's ids are)."""
    text = str(run_id).encode("utf-8", "backslashreplace").decode("utf-8")  # bytes that are not UTF-8, shown
    if not text.strip().isdigit():
        raise KeyError(f"{text!r} is not a run id (run ids are numbers); list runs with `python -m restoration runs`")
    recs = _records("WHERE r.run_id = :r", dict(r=text.strip()), url)
    if not recs:
        raise KeyError(
            f"no run {text} in {database.describe(url or database.db_url())}; list runs with "
            f"`python -m restoration runs`"
        )
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
    stored = [] if status is None else [status if status in STATUSES else "RUNNING"]
    where, params = run_query(experiments=[name] if name else [], statuses=stored)
    recs = _records(where, params, url)
    return [r for r in recs if r.state == status] if status in ("RUNNING", "DIED", "INCOMPLETE") else recs


def is_figure_run(record: RunRecord) -> bool:
    """A run of the experiment's own result: its main command (not e.g. ``print_config``) and not one point of a
    sweep (``info["sweep"]``, :mod:`restoration.sweeps`), which runs the experiment with other settings."""
    return record.command in (None, "main") and not record.sweep


#: the sweep name of ``make claims``'s replicate runs (:mod:`restoration_experiments.claims`)
CLAIMS_SWEEP = "claims"


def is_claim_arm(record: RunRecord) -> bool:
    """A run a claim may be judged on: a figure run (:func:`is_figure_run`) or a replicate of ``make claims``
    (a sweep over seeds that runs the figure's own config)."""
    tag = record.sweep
    return record.command in (None, "main") and (not tag or (isinstance(tag, dict) and tag.get("name") == CLAIMS_SWEEP))


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
