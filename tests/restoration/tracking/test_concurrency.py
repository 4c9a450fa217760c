"""Two processes at one run (issue 18, parts 4-5): a died run is claimed for resuming by one atomic update, so two
``resume --dead`` at once resume it once; a spool lock held by another process ends in one line after its
timeout instead of blocking for ever. Real processes, a real SQLite database, real ``flock``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from restoration import tracking
from restoration.tracking import database
from restoration.tracking.spool import Spool

REPO = Path(__file__).resolve().parents[3]


def _died_run() -> int:
    """A run recorded as died (FAILED with a 'died:' trace), as `runs --mark-dead` leaves a killed one."""
    import sqlalchemy as sa

    ex = tracking.make_experiment("fig12_vgg16")

    @ex.main
    def main():
        raise RuntimeError("stand-in for a kill")

    with pytest.raises(RuntimeError):
        ex.run()
    run_id = tracking.runs()[-1].id
    with database.engine(write=True).begin() as c:
        c.execute(
            sa.text("UPDATE run SET fail_trace = :t WHERE run_id = :r"),
            dict(t="died: no heartbeat since 2026-12-02 10:00:00 UTC; the process was killed", r=run_id),
        )
    return int(run_id)


def test_a_died_run_is_claimed_once_even_from_a_stale_view():
    run_id = _died_run()
    seen_by_a = tracking.get_run(run_id)
    seen_by_b = tracking.get_run(run_id)  # both read the run before either claimed it
    assert tracking.claim_for_resume(seen_by_a) == (True, "")
    ok, who = tracking.claim_for_resume(seen_by_b)
    assert not ok and who.startswith(f"pid {os.getpid()} on ")
    assert tracking.get_run(run_id).fail_trace.startswith("died:")  # still listed as died, with who resumed it


def test_two_processes_racing_for_one_died_run_claim_it_once(tmp_path):
    run_id = _died_run()
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import time, pathlib
        from restoration import tracking
        rec = tracking.get_run({run_id})
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.001)
        print(tracking.claim_for_resume(rec)[0])
    """)
    children = [
        subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    time.sleep(1.5)  # both have read the run
    go.touch()
    answers = sorted(c.communicate(timeout=60)[0].strip() for c in children)
    assert answers == ["False", "True"], answers


def test_resume_dead_skips_a_run_another_resume_claimed(capsys):
    run_id = _died_run()
    assert tracking.claim_for_resume(tracking.get_run(run_id))[0]  # another `resume --dead` got there first
    from restoration import cli

    assert cli.main(["resume", "--dead"]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id} " not in out or "already being resumed" in out
    assert "resuming run" not in out


def test_a_spool_lock_held_by_another_process_ends_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_SPOOL_LOCK_S", "1")
    url = database.db_url()
    spool = Spool.for_run(url, "7")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import sys, time
        from restoration.tracking.spool import Spool
        Spool.for_run({url!r}, "7").own()
        print("held", flush=True)
        time.sleep(60)
    """),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert spool.own(wait=False) is False
        t = time.monotonic()
        with pytest.raises(database.DatabaseLockedError) as err:
            spool.own()
        assert 0.9 < time.monotonic() - t < 10
        msg = str(err.value)
        assert "\n" not in msg and f"pid {holder.pid} on " in msg and "already running" in msg
    finally:
        holder.kill()
        holder.wait()
    assert spool.own()  # the kernel released the lock of the killed holder
    spool.release()


def test_the_same_run_twice_in_one_process_no_longer_blocks_for_ever(monkeypatch):
    monkeypatch.setenv("RESTORATION_SPOOL_LOCK_S", "0.5")
    url = database.db_url()
    first = Spool.for_run(url, "9")
    assert first.own()
    with pytest.raises(database.DatabaseLockedError, match=r"spool of run 9 .* held by pid \d+"):
        Spool.for_run(url, "9").own()
    first.release()
