"""The on-disk spool: a run's record events that the database did not take yet, in order, with their files.

``<spool root>/<database key>/run-<id>/events.jsonl`` (``$RESTORATION_SPOOL_DIR``, default ``<runs_dir>/spool``)
holds one JSON record per line (heartbeat, metrics, artifact, resource, final status); files are copied beside
it under unique names, because the run deletes its own copies once the event returns. The spool belongs to one
database (the key is a hash of its URL) and one run id.

* **One writer at a time**: the run that owns a spool holds an exclusive ``flock`` on its ``LOCK`` file for its
  lifetime (the kernel releases it even on ``kill -9``); :func:`restoration.tracking.recover` skips a spool
  whose lock it cannot take, so a live run's spool is never drained behind its back.
* **Whole lines only**: a line is written with one ``write`` on an append-only descriptor and the file is cut
  back to its previous length if that fails (a full disk), so a half-written line never reaches the log;
  :meth:`events` ignores a trailing fragment anyway.
* **Consecutive heartbeats coalesce**: each carries the run's whole info and captured output, so a heartbeat
  directly after a spooled heartbeat replaces it instead of piling up during a long outage.

It is drained in order by the run's next event, by the next run that starts against the same database, or by
``python -m restoration runs --recover``; an entry disappears once every event in it is stored.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

from restoration.tracking.database import runs_dir


def spool_root() -> Path:
    """``$RESTORATION_SPOOL_DIR`` or ``<runs_dir>/spool`` (put it on another disk to survive a full one)."""
    return Path(os.environ.get("RESTORATION_SPOOL_DIR", runs_dir() / "spool")).resolve()


def _db_key(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()[:10]


def _cut_fragment(fd: int) -> int:
    """Cut a trailing partial line (a write killed half-way) off the log open at ``fd``; return its new size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    pos = size
    while pos > 0:
        chunk = os.pread(fd, min(65536, pos), max(pos - 65536, 0))
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            pos = max(pos - 65536, 0) + newline + 1
            break
        pos = max(pos - 65536, 0)
    os.ftruncate(fd, pos)
    return pos


def lock_wait_s() -> float:
    """How long a run waits for its spool's lock (``RESTORATION_SPOOL_LOCK_S``, default 60)."""
    return float(os.environ.get("RESTORATION_SPOOL_LOCK_S", 60))


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"


class Spool:
    """One run's spooled events (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.log = self.folder / "events.jsonl"
        self._lock_fd: int | None = None
        self._tail_heartbeat_at: int | None = None  # file offset of a trailing spooled heartbeat (owner only)

    @classmethod
    def for_run(cls, url: str, run_id: str) -> "Spool":
        return cls(spool_root() / _db_key(url) / f"run-{run_id}")

    @classmethod
    def all_for(cls, url: str) -> list["Spool"]:
        """Every non-empty spool of the database ``url`` on this machine."""
        base = spool_root() / _db_key(url)
        return [cls(p) for p in sorted(base.glob("run-*")) if cls(p).pending()] if base.is_dir() else []

    @property
    def run_id(self) -> str:
        return self.folder.name[len("run-") :]

    # ---- ownership ------------------------------------------------------------------------------------------
    def own(self, *, wait: bool = True) -> bool:
        """Take the spool's lock (the owning run does, for its lifetime). ``wait=False``: False at once when another
        holder has it. ``wait=True``: try for :func:`lock_wait_s` seconds, then raise
        :class:`~restoration.tracking.database.DatabaseLockedError` with one line naming the holder (the same run
        id started twice against one database, e.g. in one process, would otherwise block for ever)."""
        import time

        if self._lock_fd is not None:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + (lock_wait_s() if wait else 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    if not wait:
                        return False
                    from restoration.tracking.database import DatabaseLockedError

                    raise DatabaseLockedError(
                        f"the spool of run {self.run_id} ({self.folder}) is held by {holder} and stayed so for "
                        f"{lock_wait_s():.0f} s (RESTORATION_SPOOL_LOCK_S): the same run id is already running "
                        f"against this database; wait for it to end, or start a new run"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}".encode(), 0)  # who holds it, for messages
        self._lock_fd = fd
        return True

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---- reading ----------------------------------------------------------------------------------------------
    def _lines(self) -> list[str]:
        if not self.log.is_file():
            return []
        text = self.log.read_text()
        lines = text.split("\n")
        # a last line without its newline is a fragment of a write that failed: never an event
        return [line for line in lines[:-1] if line.strip()]

    def pending(self) -> int:
        """How many events wait."""
        return len(self._lines())

    def events(self) -> list[tuple[dict, dict]]:
        """``[(record, {key: path})]`` in order."""
        out = []
        for line in self._lines():
            entry = json.loads(line)
            out.append((entry["record"], {k: str(self.folder / v) for k, v in entry["files"].items()}))
        return out

    # ---- writing ----------------------------------------------------------------------------------------------
    def append(self, record: dict, files: dict | None = None) -> None:
        """Add one event at the end; ``files`` (``{key: path}``) are copied into the spool. Raises ``OSError``
        (nothing half-written is left behind) when the disk cannot take it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stored, copied = {}, []
        try:
            for key, path in (files or {}).items():
                target = self.folder / f"file-{uuid.uuid4().hex[:12]}-{Path(path).name}"
                shutil.copyfile(path, target)
                copied.append(target)
                stored[key] = target.name
            data = (json.dumps({"record": record, "files": stored}) + "\n").encode()
            fd = os.open(self.log, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = _cut_fragment(fd)
                start = size
                if (
                    record.get("event") == "heartbeat"
                    and self._tail_heartbeat_at is not None
                    and self._tail_heartbeat_at <= size
                ):
                    os.ftruncate(fd, self._tail_heartbeat_at)  # replace the spooled heartbeat it supersedes
                    start = self._tail_heartbeat_at
                try:
                    written = os.write(fd, data)
                    if written != len(data):
                        raise OSError(f"short write to {self.log} ({written} of {len(data)} bytes)")
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, start)
                    raise
            finally:
                os.close(fd)
            self._tail_heartbeat_at = start if record.get("event") == "heartbeat" else None
        except OSError:
            for p in copied:
                p.unlink(missing_ok=True)
            raise

    def pop_first(self) -> None:
        """Drop the oldest event (it was stored): the log is rewritten first, its files deleted after."""
        lines = self._lines()
        if not lines:
            return
        first = json.loads(lines[0])
        tmp = self.log.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text("".join(line + "\n" for line in lines[1:]))
        os.replace(tmp, self.log)
        self._tail_heartbeat_at = None
        for name in first["files"].values():
            (self.folder / name).unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the spool folder (only when nothing waits in it) and give up its lock."""
        if not self.pending():
            shutil.rmtree(self.folder, ignore_errors=True)
        self.release()
