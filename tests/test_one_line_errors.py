"""Every fault a researcher can act on is one clear line, and nothing wrong is shown as if it were right (issue 18,
parts 6-7). Real processes with real bad input: argv bytes that are not UTF-8, a number too large for any
database, a registry entry naming no module, a bad config value, another tool's database, a damaged artifact, an
empty registry."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fake_runs import BETTER, REGISTRY, WORSE, _populate

from restoration_reports import __main__ as report_cli
from restoration_reports import build
from restoration import tracking
from restoration.tracking import database

REPO = Path(__file__).resolve().parents[1]


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        capture_output=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )


def _one_line(proc, code: int, *needles: bytes) -> str:
    err = proc.stderr.decode(errors="replace")
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert proc.returncode == code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n.decode() in lines[0], lines[0]
    return lines[0]


def test_a_limit_larger_than_any_database_is_one_line():
    _one_line(_cli("restoration", "runs", "--limit", "99999999999999999999999"), 2, b"larger than any database")


def test_a_run_id_that_is_not_utf8_is_one_line():
    proc = subprocess.run(
        [sys.executable.encode(), b"-m", b"restoration", b"show", b"\x80"], cwd=REPO, capture_output=True, timeout=120
    )
    _one_line(proc, 2, b"is not a run id")


def test_a_registry_entry_whose_module_does_not_exist_is_one_line(tmp_path, monkeypatch, capsys):
    import restoration_experiments.__main__ as exp_main
    from restoration.contract import registry

    path = tmp_path / "registry.toml"
    path.write_text(
        '[figures.figx]\nmodule = "restoration_experiments.no_such_module"\ntitle = "X"\nsection = "S"\norder = 1\n'
    )
    monkeypatch.setattr(exp_main, "_registry", lambda: registry.load(path))
    assert exp_main.main(["figx", "with", "quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'restoration_experiments.no_such_module' cannot be imported" in err
    assert "[figures.figx]" in err


def test_a_bad_config_value_is_one_line_not_a_sacred_traceback(tmp_path):
    proc = _cli(
        "restoration_experiments", "fig06", "with", "quick", "crop=abc", env={"RESTORATION_RUNS_DIR": str(tmp_path)}
    )
    line = _one_line(proc, 1, b"crop='abc'", b"with crop=")
    assert "python -m restoration show" in line  # the whole trace is stored with the run


def test_another_tools_database_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    db = tmp_path / "theirs.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE run (id INTEGER PRIMARY KEY, owner TEXT)")
        c.execute("INSERT INTO run (owner) VALUES ('another tool')")
    monkeypatch.setenv("SACRED_DB_URL", f"sqlite:///{db}")
    ex = tracking.make_experiment("fig12_vgg16")

    @ex.main
    def main():
        return 0

    with pytest.raises(
        database.DatabaseError,
        match=r"has a table 'run' that is not a Sacred run table.*another "
        r"tool.*Nothing was written",
    ) as err:
        ex.run()
    assert "\n" not in str(err.value)
    with sqlite3.connect(db) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"run"} and c.execute("SELECT owner FROM run").fetchall() == [("another tool",)]


def test_a_damaged_artifact_is_said_not_embedded_as_a_broken_image(tmp_path, monkeypatch):
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    registry = tmp_path / "registry.toml"
    registry.write_text(REGISTRY)
    before = build.build(tmp_path / "out" / "before.html", registry=registry).read_text().count("<img ")
    with sqlite3.connect(tmp_path / "runs" / "sacred.sqlite") as c:
        hit = c.execute(
            "UPDATE artifact SET content = ? WHERE filename = 'fig06_rows.png'",
            (b"\x89PNG\r\n\x1a\n" + b"garbage" * 50,),
        ).rowcount
    assert hit == 1
    html = build.build(tmp_path / "out" / "report.html", registry=registry).read_text()
    assert "artifact <code>fig06_rows.png</code> of run" in html and "is not a readable image" in html
    assert html.count("<img ") == before - 1  # the damaged picture is not embedded


def test_an_empty_registry_is_one_line_and_exit_1(tmp_path, capsys):
    empty = tmp_path / "registry.toml"
    empty.write_text("")
    assert report_cli.main(["--registry", str(empty), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "declares no figures" in err
    assert not (tmp_path / "r.html").exists()


def test_reading_another_tools_database_says_so_in_one_line(tmp_path):
    db = tmp_path / "theirs.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE run (id INTEGER PRIMARY KEY, owner TEXT)")
    for args in (
        ("restoration", "runs"),
        ("restoration", "show", "1"),
        ("restoration_reports", "--out", str(tmp_path / "r.html")),
    ):
        proc = _cli(*args, env={"SACRED_DB_URL": f"sqlite:///{db}"})
        _one_line(proc, 2 if args[0] == "restoration" else 1, b"another tool's tables")
