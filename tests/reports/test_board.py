"""The TensorBoard view of the run database (reports/board.py): event files per run, incremental and live, and a
real TensorBoard read by a real headless Chromium (Debian's package, driven by Selenium)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_runs import BETTER, WORSE, _populate

from restoration_reports import board
from restoration import tracking

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _events(folder: Path) -> dict[str, list]:
    """``{tag: [(step, value or bytes), ...]}`` of every event file in ``folder``, read back with TensorBoard's
    own loader."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out: dict[str, list] = {}
    for f in sorted(folder.glob("events.out.tfevents.*"), key=lambda f: (f.stat().st_mtime_ns, f.name)):
        for e in EventFileLoader(str(f)).Load():
            for v in e.summary.value:
                out.setdefault(v.tag, []).append((e.step, v))
    return out


def _number(value) -> float:
    """A scalar summary value as TensorBoard's loader hands it back (legacy ``simple_value`` upgraded to a
    tensor)."""
    from tensorboard.util import tensor_util

    return float(tensor_util.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value


@pytest.fixture
def db(tmp_path, monkeypatch):
    _populate(tmp_path / "runs", monkeypatch, fig05=WORSE, fig06=BETTER)
    return tmp_path


def _insert_running(url: str, run_id: str, rows: list[tuple[str, int, float]]) -> None:
    """Turn run ``run_id`` back into a live RUNNING row (heartbeat now) and append metric rows, as a run in
    progress does."""
    import sqlalchemy as sa

    eng = tracking.engine(url, write=True)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with eng.begin() as c:
        c.execute(
            sa.text("UPDATE run SET status = 'RUNNING', stop_time = NULL, heartbeat = :h WHERE run_id = :r"),
            dict(h=now, r=run_id),
        )
        for name, step, value in rows:
            c.execute(
                sa.text("INSERT INTO metric (run_id, name, step, value, timestamp) VALUES (:r, :n, :s, :v, :t)"),
                dict(r=run_id, n=name, s=step, v=value, t=now),
            )


def test_every_run_gets_its_scalars_images_texts_and_hparams_and_a_second_pass_writes_nothing(db):
    out = db / "board"
    counts = board.write(out)
    recs = {r.experiment: r for r in tracking.select()}
    assert counts.runs == 3 and counts.hparams == 3 and counts.images == 3  # fig01 failed before its figures
    fig06 = _events(out / board.folder_name(recs["fig06"]))
    assert [s for s, _ in fig06["train/loss"]] == [0, 1, 2, 3, 4]
    assert _number(fig06["train/loss"][-1][1]) == pytest.approx(2.0)
    assert _number(fig06["measure/psnr_mean"][0][1]) == pytest.approx(BETTER["psnr_mean"])
    assert "artifacts/fig06_rows.png" in fig06 and "_hparams_/session_start_info" in fig06
    start = fig06["_hparams_/session_start_info"][0][1].metadata.plugin_data.content
    assert b"psnr" not in start and b"fig06" in start and b"COMPLETED" in start
    failed = _events(out / board.folder_name(recs["fig01"]))
    state = failed["state"][0][1].tensor.string_val[0].decode()
    assert state.startswith("**FAILED**") and "bvlc_alexnet" in state
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    end = plugin_data_pb2.HParamsPluginData.FromString(
        failed["_hparams_/session_end_info"][0][1].metadata.plugin_data.content
    ).session_end_info
    assert end.status == api_pb2.STATUS_FAILURE
    again = board.write(out)
    assert (again.points, again.images, again.texts, again.hparams) == (0, 0, 0, 0)
    assert list(out.glob("events.out.tfevents.*.experiment"))  # the HParams columns


def test_a_running_run_grows_and_a_died_one_says_so(db):
    out = db / "board"
    board.write(out)
    rec = next(r for r in tracking.select() if r.experiment == "fig05")
    _insert_running(tracking.db_url(), rec.id, [("train/loss", 100, 0.5), ("train/loss", 101, 0.25)])
    counts = board.write(out)
    assert counts.points == 2 and counts.images == 0 and counts.texts == 3  # state: running
    tags = _events(out / board.folder_name(rec))
    assert [s for s, _ in tags["train/loss"]][-2:] == [100, 101]
    assert tags["state"][-1][1].tensor.string_val[0].decode().startswith("**RUNNING**")
    os.environ["RESTORATION_STALE_S"] = "0"
    try:
        died = board.write(out)
    finally:
        del os.environ["RESTORATION_STALE_S"]
    tags = _events(out / board.folder_name(rec))
    assert died.points == 0 and died.hparams == 1
    assert tags["state"][-1][1].tensor.string_val[0].decode().startswith("**DIED**: died: no heartbeat since")


def test_follow_keeps_writing_while_a_run_logs(db):
    out = db / "board"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "restoration_reports.board",
            "--out",
            str(out),
            "--no-serve",
            "--follow",
            "--interval",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(8)
        rec = next(r for r in tracking.select() if r.experiment == "fig06")
        _insert_running(tracking.db_url(), rec.id, [("train/loss", 500, 0.125)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            steps = [s for s, _ in _events(out / board.folder_name(rec)).get("train/loss", [])]
            if 500 in steps:
                break
            time.sleep(0.5)
        assert 500 in steps
    finally:
        proc.terminate()
        proc.wait(30)


def test_hparams_group_the_replicates_of_a_sweep_point_and_keep_other_runs_apart():
    class Rec:
        def __init__(self, id, sweep):
            self.id, self.experiment, self.sweep, self.config = id, "fig06", sweep, {"precision": "auto"}

    a = Rec("4", {"name": "claims", "point": {"seed": 1}, "settings": "x"})
    b = Rec("5", {"name": "claims", "point": {"seed": 2}, "settings": "y"})
    c = Rec("6", None)
    assert board.group_of(a) == board.group_of(b) != board.group_of(c) == "run 6"


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (`make test` installs them as root with apt)",
)
def test_tensorboard_in_a_real_browser_shows_the_hparams_table_a_scalar_series_and_an_image(db):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    out = db / "board"
    board.write(out)
    port = board.free_port(6123)
    tb = board.serve(out, port)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    driver = None
    try:
        assert board.wait_until_up(port, tb), (out / "tensorboard.log").read_text()[-2000:]
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        base = f"http://127.0.0.1:{port}/"
        fig06 = next(r for r in tracking.select() if r.experiment == "fig06")

        def until(script, what):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                value = driver.execute_script(script)
                if value:
                    return value
                time.sleep(1)
            driver.save_screenshot(str(db / "failed.png"))
            pytest.fail(f"TensorBoard never showed {what}")

        driver.get(base + "#hparams")
        text = until(DEEP_TEXT_IF.replace("WANT", f"run {fig06.id}"), "the HParams table")
        assert "measure/psnr_mean" in text and "20.25" in text and "18.5" in text  # both runs' measures
        # SVG lines (headless Chromium has no WebGL); the tag filter puts the card on screen (cards off it are
        # not drawn)
        driver.get(base + f"?forceSVG=true&runFilter={board.folder_name(fig06)}&tagFilter=train%2Floss#timeseries")
        until(SERIES_DRAWN.replace("TAG", "train/loss"), "the scalar series 'train/loss' drawn")
        driver.get(base + f"?runFilter={board.folder_name(fig06)}&tagFilter=artifacts#timeseries")
        size = until(IMAGE_SHOWN, "an artifact image")
        assert size[0] > 0 and size[1] > 0
    finally:
        if driver is not None:
            driver.quit()
        tb.terminate()
        tb.wait(30)


# the page's text through every shadow root (the HParams dashboard is Polymer), when it holds WANT
DEEP_TEXT_IF = """
function deep(n) { let t = ''; if (n.shadowRoot) t += deep(n.shadowRoot);
  for (const c of n.childNodes) t += c.nodeType === 3 ? c.textContent + ' ' : deep(c); return t; }
const text = deep(document.body); return text.includes('WANT') ? text : null;"""
# a scalar card titled TAG whose SVG line has more than a handful of points
SERIES_DRAWN = """
const card = [...document.querySelectorAll('scalar-card')].find(c => c.innerText.replace(/\\s+/g, '') === 'TAG'
  || c.innerText.replace(/\\s+/g, '').startsWith('TAGAlt'));
if (!card) return null;
const points = [...card.querySelectorAll('line-chart svg path')]
  .map(p => (p.getAttribute('d') || '').split(/[LM]/).length);
return Math.max(0, ...points) > 3;"""
# an image card's picture, loaded: its natural size
IMAGE_SHOWN = """
const img = [...document.querySelectorAll('image-card img')].find(i => i.complete && i.naturalWidth > 0);
return img ? [img.naturalWidth, img.naturalHeight] : null;"""
