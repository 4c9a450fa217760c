"""Runs that did not end cleanly (write side): marking died runs FAILED, claiming one for ``resume`` in one
atomic update, and attaching spooled events once the database takes writes again. Reads runs through
:mod:`.records`; stores events through :mod:`.events`."""

from __future__ import annotations

import os
import warnings

from restoration.tracking import database
from restoration.tracking.events import apply_event
from restoration.tracking.records import RunRecord, _fmt, _utcnow, runs
from restoration.tracking.spool import Spool


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
                trace = (
                    f"died: no heartbeat since {_fmt(r.last_sign_of_life)}; the process was killed or lost "
                    f"(kill -9, out of memory, a timeout). Marked by `python -m restoration runs --mark-dead` "
                    f"at {_fmt(now)}. Re-run it (`python -m restoration resume {r.id}`) to resume from its "
                    f"checkpoints."
                )
                # only if it is still as seen: a run that came back to life (a new heartbeat) is left alone
                c.execute(
                    sa.text(
                        "UPDATE run SET status = 'FAILED', fail_trace = :t, stop_time = :s "
                        "WHERE run_id = :r AND status = 'RUNNING' "
                        "AND (heartbeat IS NULL OR heartbeat <= :seen)"
                    ),
                    dict(t=trace, s=r.last_sign_of_life or now, r=r.id, seen=r.heartbeat or now),
                )
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
            done = c.execute(
                sa.text(
                    "UPDATE run SET fail_trace = :new WHERE run_id = :r AND status = 'FAILED' AND fail_trace = :old"
                ),
                dict(new=old + RESUMED + who, r=run.id, old=old),
            ).rowcount
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
                warnings.warn(
                    f"spool {spool.folder}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}; "
                    f"{spool.pending()} events still wait"
                )
        left[spool.run_id] = spool.pending()
        spool.remove()
    return left
