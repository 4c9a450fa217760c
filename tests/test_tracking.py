"""Runs go through Sacred into a real SQLite database and come back with plain SQL."""
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from restoration import tracking

REPO = Path(__file__).resolve().parent.parent


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
        tracking.set_report(_run, {"title": "T", "summary": {"x": 1.0}, "figures": [], "tables": []})
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
    assert rec.config["seed"] == 0 and rec.report["summary"] == {"x": 1.0}
    assert rec.artifact("curve.png")[:8] == b"\x89PNG\r\n\x1a\n"
    steps, values = rec.metrics()["train/loss"]
    assert list(steps) == [0, 1, 2, 3, 4] and values[-1] == 2.0
    assert rec.duration_s is not None and rec.duration_s >= 0
    with pytest.raises(KeyError, match="no artifact 'x.png'"):
        rec.artifact("x.png")
    with pytest.raises(KeyError, match="no run 999 in sqlite"):
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


def test_sigterm_marks_run_interrupted(tmp_path):
    script = tmp_path / "slow_exp.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from restoration import tracking
        ex = tracking.make_experiment("figkill")
        @ex.main
        def main(_run):
            print("started", flush=True)
            time.sleep(60)
        ex.run_commandline()
    """))
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "started" in line:
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    rec = tracking.latest_run("figkill")
    assert rec.status == "INTERRUPTED"


def test_set_report_rejects_incomplete_payload():
    class FakeRun:
        info = {}
    with pytest.raises(ValueError, match="lacks 'figures'"):
        tracking.set_report(FakeRun(), {"title": "x", "tables": []})
