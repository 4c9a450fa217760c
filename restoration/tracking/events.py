"""How a run's events are stored (write side): the ``metric`` table Sacred's ``SqlObserver`` lacks, the schema
(Sacred's tables plus ``metric``, refusing another tool's tables of the same names), and one event record, live or
replayed from the spool, applied to its run row. Used by :mod:`.observer` and :mod:`.recovery`."""

from __future__ import annotations

import datetime as dt
import os
import time

from restoration.tracking import database
from restoration.tracking.database import is_transient


def _time(s):
    return dt.datetime.fromisoformat(s) if s else None


def metric_table():
    import sqlalchemy as sa
    from sacred.observers.sql_bases import Base

    if "metric" not in Base.metadata.tables:
        sa.Table(
            "metric",
            Base.metadata,
            sa.Column("metric_id", sa.Integer, primary_key=True),
            sa.Column("run_id", sa.String(24), sa.ForeignKey("run.run_id"), index=True),
            sa.Column("name", sa.String(128), index=True),
            sa.Column("step", sa.Integer),
            sa.Column("value", sa.Float),
            sa.Column("timestamp", sa.DateTime),
        )
    return Base.metadata.tables["metric"]


def check_ours(eng) -> None:
    """Refuse a database that holds tables of the names Sacred uses but not Sacred's columns (another tool's
    ``run`` table): one :class:`~restoration.tracking.database.DatabaseError` line, before anything is created."""
    import sqlalchemy as sa
    from sacred.observers.sql_bases import Base

    metric_table()
    inspector = sa.inspect(eng)
    existing = set(inspector.get_table_names())
    for name, table in Base.metadata.tables.items():
        if name not in existing:
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        missing = sorted({c.name for c in table.columns} - have)
        if missing:
            raise database.DatabaseError(
                f"{database.describe(str(eng.url.render_as_string(hide_password=False)))} has a table {name!r} "
                f"that is not a Sacred run table (no column {', '.join(missing[:3])}): it belongs to another "
                f"tool; point SACRED_DB_URL / RESTORATION_RUNS_DIR at a database of its own. Nothing was written"
            )


def create_schema(eng, attempts: int = 8) -> None:
    """Sacred's tables plus ``metric``; a concurrent creator ("already exists") is waited out and retried."""
    from sacred.observers.sql_bases import Base

    metric_table()
    check_ours(eng)
    for attempt in range(attempts):
        try:
            Base.metadata.create_all(eng)
            return
        except Exception as e:  # noqa: BLE001 - OperationalError (SQLite), ProgrammingError/IntegrityError (PG)
            low = str(e).lower()
            if attempt + 1 < attempts and ("already exists" in low or "duplicate" in low or is_transient(e)):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise


def apply_event(session, run, record: dict, files: dict | None) -> None:
    """Store one event record (see :meth:`_store`) on the ``run`` row and commit; used live and to drain."""
    from sacred.observers.sql_bases import Artifact, Resource

    kind = record["event"]
    if kind == "heartbeat":
        run.info = record["info"]
        run.captured_out = record["captured_out"]
        run.heartbeat = _time(record["beat_time"])
        run.result = record["result"]
    elif kind == "metrics":
        rows = [dict(r, run_id=run.run_id, timestamp=_time(r["timestamp"])) for r in record["rows"]]
        session.execute(metric_table().insert(), rows)
    elif kind == "artifact":
        run.artifacts.append(Artifact.create(record["name"], files["file"]))
    elif kind == "resource":  # the original file if it is still there, else the spool's copy
        path = record["filename"] if os.path.exists(record["filename"]) or not files else files["file"]
        run.resources.append(Resource.get_or_create(path, session))
    elif kind == "completed":
        run.stop_time, run.result, run.status = _time(record["stop_time"]), record["result"], "COMPLETED"
    elif kind == "failed":
        run.stop_time, run.fail_trace, run.status = _time(record["fail_time"]), record["fail_trace"], "FAILED"
    elif kind == "interrupted":
        run.stop_time, run.status = _time(record["interrupt_time"]), record["status"]
    else:
        raise ValueError(f"unknown spooled event {kind!r}")
    session.commit()
