"""Progress for long loops that reads well both in a terminal and in a log.

:func:`progress` returns something with the parts of tqdm's API the library uses (iterate over it, ``update(n)``,
``set_postfix``, ``set_postfix_str``, ``set_description``, ``close()``, ``with``):

* a **terminal** (the stream's ``isatty()``, or a Jupyter kernel): ``tqdm.auto.tqdm``, as before;
* anything else (CI, ``make report > log``, Sacred's captured output): a :class:`LogProgress`, which writes one
  plain line each time another ``every`` percent is done, and the final state when the loop ends, e.g.
  ``map conv2/lin:  40% 400/1000 [12.3 s, 32.5 it/s] loss=0.0123``. Without a known total it writes a line
  every few seconds instead (``adam inversion: 1234 it [30.0 s, 41.1 it/s]``);
* ``enabled=False``: nothing at all.

Environment: ``RESTORATION_PROGRESS=tqdm|log|off`` forces a mode (``auto``, the default, picks as above);
``RESTORATION_PROGRESS_EVERY`` the percent step of the log lines (default 10); ``RESTORATION_PROGRESS_SECONDS``
the interval for loops of unknown length (default 30). tqdm is imported only when a bar is made.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings

__all__ = ["progress", "progress_mode", "LogProgress"]

MODES = ("tqdm", "log", "off")


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        warnings.warn(f"{name}={raw!r} is not a positive number; using {default:g}", stacklevel=3)
        return default
    return value


def _interactive(stream) -> bool:
    if stream.__class__.__module__.split(".")[0] == "ipykernel":  # a notebook: tqdm.auto draws a widget
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def progress_mode(stream=None, enabled: bool = True) -> str:
    """``"tqdm"``, ``"log"`` or ``"off"``: what :func:`progress` would make for ``stream`` (default stderr)."""
    if not enabled:
        return "off"
    forced = os.environ.get("RESTORATION_PROGRESS", "").strip().lower()
    if forced in MODES:
        return forced
    if forced not in ("", "auto"):
        warnings.warn(
            f"RESTORATION_PROGRESS={forced!r}: expected one of tqdm, log, off, auto; using auto", stacklevel=3
        )
    return "tqdm" if _interactive(sys.stderr if stream is None else stream) else "log"


def progress(
    iterable=None,
    *,
    total=None,
    initial: int = 0,
    desc: str = "",
    enabled: bool = True,
    leave: bool = True,
    stream=None,
    **tqdm_kwargs,
):
    """A progress bar over ``iterable`` (or updated by hand up to ``total``); see the module docstring.

    ``tqdm_kwargs`` (e.g. ``mininterval``) go to tqdm only; ``leave`` too (log lines always stay).
    """
    mode = progress_mode(stream, enabled)
    if mode == "tqdm":
        from tqdm.auto import tqdm

        if stream is not None:
            tqdm_kwargs["file"] = stream
        return tqdm(iterable, total=total, initial=initial, desc=desc, leave=leave, **tqdm_kwargs)
    if mode == "log":
        return LogProgress(iterable, total=total, initial=initial, desc=desc, stream=stream)
    return _Quiet(iterable, total=total, initial=initial, desc=desc)


class _Quiet:
    """Counts and keeps the postfix like tqdm, shows nothing (``enabled=False`` / ``RESTORATION_PROGRESS=off``)."""

    def __init__(self, iterable=None, *, total=None, initial: int = 0, desc: str = ""):
        if total is None and iterable is not None:
            try:
                total = len(iterable)
            except (TypeError, AttributeError):
                total = None
        self.iterable, self.total, self.initial, self.n = iterable, total, initial, initial
        self.desc, self.postfix, self.closed = desc or "", "", False

    def __iter__(self):
        if self.iterable is None:
            raise TypeError(f"{type(self).__name__} was made without an iterable; use update()")
        try:
            for obj in self.iterable:
                yield obj
                self.update(1)
        finally:
            self.close()

    def __len__(self):
        return self.total if self.total is not None else len(self.iterable)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def update(self, n: int = 1) -> None:
        self.n += n
        self._changed()

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._finish()

    def _changed(self) -> None:
        pass

    def _finish(self) -> None:
        pass


def _duration(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class LogProgress(_Quiet):
    """One plain, flushed line per ``every`` percent done (and the final state on close); with no total, one line
    per ``seconds``. ``every`` / ``seconds`` default to ``RESTORATION_PROGRESS_EVERY`` (10) /
    ``RESTORATION_PROGRESS_SECONDS`` (30); a loop with a total that stays below the next step for
    ``RESTORATION_PROGRESS_MAX_QUIET`` seconds (300) prints a line anyway; ``clock`` is for tests."""

    def __init__(
        self,
        iterable=None,
        *,
        total=None,
        initial: int = 0,
        desc: str = "",
        stream=None,
        every: float | None = None,
        seconds: float | None = None,
        clock=time.perf_counter,
    ):
        super().__init__(iterable, total=total, initial=initial, desc=desc)
        self.stream = sys.stderr if stream is None else stream
        self.every = float(every) if every is not None else _env_number("RESTORATION_PROGRESS_EVERY", 10.0)
        self.seconds = float(seconds) if seconds is not None else _env_number("RESTORATION_PROGRESS_SECONDS", 30.0)
        # a slow loop with a total still says it is alive: a line after this many quiet seconds
        self.max_quiet = _env_number("RESTORATION_PROGRESS_MAX_QUIET", 300.0)
        self.clock = clock
        self.start_t = self.last_t = clock()
        self.printed_n = initial  # the count shown by the last line (the start counts as shown)
        self.lines = 0
        self._bucket = self._bucket_of(initial)

    def _bucket_of(self, n: int) -> int:
        if not self.total or self.total <= 0:
            return 0
        return math.floor(n * 100.0 / (self.total * self.every) + 1e-9)

    def _changed(self) -> None:
        now = self.clock()
        if self.total:
            bucket = self._bucket_of(self.n)
            if bucket > self._bucket or (self.n >= self.total > self.printed_n):
                self._bucket = bucket
                self._emit(now)
            elif now - self.last_t >= self.max_quiet and self.n != self.printed_n:
                self._emit(now)
        elif now - self.last_t >= self.seconds:
            self._emit(now)

    def _finish(self) -> None:
        if self.n != self.printed_n:
            self._emit(self.clock())

    def format_line(self, now: float) -> str:
        elapsed = max(now - self.start_t, 0.0)
        done = self.n - self.initial
        if done <= 0 or elapsed <= 0:
            rate = "? it/s"
        else:
            per_s = done / elapsed
            rate = f"{per_s:.3g} it/s" if per_s >= 1 else f"{1 / per_s:.3g} s/it"
        if self.total:
            count = f"{int(100 * self.n / self.total):3d}% {self.n}/{self.total}"
        else:
            count = f"{self.n} it"
        head = f"{self.desc}: " if self.desc else ""
        tail = f" {self.postfix}" if self.postfix else ""
        return f"{head}{count} [{_duration(elapsed)}, {rate}]{tail}"

    def _emit(self, now: float) -> None:
        line = self.format_line(now)
        self.printed_n, self.last_t = self.n, now
        self.lines += 1
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (ValueError, OSError):  # the log went away (closed pipe / file): keep computing
            pass
