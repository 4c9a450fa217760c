"""Checkpoint folders: one per experiment, config and attempt, held by one process at a time.

``<runs_dir>/checkpoints/<experiment>/<sha1 of the config>/attempt<N>/``. A run takes the newest attempt that is
neither finished (a ``COMPLETE`` marker) nor held by another live process (an exclusive ``flock`` on its
``LOCK`` file, released by the kernel when the holder exits, even by ``kill -9``). So:

* a killed run, re-run with the same config, resumes in the attempt it left (nobody holds it any more);
* a second run of the same config *while the first is still running* takes the next attempt and trains there,
  independently (with the module store, whichever of two identical separately trained modules is stored first
  is the one later runs reuse);
* a finished attempt is marked ``COMPLETE`` only once the run's record is safely in the database
  (:func:`restoration.tracking.complete_on_success`), so a run whose record was lost resumes from its last
  checkpoint instead of training again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from pathlib import Path

from restoration.tracking.database import runs_dir

_HELD: dict[Path, int] = {}  # attempt folder -> open file descriptor holding its lock (for the process lifetime)


def _try_lock(folder: Path) -> bool:
    folder = folder.resolve()
    if folder in _HELD:
        return True
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} since {dt.datetime.now().isoformat(timespec='seconds')}\n".encode())
    _HELD[folder] = fd
    return True


def checkpoint_dir(experiment_name: str, config: dict) -> Path:
    """The attempt folder this process trains in for ``experiment_name`` and ``config`` (see module docstring).

    Calling again in the same process returns the same folder. Give experiments a fixed ``seed`` in their
    config, or every run gets a new config hash.
    """
    text = json.dumps(config, sort_keys=True, default=str)
    base = runs_dir() / "checkpoints" / experiment_name / hashlib.sha1(text.encode()).hexdigest()[:12]
    base.mkdir(parents=True, exist_ok=True)
    (base / "config.json").write_text(text)
    n = 1
    while True:
        folder = base / f"attempt{n}"
        if not (folder / "COMPLETE").exists() and _try_lock(folder):
            if not (folder / "COMPLETE").exists():  # not finished between the look and the lock
                return folder.resolve()
            release(folder)
        n += 1


def mark_checkpoint_complete(path: str | os.PathLike) -> None:
    """Mark an attempt folder finished (later runs of the same config start a new attempt) and let it go."""
    folder = Path(path).resolve()
    (folder / "COMPLETE").write_text(dt.datetime.now().isoformat())
    release(folder)


def release(path: str | os.PathLike) -> None:
    """Give up this process's hold on an attempt folder (it stays resumable by the next run)."""
    fd = _HELD.pop(Path(path).resolve(), None)
    if fd is not None:
        os.close(fd)
