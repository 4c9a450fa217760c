"""Runs go through Sacred into a real SQLite database and come back with plain SQL."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from restoration import tracking
from restoration.contract.payload import Payload, Table

REPO = Path(__file__).resolve().parents[3]


def _experiment(fail=False):
    ex = tracking.make_experiment("figtest")

    @ex.config
    def cfg():
        seed = 0  # noqa: F841
        steps = 4  # noqa: F841

    @ex.main
    def main(_run, steps):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        log = tracking.metric_logger(_run)
        for i in range(steps):
            log("train/loss", 10.0 / (i + 1), i)
        fig = plt.figure()
        plt.plot([0, 1])
        tracking.add_figure(_run, fig, "curve.png")
        tracking.add_npz(_run, "arrays.npz", a=[1, 2, 3])
        tracking.set_report(_run, Payload("T", "net", summary={"psnr_mean": 1.0}))
        if fail:
            raise FloatingPointError("loss became NaN at step 3")
        return 0.5

    return ex


def test_run_config_metrics_artifacts_in_sqlite():
    run = _experiment().run(config_updates={"steps": 5})
    assert run.status == "COMPLETED"
    db = tracking.runs_dir() / "sacred.sqlite"
    assert db.is_file()
    con = sqlite3.connect(db)
    status, config = con.execute("SELECT status, config FROM run WHERE run_id = ?", (str(run._id),)).fetchone()
    assert status == "COMPLETED" and '"steps": 5' in config
    rows = con.execute("SELECT step, value FROM metric WHERE name = 'train/loss' ORDER BY step").fetchall()
    assert rows == [(0, 10.0), (1, 5.0), (2, 10 / 3), (3, 2.5), (4, 2.0)]
    names = {r[0] for r in con.execute("SELECT filename FROM artifact")}
    assert names == {"curve.png", "arrays.npz"}
    rec = tracking.latest_completed_run("figtest")
    assert rec.config["seed"] == 0 and rec.report["summary"] == {"psnr_mean": 1.0}
    assert rec.artifact("curve.png")[:8] == b"\x89PNG\r\n\x1a\n"
    steps, values = rec.metrics()["train/loss"]
    assert list(steps) == [0, 1, 2, 3, 4] and values[-1] == 2.0
    assert rec.duration_s is not None and rec.duration_s >= 0
    with pytest.raises(KeyError, match="no artifact 'x.png'"):
        rec.artifact("x.png")
    with pytest.raises(KeyError, match="no run 999 in .*sacred.sqlite"):
        tracking.get_run(999)


def test_failed_run_is_recorded_with_message():
    ex = _experiment(fail=True)
    with pytest.raises(FloatingPointError):
        ex.run()
    assert tracking.latest_completed_run("figtest") is None
    rec = tracking.latest_run("figtest")
    assert rec.status == "FAILED"
    assert tracking.failure_message(rec) == "FloatingPointError: loss became NaN at step 3"


def test_runs_are_numbered_and_listed():
    ex = _experiment()
    ids = [ex.run()._id for _ in range(2)]
    assert ids == [1, 2]
    assert [r.id for r in tracking.runs("figtest")] == ["2", "1"]


def test_checkpoint_dir_is_stable_per_config():
    a = tracking.checkpoint_dir("fig06", {"seed": 0, "lr": 1e-3})
    b = tracking.checkpoint_dir("fig06", {"lr": 1e-3, "seed": 0})
    c = tracking.checkpoint_dir("fig06", {"lr": 2e-3, "seed": 0})
    assert a == b != c and a.is_dir()
    tracking.mark_checkpoint_complete(a)
    d = tracking.checkpoint_dir("fig06", {"seed": 0, "lr": 1e-3})
    assert d != a and d.parent == a.parent and d.name == "attempt2"
    assert tracking.checkpoint_dir("fig06", {"seed": 0, "lr": 1e-3}) == d  # unfinished: resumed


def test_sigterm_marks_run_interrupted(tmp_path):
    script = tmp_path / "slow_exp.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from restoration import tracking
        ex = tracking.make_experiment("figkill")
        @ex.main
        def main(_run):
            print("started", flush=True)
            time.sleep(60)
        ex.run_commandline()
    """)
    )
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in proc.stdout:
        if "started" in line:
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    rec = tracking.latest_run("figkill")
    assert rec.status == "INTERRUPTED"


def test_set_report_checks_the_payload_against_the_measure_registry():
    class FakeRun:
        info = {}

    with pytest.raises(TypeError, match="Payload"):
        tracking.set_report(FakeRun(), {"title": "x", "tables": []})
    with pytest.raises(KeyError, match="unknown measure 'psnr_avg'.*psnr_mean"):
        tracking.set_report(FakeRun(), Payload("x", "net", summary={"psnr_avg@pool1": 20.0}))
    with pytest.raises(ValueError, match="not a number"):
        tracking.set_report(FakeRun(), Payload("x", "net", summary={"psnr_mean": "20"}))
    with pytest.raises(ValueError, match="rows \\[1\\] do not have 2 cells"):
        Table("t", ["a", "b"], [[1, 2], [3]])
    run = FakeRun()
    tracking.set_report(run, Payload("x", "net", summary={"psnr_mean@pool2": 20.0, "ssim_mean": float("nan")}))
    back = Payload.from_dict(run.info["report"])
    assert back.summary["psnr_mean@pool2"] == 20.0 and np.isnan(back.summary["ssim_mean"])


