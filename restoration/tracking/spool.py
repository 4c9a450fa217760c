"""The on-disk spool: a run's record events that the database did not take yet, in order, with their files.

``<spool root>/<database key>/run-<id>/events.jsonl`` (``$RESTORATION_SPOOL_DIR``, default ``<runs_dir>/spool``) holds one JSON record per line (heartbeat, metrics,
artifact, resource, final status); artifact files are copied beside it, because the run deletes its own copies
once the event returns. The spool belongs to one database (the key is a hash of its URL) and one run id.

It is drained in order by the run's next event, by the next run that starts against the same database, or by
``python -m restoration runs --recover`` (:func:`restoration.tracking.recover`); an entry disappears once
every event in it is stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from restoration.tracking.database import runs_dir


def spool_root() -> Path:
    """``$RESTORATION_SPOOL_DIR`` or ``<runs_dir>/spool`` (put it on another disk to survive a full one)."""
    return Path(os.environ.get("RESTORATION_SPOOL_DIR", runs_dir() / "spool")).resolve()


def _db_key(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()[:10]


class Spool:
    """One run's spooled events (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.log = self.folder / "events.jsonl"

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
        return self.folder.name[len("run-"):]

    def pending(self) -> int:
        """How many events wait."""
        if not self.log.is_file():
            return 0
        return sum(1 for line in self.log.read_text().splitlines() if line.strip())

    def append(self, record: dict, files: dict | None = None) -> None:
        """Add one event at the end; ``files`` (``{key: path}``) are copied into the spool."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stored = {}
        for key, path in (files or {}).items():
            n = len(list(self.folder.glob("file-*")))
            target = self.folder / f"file-{n:05d}-{Path(path).name}"
            shutil.copyfile(path, target)
            stored[key] = target.name
        line = json.dumps({"record": record, "files": stored}) + "\n"
        with open(self.log, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def events(self) -> list[tuple[dict, dict]]:
        """``[(record, {key: path})]`` in order."""
        out = []
        if not self.log.is_file():
            return out
        for line in self.log.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                out.append((entry["record"], {k: str(self.folder / v) for k, v in entry["files"].items()}))
        return out

    def pop_first(self) -> None:
        """Drop the oldest event (it was stored) and its files."""
        lines = [line for line in self.log.read_text().splitlines() if line.strip()]
        if not lines:
            return
        first = json.loads(lines[0])
        for name in first["files"].values():
            (self.folder / name).unlink(missing_ok=True)
        tmp = self.log.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in lines[1:]))
        os.replace(tmp, self.log)

    def remove(self) -> None:
        """Delete the spool folder (only when nothing waits in it)."""
        if self.folder.is_dir() and not self.pending():
            shutil.rmtree(self.folder, ignore_errors=True)
