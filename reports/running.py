"""Running the figures that have no completed run yet: ``python -m restoration_experiments <id> with quick`` per
figure, its output echoed as it comes (so long trainings show progress) and its last lines kept, so a crash before
Sacred records the run can still be reported. A timeout stops a child with SIGTERM first (the run is marked INTERRUPTED
and keeps its checkpoints), SIGKILL only if it does not stop."""

from __future__ import annotations

import collections
import io
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from restoration_reports.runs import RunSource
from restoration import paths
from restoration.contract.registry import FigureEntry

REPO = paths.work_dir()


@dataclass
class Attempt:
    fig_id: str
    returncode: int
    output_tail: str
    seconds: float


def _echo_stderr(line: str, progress: bool) -> None:
    """Indented child output on stderr; progress bars (lines ended by a carriage return) redraw in place."""
    sys.stderr.write("    " + line + ("\r" if progress else "\n"))
    sys.stderr.flush()


def _run_streaming(
    cmd: list[str], cwd: Path, timeout: float | None, echo: Callable[[str, bool], None] | None, keep: int = 40
) -> tuple[int, str]:
    """Run ``cmd``, echo its output as it comes (so long trainings show progress), keep the last lines.

    Carriage-return updates (tqdm bars) are echoed as progress and not kept, so the kept tail is the log.
    """
    tail: collections.deque[str] = collections.deque(maxlen=keep)
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def pump():
        stream = io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace", newline="")
        for raw in stream:
            progress = raw.endswith("\r")
            line = raw.rstrip("\r\n")
            if not progress:
                tail.append(line)
            if echo is not None and line:
                echo(line, progress)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # SIGTERM first: the experiment marks its run INTERRUPTED and keeps its checkpoints; SIGKILL only if it
        # does not stop (then the run shows as died, and `python -m restoration resume --dead` picks it up)
        proc.terminate()
        try:
            code = proc.wait(timeout=60)
            how = "stopped (SIGTERM; the run is marked INTERRUPTED and resumes from its checkpoints when re-run)"
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            how = "killed (SIGKILL after SIGTERM went unanswered for 60 s)"
        tail.append(
            f"TimeoutError: {how} after the --timeout of {timeout:g} s; raise --timeout or run the figure by hand"
        )
    reader.join(timeout=10)
    return code, "\n".join(tail)


def run_missing(
    entries: Sequence[FigureEntry],
    source: RunSource,
    *,
    python: str = sys.executable,
    cwd: Path = REPO,
    timeout: float | None = None,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
    echo: Callable[[str, bool], None] | None = _echo_stderr,
) -> dict[str, Attempt]:
    """Run ``python -m restoration_experiments <fig> with quick`` for each figure without a completed run.

    The experiment's output is echoed (indented) to stderr as it runs; its last lines are kept in the
    returned :class:`Attempt` so a crash before Sacred records the run can still be reported.
    """
    attempts: dict[str, Attempt] = {}
    for entry in entries:
        if source.latest_completed(entry.id) is not None:
            continue
        cmd = [python, "-m", "restoration_experiments", entry.id, "with", "quick"]
        log(f"[report] {entry.id}: no completed run; running python -m restoration_experiments {entry.id} with quick")
        start = time.monotonic()
        code, tail = _run_streaming(cmd, cwd, timeout, echo)
        seconds = time.monotonic() - start
        attempts[entry.id] = Attempt(entry.id, code, tail, seconds)
        log(f"[report] {entry.id}: {'completed' if code == 0 else f'FAILED (exit {code})'} after {seconds:.0f} s")
    return attempts