def _busy_experiment(n_artifacts=6):
    """Heartbeats every 0.05 s (metrics + info) interleaved with artifacts from the run thread."""
    ex = tracking.make_experiment("figbusy")

    @ex.main
    def main(_run):
        import time

        log = tracking.metric_logger(_run)
        for i in range(n_artifacts):
            for j in range(20):
                log("loss", float(j), i * 20 + j)
            _run.info["progress"] = i
            tracking.add_json(_run, {"i": i}, f"a{i}.json")
            time.sleep(0.06)
        tracking.set_report(_run, Payload("busy", "net"))

    return ex


def test_heartbeat_thread_and_run_thread_never_lose_records(monkeypatch):
    """Sacred's own observer could deadlock here (run thread autoflush vs heartbeat metrics insert)."""
    import sacred

    monkeypatch.setattr(sacred.SETTINGS, "DEFAULT_BEAT_INTERVAL", 0.05)
    run = _busy_experiment().run()
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED"
    assert rec.artifact_names == [f"a{i}.json" for i in range(6)]
    assert len(rec.metrics()["loss"][0]) == 120 and rec.report["title"] == "busy"


def test_another_process_holding_the_write_lock_is_waited_for():
    import threading
    import time

    _experiment().run()  # creates the database
    con = sqlite3.connect(tracking.runs_dir() / "sacred.sqlite", check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")  # a second writer (e.g. another run) holds the lock for a while

    def release():
        time.sleep(1.5)
        con.commit()

    t = threading.Thread(target=release)
    t.start()
    run = _experiment().run()
    t.join()
    assert tracking.get_run(run._id).status == "COMPLETED"
    assert tracking.get_run(run._id).artifact_names == ["curve.png", "arrays.npz"]


def test_a_start_against_a_database_locked_for_good_gives_a_clear_error(monkeypatch):
    from restoration.tracking import database

    _experiment().run()
    monkeypatch.setenv("RESTORATION_SQLITE_BUSY_S", "0.1")
    monkeypatch.setenv("RESTORATION_DB_RETRY_S", "1")
    database._ENGINES.clear()
    con = sqlite3.connect(tracking.runs_dir() / "sacred.sqlite")
    con.execute("BEGIN IMMEDIATE")
    with pytest.raises(
        tracking.DatabaseLockedError,
        match=r"sacred.sqlite is locked .*another process holds a "
        r"write lock; close it and re-run",
    ):
        _experiment().run()
    con.rollback()
    database._ENGINES.clear()


def test_observer_binds_the_database_at_run_time(tmp_path, monkeypatch):
    ex = _experiment()  # made while RESTORATION_RUNS_DIR points at the fixture's folder
    monkeypatch.setenv("RESTORATION_RUNS_DIR", str(tmp_path / "elsewhere"))
    ex.run()
    assert (tmp_path / "elsewhere" / "sacred.sqlite").is_file()
    assert tracking.latest_completed_run("figtest").status == "COMPLETED"


def test_postgresql_database(monkeypatch, postgres):
    """The same run through a real PostgreSQL server (SACRED_DB_URL) that the test suite starts itself."""
    monkeypatch.setenv("SACRED_DB_URL", postgres.url)
    run = _experiment().run(config_updates={"steps": 3})
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED" and rec.config["steps"] == 3
    assert set(rec.artifact_names) == {"curve.png", "arrays.npz"}
    assert list(rec.metrics()["train/loss"][1]) == [10.0, 5.0, 10 / 3]


def test_a_failed_start_leaves_the_previous_run_alone(monkeypatch):
    ex = _experiment()
    first = ex.run()
    monkeypatch.setenv("SACRED_DB_URL", "mysql://nobody@127.0.0.1/none")  # driver not installed
    with pytest.raises(tracking.DatabaseError, match="needs the Python driver 'MySQLdb'.*install a MySQL driver"):
        ex.run()
    monkeypatch.delenv("SACRED_DB_URL")
    assert tracking.get_run(first._id).status == "COMPLETED"


def test_the_spool_keeps_whole_lines_coalesces_heartbeats_and_belongs_to_its_run(tmp_path):
    from restoration.tracking.spool import Spool

    spool = Spool(tmp_path / "run-7")
    assert spool.own()
    art = tmp_path / "a.json"
    art.write_text("{}")
    spool.append({"event": "heartbeat", "n": 1})
    spool.append({"event": "heartbeat", "n": 2})  # replaces the first: each carries the whole info
    spool.append({"event": "artifact", "name": "a.json"}, {"file": str(art)})
    spool.append({"event": "artifact", "name": "a.json"}, {"file": str(art)})  # same source name: no collision
    spool.append({"event": "heartbeat", "n": 3})
    events = spool.events()
    assert [r.get("n", r["event"]) for r, _ in events] == [2, "artifact", "artifact", 3]
    assert events[1][1]["file"] != events[2][1]["file"] and all(Path(f["file"]).is_file() for _, f in events[1:3])
    with open(spool.log, "a") as f:
        f.write('{"record": {"event": "metr')  # a write cut short by a full disk
    assert spool.pending() == 4 and len(spool.events()) == 4
    spool.append({"event": "metrics", "rows": []})  # the fragment is cut off, not glued to
    assert [r["event"] for r, _ in spool.events()][-2:] == ["heartbeat", "metrics"]
    other = Spool(tmp_path / "run-7")  # recover() in another process: the live run holds the lock
    assert not other.own(wait=False)
    spool.pop_first()
    assert [r.get("n", r["event"]) for r, _ in spool.events()] == ["artifact", "artifact", 3, "metrics"]
    spool.release()
    assert other.own(wait=False)
    other.release()
