"""Progress output: tqdm in a terminal, a handful of plain lines in a log (restoration.optim.progress)."""

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from restoration.optim.progress import LogProgress, progress, progress_mode

ROOT = Path(__file__).resolve().parents[3]
LINE = re.compile(r"^(?P<desc>.+): +(?P<pct>\d+)% (?P<n>\d+)/(?P<total>\d+) \[[^\]]+ (it/s|s/it)\](?P<post>.*)$")


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def _no_forced_mode(monkeypatch):
    for k in ("RESTORATION_PROGRESS", "RESTORATION_PROGRESS_EVERY", "RESTORATION_PROGRESS_SECONDS"):
        monkeypatch.delenv(k, raising=False)


def _run(n, stream, **kw):
    bar = progress(range(n), desc="map pool1", stream=stream, **kw)
    for i in bar:
        if (i + 1) % 50 == 0:
            bar.set_postfix(loss=f"{1.0 / (i + 1):.4g}")
    return stream.getvalue()


def test_a_log_gets_one_line_per_ten_percent_and_the_final_one_has_the_postfix():
    out = _run(1000, io.StringIO())
    lines = out.splitlines()
    assert len(lines) == 10
    assert "\r" not in out and "\x1b" not in out
    parsed = [LINE.match(l) for l in lines]
    assert all(parsed), lines
    assert [int(m["pct"]) for m in parsed] == list(range(10, 101, 10))
    assert [int(m["n"]) for m in parsed] == list(range(100, 1001, 100))
    assert {m["desc"] for m in parsed} == {"map pool1"} and {int(m["total"]) for m in parsed} == {1000}
    assert lines[-1].startswith("map pool1: 100% 1000/1000 [")
    assert lines[-1].endswith(" loss=0.001")
    assert lines[0].endswith(" loss=0.01")  # the postfix set in step 100


def test_every_percent_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RESTORATION_PROGRESS_EVERY", "5")
    lines = _run(1000, io.StringIO()).splitlines()
    assert len(lines) == 20
    assert [int(LINE.match(l)["n"]) for l in lines] == list(range(50, 1001, 50))
    monkeypatch.setenv("RESTORATION_PROGRESS_EVERY", "30")  # 30, 60, 90 and the final 100
    assert [int(LINE.match(l)["pct"]) for l in _run(1000, io.StringIO()).splitlines()] == [30, 60, 90, 100]
    monkeypatch.setenv("RESTORATION_PROGRESS_EVERY", "nonsense")
    with pytest.warns(UserWarning, match="RESTORATION_PROGRESS_EVERY"):
        assert len(_run(1000, io.StringIO()).splitlines()) == 10


def test_manual_updates_resume_and_early_stop():
    s = io.StringIO()
    with progress(total=200, initial=100, desc="train", stream=s) as bar:  # resumed at 50 %
        assert isinstance(bar, LogProgress)
        for _ in range(50):
            bar.update(1)
        bar.set_postfix({"loss": 0.123456}, lr="1e-3")
    lines = s.getvalue().splitlines()
    # 150/200 = 75 %: lines at 60 % and 70 %, then the state at close (not a second 70 % bucket)
    assert [LINE.match(l)["n"] for l in lines] == ["120", "140", "150"]
    assert lines[-1].startswith("train:  75% 150/200 [") and lines[-1].endswith(" loss=0.1235, lr=1e-3")
    # update(n) jumping several buckets prints one line; reaching the total prints 100 % once, close adds nothing
    s = io.StringIO()
    bar = progress(total=10, desc="lbfgs inversion", stream=s)
    bar.update(7)
    bar.update(3)
    bar.close()
    bar.close()
    assert [LINE.match(l)["pct"] for l in s.getvalue().splitlines()] == ["70", "100"]
    # a loop left early still reports where it stopped (as tqdm, the item broken out of is not counted)
    s = io.StringIO()
    for i in progress(range(1000), desc="x", stream=s):
        if i == 149:
            break
    assert [LINE.match(l)["n"] for l in s.getvalue().splitlines()] == ["100", "149"]


