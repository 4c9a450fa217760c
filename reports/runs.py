"""Where the report gets its runs: the latest completed run and the latest attempt of each figure.

:class:`TrackingSource` reads them through :mod:`restoration.tracking` (the Sacred database). Anything
with the same three methods can stand in for it (tests use a dict-backed fake), so the builder does not care
where runs are stored.

The newest attempt of each figure, whatever its state, comes from ``tracking.latest_run`` (its ``state`` tells a
running run from one whose process died), and a traceback from ``RunRecord.fail_trace``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from restoration.tracking.records import stored_section


class RunSource(Protocol):
    """What the builder needs from a run store."""

    def latest_completed(self, fig_id: str) -> Any | None: ...

    def latest(self, fig_id: str) -> Any | None: ...

    def fail_trace(self, record: Any) -> str: ...


def claim_candidates(source, fig_id: str) -> list:
    """The completed runs a claim may be judged on (figure runs and ``make claims`` replicates), newest first;
    a source without ``completed`` (a test's fake) gives its latest completed run."""
    if hasattr(source, "completed"):
        return list(source.completed(fig_id))
    rec = source.latest_completed(fig_id)
    return [rec] if rec is not None else []


class TrackingSource:
    """Runs from the Sacred database through :mod:`restoration.tracking`."""

    def __init__(self):
        from restoration import tracking  # imported late: it pulls in Sacred

        self.tracking = tracking

    def latest_completed(self, fig_id: str):
        return self.tracking.latest_completed_run(fig_id)

    def completed(self, fig_id: str):
        """Every completed run a claim may be judged on, newest first (:func:`restoration.tracking.claim_runs`)."""
        return self.tracking.claim_runs(fig_id)

    def latest(self, fig_id: str):
        """The newest attempt whatever its state (RUNNING, DIED, INCOMPLETE, INTERRUPTED, FAILED, COMPLETED)."""
        return self.tracking.latest_run(fig_id)

    def fail_trace(self, record) -> str:
        trace = getattr(record, "fail_trace", None)
        if isinstance(trace, (list, tuple)):
            trace = "\n".join(str(t) for t in trace)
        return trace or ""


# ----------------------------------------------------------------------------------------------------------
# Reading a run record
# ----------------------------------------------------------------------------------------------------------


def report_payload(record) -> dict | None:
    """The ``info["report"]`` payload of a run, or None when the run stored none."""
    return stored_section(getattr(record, "info", None), "report")


_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\w*)(?::\s?(?P<msg>.*))?$")


@dataclass(frozen=True)
class Failure:
    """Why a run failed: exception type, its message, and a one-line reader-facing summary."""

    exc_type: str
    message: str
    headline: str


def summarize_failure(trace: str) -> Failure:
    """Pick the final exception out of a traceback and say what the run needs.

    A missing-weights error (``WeightsNotFoundError`` or a message about weights) becomes
    "needs AlexNet weights: <message>" (the net is read from the message), anything else
    "failed with <Type>: <message>".
    """
    lines = [ln.rstrip() for ln in (trace or "").splitlines()]
    exc_type, message = "", ""
    for i in range(len(lines) - 1, -1, -1):
        m = _EXC_LINE.match(lines[i].strip())
        if m and not lines[i].startswith(" "):
            exc_type = m.group("type").rsplit(".", 1)[-1]
            rest = [m.group("msg") or ""] + [ln.strip() for ln in lines[i + 1 :] if ln.strip()]
            message = " ".join(p for p in rest if p).strip()
            break
    if not exc_type:
        tail = [ln.strip() for ln in lines if ln.strip()]
        message = tail[-1] if tail else "the run failed without a traceback"
        exc_type = "Error"
    low = (exc_type + " " + message).lower()
    if exc_type == "WeightsNotFoundError" or (
        "weights" in low and ("not found" in low or "no such file" in low or "missing" in low)
    ):
        net = "AlexNet" if "alexnet" in low else "VGG16" if "vgg" in low else ""
        headline = f"needs {net + ' ' if net else ''}weights: {message}"
    else:
        headline = f"failed with {exc_type}: {message}"
    return Failure(exc_type=exc_type, message=message, headline=headline)


def parse_pins(texts, pins_file: str | None = None) -> dict[str, str]:
    """``{figure id: run id}`` from ``--pin fig06=12`` arguments and a pins file (one ``fig06 = 12`` per line,
    ``#`` comments); a malformed entry is one ``ValueError`` line naming it and the form."""
    lines = [(f"--pin {t}", t) for t in texts or []]
    if pins_file:
        from pathlib import Path

        try:
            content = Path(pins_file).read_text()
        except OSError as e:
            raise ValueError(f"--pins {pins_file}: {e.strerror or e}; give a file of `fig06 = 12` lines") from None
        lines += [
            (f"{pins_file}:{n}", ln.split("#", 1)[0])
            for n, ln in enumerate(content.splitlines(), 1)
            if ln.split("#", 1)[0].strip()
        ]
    pins = {}
    for where, text in lines:
        fig, sep, run = (part.strip() for part in str(text).partition("="))
        if not sep or not fig or not run.isdigit():
            raise ValueError(f"{where}: {text.strip()!r} is not FIGURE=RUN_ID, e.g. fig06=12")
        pins[fig] = run
    return pins


class PinnedSource:
    """A run source whose figures in ``pins`` show the pinned run instead of their newest completed one; each
    pin is checked once: the run exists, is that figure's and completed."""

    def __init__(self, source, pins: dict[str, str], known: set[str]):
        self.source, self.pins, self.records = source, dict(pins), {}
        for fig, run_id in self.pins.items():
            if fig not in known:
                raise ValueError(f"--pin {fig}={run_id}: {fig!r} is not a registered figure")
            rec = source.tracking.get_run(run_id)  # KeyError: no such run, naming the database
            if rec.experiment != fig:
                raise ValueError(f"--pin {fig}={run_id}: run {run_id} is {rec.experiment}, not {fig}")
            if rec.state != "COMPLETED":
                raise ValueError(f"--pin {fig}={run_id}: run {run_id} is {rec.state.lower()}; pin a completed run")
            self.records[fig] = rec

    def latest_completed(self, fig_id: str):
        return self.records.get(fig_id) or self.source.latest_completed(fig_id)

    def __getattr__(self, name):  # latest, completed, fail_trace, tracking: the wrapped source's
        return getattr(self.source, name)
