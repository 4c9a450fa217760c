"""Nothing leaks and nothing is half-written (issue 18, parts 1-2): a database password never reaches a page, a
PDF, an error line or a log; every output file is written whole or not at all, on a full disk (a real 1 MB tmpfs),
a read-only folder, or a SIGTERM in the middle of the PDF (a real child process)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_runs import BETTER, REGISTRY, WORSE, _fake_experiment, _populate

from restoration_reports import __main__ as report_cli
from restoration_reports import build
from restoration import atomic
from restoration.tracking import database

REPO = Path(__file__).resolve().parents[1]
SECRET = "S3cr3tPa55"


@pytest.fixture
def registry(tmp_path):
    path = tmp_path / "registry.toml"
    path.write_text(REGISTRY)
    return path


def test_a_password_in_a_url_is_masked_wherever_it_could_show():
    url = f"postgresql+psycopg://user:{SECRET}@db.example/runs"
    assert database.mask_secrets(url) == "postgresql+psycopg://user:***@db.example/runs"
    assert SECRET not in database.describe(url)
    # a URL that does not parse used to be echoed whole, password included (repr in check_url)
    bad = f"postgresql+psycopg://user:{SECRET}@host:notaport/db"
    assert SECRET not in database.describe(bad)
    with pytest.raises(database.DatabaseError) as err:
        database.check_url(bad)
    assert SECRET not in str(err.value) and "user:***@host:notaport" in str(err.value)
    text = f"a: mysql://a:{SECRET}@h/d and b: redis://:{SECRET}@h/0, c: http://h/x@y"
    assert SECRET not in database.mask_secrets(text) and "http://h/x@y" in database.mask_secrets(text)


def test_the_report_html_and_pdf_never_show_the_database_password(tmp_path, monkeypatch, postgres, registry, capsys):
    """A real PostgreSQL server (trust authentication, so a password in the URL is accepted and ignored)."""
    url = postgres.url.replace("postgres@", f"postgres:{SECRET}@")
    monkeypatch.setenv("SACRED_DB_URL", url)
    tag = f"pw{os.getpid()}"  # the session's server is shared: this test's runs are told apart by experiment name
    (tmp_path / "reg.toml").write_text(REGISTRY.replace("fig05", f"fig05{tag}").replace("fig06", f"fig06{tag}"))
    _fake_experiment(f"fig05{tag}", WORSE).run()
    _fake_experiment(f"fig06{tag}", BETTER).run()
    out = tmp_path / "out" / "report.html"
    assert report_cli.main(["--registry", str(tmp_path / "reg.toml"), "--out", str(out), "--pdf"]) == 0
    html = out.read_text()
    assert SECRET not in html and "postgres:***@" in html  # the "Run database" line, masked
    from pypdf import PdfReader

    pdf_text = "\n".join(p.extract_text() for p in PdfReader(out.with_suffix(".pdf")).pages)
    assert SECRET not in pdf_text
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err


def test_an_unparsable_url_with_a_password_is_one_masked_line(tmp_path, monkeypatch, registry):
    monkeypatch.setenv("SACRED_DB_URL", f"postgresql+psycopg://user:{SECRET}@host:notaport/db")
    for cmd in (
        [sys.executable, "-m", "restoration_reports", "--registry", str(registry), "--out", str(tmp_path / "r.html")],
        [sys.executable, "-m", "restoration", "runs"],
    ):
        proc = subprocess.run(
            cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        )
        err = proc.stderr.strip()
        assert proc.returncode in (1, 2) and SECRET not in proc.stdout + err, (cmd, err)
        assert "user:***@host:notaport" in err and len(err.splitlines()) == 1, err


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MB tmpfs (needs root, as CI has); skips where it cannot be mounted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a 1 MB tmpfs here ({proc.stderr.strip()[:120]}); needs root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until about ``leave`` bytes are free."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(folder / "filler", "wb") as f:
        try:
            f.write(b"\0" * max(free - leave, 0))
        except OSError:
            pass


def test_a_full_disk_keeps_the_previous_report_and_says_one_line(tmp_path, monkeypatch, registry, tiny_disk, capsys):
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    out = tiny_disk / "report.html"
    out.write_text("<html>the previous report</html>")
    _fill(tiny_disk, leave=16 * 1024)  # the new report (embedded PNGs) needs far more than 16 KB
    assert report_cli.main(["--registry", str(registry), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err and "previous report is kept" in err, err
    assert out.read_text() == "<html>the previous report</html>"
    assert not list(tiny_disk.glob("*.partial")) and not list(tiny_disk.glob(".*.partial"))


def test_a_read_only_file_system_keeps_the_file_and_is_one_line(tmp_path, monkeypatch, registry, tiny_disk, capsys):
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    out = tiny_disk / "report.html"
    out.write_text("old")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    assert report_cli.main(["--registry", str(registry), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Read-only file system" in err, err
    assert out.read_text() == "old"
    with pytest.raises(OSError):
        atomic.write_text(out, "new")
    assert out.read_text() == "old"


def test_a_failure_inside_the_block_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.html"]
    atomic.write_text(target, "new")
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_sigterm_during_the_pdf_leaves_the_previous_pdf_and_no_partial(tmp_path, monkeypatch, registry):
    """A real child: ``python -m restoration_reports --pdf`` is sent SIGTERM while WeasyPrint lays the PDF out."""
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    pdf = out.with_suffix(".pdf")
    pdf.write_bytes(b"%PDF-previous")
    child = subprocess.Popen(
        [sys.executable, "-m", "restoration_reports", "--registry", str(registry), "--out", str(out), "--pdf"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    deadline = time.monotonic() + 120
    seen = False
    while time.monotonic() < deadline and child.poll() is None:
        if list(out.parent.glob(".report.pdf.*.partial")):
            seen = True
            child.send_signal(signal.SIGTERM)
            break
        time.sleep(0.005)
    code = child.wait(timeout=120)
    if not seen:
        pytest.fail(f"the PDF's temporary file was never seen (exit {code}): {child.stderr.read()[-500:]!r}")
    assert code == 128 + signal.SIGTERM
    assert pdf.read_bytes() == b"%PDF-previous"
    assert not [p.name for p in out.parent.iterdir() if p.name.endswith(".partial")]
    assert "<html" in out.read_text()[:200].lower()  # the HTML had been written whole before


def test_csv_export_is_whole_and_escapes_text_that_is_not_utf8(tmp_path):
    import pandas as pd

    from restoration.cli.runs import write_csv

    frame = pd.DataFrame({"run_id": [1, 2], "config.image_dir": ["/data/ok", "/data/\udc80bad"]})
    path = tmp_path / "runs.csv"
    path.write_text("previous")
    assert write_csv(frame, str(path), "--csv") == str(path)
    text = path.read_text()
    assert "/data/\\udc80bad" in text and text.count("\n") == 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_the_report_build_does_not_write_in_place(tmp_path, monkeypatch, registry):
    """The HTML goes through a temporary file: the old report is readable until the new one replaces it whole."""
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    out = tmp_path / "report.html"
    out.write_text("old")
    seen = {}
    real = atomic.replacing

    def spy(path):
        cm = real(path)

        class Wrapper:
            def __enter__(self):
                tmp = cm.__enter__()
                seen["tmp"], seen["old_during"] = tmp, Path(path).read_text() if Path(path).exists() else None
                return tmp

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Wrapper()

    monkeypatch.setattr(atomic, "replacing", spy)
    build.build(out, registry=registry)
    assert seen["old_during"] == "old" and seen["tmp"].parent == out.parent
    assert re.search(r"<html", out.read_text()) and not seen["tmp"].exists()


def test_a_disk_that_fills_during_a_run_ends_in_a_few_clear_lines(tmp_path):
    """A real run on a real 4 MB tmpfs that another process fills while the run trains: no traceback, no error
    from inside Sacred, one closing error line (it used to be 73 lines with an IndexError from Sacred)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here; needs root")
    try:
        args = [
            "with",
            "quick",
            "net=tiny_vgg",
            "crop=16",
            "batch_size=4",
            "eval_size=16",
            "log_every=1",
            "eval_every=50",
            "ckpt_every=20",
            "rows=2",
        ]
        env = {
            **os.environ,
            "RESTORATION_RUNS_DIR": str(disk),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "RESTORATION_DB_RETRY_S": "5",
            "RESTORATION_PROGRESS": "off",
        }
        first = subprocess.run(
            [sys.executable, "-m", "restoration_experiments", "fig12_vgg16", *args, "steps=4"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.returncode == 0, first.stderr[-2000:]
        child = subprocess.Popen(
            [sys.executable, "-m", "restoration_experiments", "fig12_vgg16", *args, "steps=400", "seed=7"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = []
        for line in child.stdout:  # wait until the run has started, then fill the disk under it
            lines.append(line)
            if "Started run" in line:
                break
        time.sleep(3)
        _fill(disk, leave=4096)
        lines += child.stdout.readlines()
        code = child.wait(timeout=300)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    text = "".join(lines)
    said = [ln for ln in text.splitlines() if not ln.startswith(("I0000", "E0000", "WARNING: All log"))]
    assert code == 1 and "Traceback" not in text and "IndexError" not in text, text[-3000:]
    assert len(said) <= 10, said
    assert said[-1].startswith("error: ") and "space" in said[-1], said