def test_unknown_length_prints_by_time():
    t = [0.0]
    s = io.StringIO()
    bar = LogProgress(iter(range(100)), desc="sample", stream=s, seconds=30, clock=lambda: t[0])
    for _ in bar:
        t[0] += 1.0  # one second per item: a line at 30, 60 and 90 s, the last state at the end
    lines = s.getvalue().splitlines()
    assert lines == [
        "sample: 30 it [30.0 s, 1 it/s]",
        "sample: 60 it [1:00, 1 it/s]",
        "sample: 90 it [1:30, 1 it/s]",
        "sample: 100 it [1:40, 1 it/s]",
    ]


def test_forced_modes_and_the_terminal_choice(monkeypatch):
    assert progress_mode(io.StringIO()) == "log" and progress_mode(_Tty()) == "tqdm"
    assert progress_mode(_Tty(), enabled=False) == "off"
    from tqdm import tqdm as tqdm_base

    tty = _Tty()
    bar = progress(range(3), desc="bar", stream=tty)
    assert isinstance(bar, tqdm_base)
    list(bar)
    assert "\r" in tty.getvalue() and "3/3" in tty.getvalue()

    monkeypatch.setenv("RESTORATION_PROGRESS", "tqdm")
    s = io.StringIO()
    bar = progress(range(50), desc="forced", stream=s)
    assert isinstance(bar, tqdm_base)
    for _ in bar:
        bar.set_postfix(loss="0.5")
    out = s.getvalue()
    assert "\r" in out and "it/s" in out and "forced" in out and "50/50" in out and "loss=0.5" in out

    monkeypatch.setenv("RESTORATION_PROGRESS", "off")
    for stream in (io.StringIO(), _Tty()):
        bar = progress(range(1000), desc="silent", stream=stream)
        assert sum(1 for _ in bar) == 1000 and bar.n == 1000
        bar.set_postfix(loss=1.0)
        bar.close()
        assert stream.getvalue() == ""

    monkeypatch.setenv("RESTORATION_PROGRESS", "log")
    t = _Tty()
    assert _run(1000, t).count("\n") == 10 and "\r" not in t.getvalue()

    monkeypatch.delenv("RESTORATION_PROGRESS")
    s = io.StringIO()  # enabled=False: nothing, whatever the stream
    assert _run(1000, s, enabled=False) == "" and _run(10, _Tty(), enabled=False) == ""


_SCRIPT = textwrap.dedent("""
    import numpy as np
    from restoration.preimage import invert_layer, Reporting
    from restoration.nets import tiny_vgg

    net = tiny_vgg(seed=0, channels=(4, 8))
    img = np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    for opt, steps in (("adam", 200), ("lbfgs", 40)):
        res = invert_layer(net, img, "conv2_1", n_steps=steps, optimizer=opt)
        print(opt, res.n_steps, flush=True)
""")


def test_a_real_inversion_writes_a_few_plain_lines_to_a_pipe():
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTORATION_PROGRESS")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.split() == ["adam", "200", "lbfgs", "40"]
    err = p.stderr
    assert "\r" not in err and "\x1b[" not in err
    adam = [l for l in err.splitlines() if "adam inversion" in l]
    lbfgs = [l for l in err.splitlines() if "lbfgs inversion" in l]
    assert 5 <= len(adam) <= 12 and 1 <= len(lbfgs) <= 12, err[-3000:]
    assert [int(LINE.match(l)["n"]) for l in adam] == list(range(20, 201, 20))
    assert adam[-1].startswith("adam inversion: 100% 200/200 [") and re.search(r" loss=[-+.\deE]+$", adam[-1])
    assert LINE.match(lbfgs[-1])["total"] == "40" and " loss=" in lbfgs[-1]


def test_a_slow_loop_with_a_total_still_prints_after_the_quiet_limit(monkeypatch):
    import io

    from restoration.optim.progress import LogProgress

    monkeypatch.setenv("RESTORATION_PROGRESS_MAX_QUIET", "60")
    t = [0.0]
    out = io.StringIO()
    bar = LogProgress(total=1000, desc="slow", stream=out, clock=lambda: t[0])
    for _ in range(5):  # 0.5 %: below the first 10 % step
        t[0] += 20.0
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slow:   0% 3/1000")  # at 60 s, not at 20 or 40
