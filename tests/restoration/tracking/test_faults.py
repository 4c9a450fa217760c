"""Nothing is lost: run records, checkpoints and concurrent runs under faults injected for real.

A second process holds SQLite's write lock, a child is killed with SIGKILL, several processes start runs at the
same moment on a fresh database, a database file is made read-only (for an unprivileged user: root writes
anyway), replaced by a folder or by garbage, and a run returns something that is not a number. No mocks: every
fault is what a researcher's machine would produce.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from restoration import tracking
from restoration.tracking import database

REPO = Path(__file__).resolve().parents[3]

SCRIPT = """
import sys, time
sys.path.insert(0, {repo!r})
from restoration import tracking
from restoration.contract.payload import Payload
ex = tracking.make_experiment("figfault")
ex.add_config(steps=6, pause=0.0, tag="a", seed=0, blob=0)

@ex.main
def main(_run, steps, pause, tag, seed, blob):
    folder = tracking.checkpoint_dir("figfault", {{"tag": tag, "seed": seed}})
    print("checkpoints", folder, flush=True)
    log = tracking.metric_logger(_run)
    for i in range(steps):
        log("loss", 1.0 / (i + 1), i)
        tracking.add_json(_run, {{"i": i}}, f"a{{i}}.json")
        if blob:
            tracking.add_npz(_run, f"b{{i}}.npz", x=__import__("numpy").random.default_rng(i).random(blob))
        print("step", i, flush=True)
        time.sleep(pause)
    tracking.set_report(_run, Payload("fault test", "none", summary={{"psnr_mean": 20.0}}))
    tracking.complete_on_success(_run, folder)
    return 1.0

run = ex.run_commandline()
complete, why = tracking.record_complete(run)
if not complete:
    print("INCOMPLETE:", why, flush=True)
    sys.exit(3)
sys.exit(0 if run.status == "COMPLETED" else 1)
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "fault_exp.py"
    path.write_text(SCRIPT.format(repo=str(REPO)))
    return path


def env(**extra):
    e = dict(os.environ)
    e.update({k: str(v) for k, v in extra.items()})
    return e


def start(script, *updates, **extra_env):
    return subprocess.Popen(
        [sys.executable, str(script), "with", *updates],
        env=env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(proc, marker: str, timeout: float = 120) -> str:
    """Read the child's output until a line contains ``marker``; return that line."""
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if marker in line:
            return line
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the child never printed {marker!r}")


def hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process that takes SQLite's write lock (BEGIN EXCLUSIVE) for ``seconds``."""
    code = textwrap.dedent(f"""
        import sqlite3, time
        c = sqlite3.connect({str(db)!r}, isolation_level=None, timeout=60)
        c.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep({seconds})
        c.execute("COMMIT")
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


FAST_FAIL = dict(RESTORATION_SQLITE_BUSY_S="0.3", RESTORATION_DB_RETRY_S="1")


def test_a_lock_held_mid_run_spools_the_record_and_the_run_completes_whole(script):
    proc = start(script, "steps=8", "pause=0.5", **FAST_FAIL)
    wait_for(proc, "step 1")
    db = tracking.runs_dir() / "sacred.sqlite"
    locker = hold_lock(db, 3.0)  # longer than busy timeout + retry budget: events go to the spool
    out = proc.communicate(timeout=120)[0]
    locker.wait(timeout=30)
    assert proc.returncode == 0, out[-3000:]
    rec = tracking.latest_run("figfault")
    assert rec.status == "COMPLETED" and rec.state == "COMPLETED"
    assert rec.artifact_names == [f"a{i}.json" for i in range(8)]
    assert list(rec.metrics()["loss"][0]) == list(range(8)) and rec.report["summary"]["psnr_mean"] == 20.0
    assert "not stored yet" in out and "it waits in" in out  # it said what happened
    assert list((tracking.runs_dir() / "checkpoints" / "figfault").glob("*/attempt1/COMPLETE"))
    assert not list((tracking.runs_dir() / "spool").glob("*/run-*"))


def test_a_lock_held_past_the_end_exits_nonzero_keeps_checkpoints_open_and_recovers(script, capsys):
    proc = start(script, "steps=4", "pause=0.3", **FAST_FAIL)
    wait_for(proc, "step 0")
    db = tracking.runs_dir() / "sacred.sqlite"
    locker = hold_lock(db, 12.0)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 3 and "INCOMPLETE:" in out, out[-3000:]
    rec = tracking.latest_run("figfault")
    assert rec.status == "RUNNING" and rec.state == "INCOMPLETE" and "events wait in the spool" in rec.state_text
    assert not list((tracking.runs_dir() / "checkpoints" / "figfault").glob("*/*/COMPLETE"))
    locker.wait(timeout=60)
    from restoration import cli

    assert cli.main(["runs", "--recover"]) == 0
    assert "record recovered" in capsys.readouterr().out
    rec = tracking.get_run(rec.id)
    assert rec.status == "COMPLETED" and rec.artifact_names == [f"a{i}.json" for i in range(4)]
    assert len(rec.metrics()["loss"][0]) == 4 and rec.report["title"] == "fault test"


def test_runs_started_together_on_a_fresh_database_all_complete_with_unique_ids(script):
    n = 4
    procs = [start(script, "steps=3", f"tag=t{i}") for i in range(n)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, "\n".join(o[-1500:] for o in outs)
    recs = tracking.runs("figfault")
    assert sorted(int(r.id) for r in recs) == list(range(1, n + 1))
    for r in recs:
        assert r.status == "COMPLETED" and r.artifact_names == ["a0.json", "a1.json", "a2.json"]
        assert len(r.metrics()["loss"][0]) == 3


def test_two_runs_of_one_config_at_once_train_in_their_own_attempt_folders(script):
    a, b = start(script, "steps=4", "pause=0.4"), start(script, "steps=4", "pause=0.4")
    folders = {wait_for(a, "checkpoints").split()[1], wait_for(b, "checkpoints").split()[1]}
    assert [p.wait(timeout=300) for p in (a, b)] == [0, 0]
    assert {Path(f).name for f in folders} == {"attempt1", "attempt2"}


def test_a_killed_child_is_shown_as_died_marked_and_resumed(monkeypatch, capsys):
    """kill -9 of a real trained-inversion run: DIED, then FAILED ('died: ...'), then resumed from checkpoints."""
    monkeypatch.setenv("RESTORATION_STALE_S", "3")
    cmd = [
        sys.executable,
        "-m",
        "restoration_experiments",
        "fig06",
        "with",
        "net=tiny_vgg",
        "crop=16",
        "batch_size=4",
        "steps=600",
        "eval_size=16",
        "eval_per_image=1",
        "ckpt_every=20",
        "log_every=10",
        "eval_every=1000",
        "reuse_modules=False",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ckpts = tracking.runs_dir() / "checkpoints" / "fig06"
    deadline = time.monotonic() + 180
    # Kill at the first checkpoint of any module: on a fast machine (AMX) the whole run takes seconds, so
    # waiting for one particular step could find the run already finished. Wait for the manager's state file
    # ("checkpoint"), written after the checkpoint's data and index: a kill between the index and it leaves a
    # checkpoint TensorFlow does not list, so the resumed run would start afresh (seen once under load).
    while not list(ckpts.glob("*/attempt1/*/*/checkpoint")):
        assert proc.poll() is None, "the run ended before its first checkpoint: " + proc.stdout.read()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint appeared in 180 s"
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    time.sleep(4)
    rec = tracking.latest_run("fig06")
    assert rec.status == "RUNNING" and rec.state == "DIED" and rec.state_text.startswith("died: no heartbeat since")

    from restoration import cli

    assert cli.main(["runs", "--status", "died"]) == 0
    assert "died: no heartbeat since" in capsys.readouterr().out
    from restoration_reports import build

    html = build.build(tracking.runs_dir() / "r.html").read_text()
    assert "the newest attempt is died" in html and "python -m restoration resume --dead" in html

    assert cli.main(["resume", "--dead"]) == 0
    dead = tracking.get_run(rec.id)
    assert dead.status == "FAILED" and dead.fail_trace.startswith("died: no heartbeat since")
    done = tracking.latest_run("fig06")
    assert done.id != rec.id and done.status == "COMPLETED"
    assert "resumed from checkpoints" in " ".join(done.report["paragraphs"])
    assert done.config["steps"] == 600 and done.config["net"] == "tiny_vgg"


def test_a_result_that_is_not_a_number_does_not_break_the_record():
    ex = tracking.make_experiment("figdict")

    @ex.main
    def main(_run):
        tracking.add_json(_run, {"x": 1}, "before.json")
        return {"psnr": 20.0}

    run = ex.run()
    rec = tracking.get_run(run._id)
    assert rec.status == "COMPLETED" and rec.artifact_names == ["before.json"]
    assert tracking.record_complete(run) == (True, "")


# ----------------------------------------------------------------------------------------------------------
# database files that cannot be used
# ----------------------------------------------------------------------------------------------------------


def _read_only(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` is a read-only file system: a read-only bind mount in a private
    mount namespace when the tests run as root (root writes read-only files anyway), else nothing (the caller
    makes the files read-only with chmod). Skips when neither can work."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(
            "running as root without the right to make a private mount namespace (unshare -m): cannot "
            "make a read-only file system for real"
        )
    script = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$0" "$@"'
    return ["unshare", "-m", "sh", "-c", script]


def _cli(args, runs_dir, prefix=(), **extra):
    return subprocess.run(
        [*prefix, sys.executable, "-m", "restoration", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env(RESTORATION_RUNS_DIR=runs_dir, **extra),
        timeout=120,
    )


def test_a_read_only_database_is_read_but_not_written(script, tmp_path):
    assert start(script, "steps=2").wait(timeout=120) == 0
    folder = tmp_path / "ro-runs"
    folder.mkdir()
    shutil.copyfile(tracking.runs_dir() / "sacred.sqlite", folder / "sacred.sqlite")
    prefix = _read_only(folder)
    if not prefix:  # not root: permissions are enough
        os.chmod(folder / "sacred.sqlite", 0o444)
        os.chmod(folder, 0o555)
    try:
        listed = _cli(["runs"], folder, prefix)
        assert listed.returncode == 0 and "figfault" in listed.stdout and "COMPLETED" in listed.stdout, listed.stderr[
            -2000:
        ]
        started = subprocess.run(
            [*prefix, sys.executable, str(script), "with", "steps=1"],
            capture_output=True,
            text=True,
            env=env(RESTORATION_RUNS_DIR=folder),
            timeout=120,
        )
        assert started.returncode != 0
        assert f"the run database {folder}/sacred.sqlite cannot be written" in started.stdout + started.stderr
    finally:
        os.chmod(folder, 0o755)


def test_a_folder_garbage_or_a_bad_url_in_place_of_the_database_gives_one_clear_line(tmp_path, monkeypatch):
    folder = tmp_path / "asdir"
    (folder / "sacred.sqlite").mkdir(parents=True)
    out = _cli(["runs"], folder)
    assert out.returncode == 2 and "sacred.sqlite is a folder, not an SQLite file" in out.stderr
    assert "Traceback" not in out.stderr

    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "sacred.sqlite").write_bytes(b"this is not a database" * 100)
    out = _cli(["runs"], garbage)
    assert out.returncode == 2 and "is not a readable SQLite database" in out.stderr and "move it aside" in out.stderr
    report = subprocess.run(
        [sys.executable, "-m", "restoration_reports", "--out", str(tmp_path / "r.html")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env(RESTORATION_RUNS_DIR=garbage),
        timeout=120,
    )
    assert report.returncode == 1 and "is not a readable SQLite database" in report.stderr
    assert "Traceback" not in report.stderr

    out = _cli(["runs"], tmp_path / "x", SACRED_DB_URL="postgres://user@:bad:port/db")
    assert out.returncode == 2 and "SACRED_DB_URL='postgres://user@:bad:port/db' is not a database URL" in out.stderr


def test_runs_status_is_case_insensitive_and_checked(script, capsys):
    assert start(script, "steps=1").wait(timeout=120) == 0
    from restoration import cli

    assert cli.main(["runs", "--status", "completed"]) == 0
    assert "figfault" in capsys.readouterr().out
    assert cli.main(["runs", "--status", "finished"]) == 2
    assert "unknown status 'finished'" in capsys.readouterr().err


def test_reading_never_writes(script):
    assert start(script, "steps=1").wait(timeout=120) == 0
    db = tracking.runs_dir() / "sacred.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = db.stat().st_mtime_ns
    tracking.runs()
    assert db.stat().st_mtime_ns == before
    assert database.engine(write=False).url.drivername == "sqlite"


def test_a_full_disk_spools_the_record_elsewhere_and_it_is_recovered_when_space_returns(script, tmp_path):
    """The database on a 2 MB tmpfs that the run's artifacts fill, the spool on another disk; then the tmpfs
    grows and `runs --recover` attaches everything. All inside one private mount namespace (root only)."""
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs root and a private mount namespace to make a small file system")
    small, spool = tmp_path / "small", tmp_path / "spool"
    small.mkdir()
    py = sys.executable
    shell = f"""
        set -u
        mount -t tmpfs -o size=2m tmpfs "{small}" || exit 90
        {py} "{script}" with steps=6 blob=120000 > "{tmp_path}/run.log" 2>&1
        echo "exit $?" >> "{tmp_path}/run.log"
        mount -o remount,size=64m "{small}"
        cd "{REPO}" && {py} -m restoration runs --recover > "{tmp_path}/recover.log" 2>&1
        {py} -c "
import sys; sys.path.insert(0, '{REPO}')
from restoration import tracking
r = tracking.latest_run('figfault')
print(r.status, len(r.artifact_names), len(r.metrics()['loss'][0]))" > "{tmp_path}/final.log" 2>&1
    """
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", shell],
        capture_output=True,
        text=True,
        timeout=300,
        env=env(RESTORATION_RUNS_DIR=small, RESTORATION_SPOOL_DIR=spool, **FAST_FAIL),
    )
    assert out.returncode != 90, out.stderr
    run_log = (tmp_path / "run.log").read_text()
    assert "exit 3" in run_log and "INCOMPLETE:" in run_log, run_log[-3000:]  # said so, exited non-zero
    assert "full" in run_log.lower()
    assert "record recovered" in (tmp_path / "recover.log").read_text(), (tmp_path / "recover.log").read_text()
    final = (tmp_path / "final.log").read_text()
    assert final.split() == ["COMPLETED", "12", "6"], final


# ----------------------------------------------------------------------------------------------------------
# PostgreSQL: concurrent starts and a connection dropped mid-run, against a real server
# ----------------------------------------------------------------------------------------------------------


def _fresh_pg_database(postgres, name: str) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres.url.replace("/postgres?", f"/{name}?")


def test_postgresql_runs_started_together_all_complete(postgres, script):
    url = _fresh_pg_database(postgres, "together")
    procs = [start(script, "steps=3", f"tag=p{i}", SACRED_DB_URL=url) for i in range(4)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(o[-1500:] for o in outs)
    recs = tracking.runs("figfault", url=url)
    assert sorted(int(r.id) for r in recs) == [1, 2, 3, 4]
    assert all(r.status == "COMPLETED" and len(r.artifact_names) == 3 for r in recs)


def test_postgresql_connection_dropped_mid_run_loses_nothing(postgres, script):
    import sqlalchemy as sa

    url = _fresh_pg_database(postgres, "dropped")
    proc = start(script, "steps=8", "pause=0.4", SACRED_DB_URL=url)
    wait_for(proc, "step 2")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:  # what a server restart or a network blip does to the run's connection
        killed = c.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 'dropped' AND pid <> pg_backend_pid()"
            )
        ).all()
    admin.dispose()
    out = proc.communicate(timeout=120)[0]
    assert killed and proc.returncode == 0, out[-3000:]
    rec = tracking.latest_run("figfault", url=url)
    assert rec.status == "COMPLETED" and rec.artifact_names == [f"a{i}.json" for i in range(8)]
    assert len(rec.metrics()["loss"][0]) == 8
