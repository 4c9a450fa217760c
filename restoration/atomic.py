"""Files written whole or not at all.

Each output goes to a temporary file beside its target (``.<name>.<random>.partial``) and is renamed over the
target only when complete; a rename within one file system is atomic on POSIX. A failure (an exception, a full
disk) or a signal that the program turns into an exception (:func:`exit_on_sigterm`) leaves the previous file as
it was and removes the temporary one. Pure Python; every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write in full; on leaving the block it replaces ``path`` (created with the usual
    permissions), or, when the block raised, is removed and ``path`` stays as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make a report unreadable to others
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all (see the module docstring); returns ``path``."""
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` whole or not at all; returns ``path``."""
    return write_bytes(path, text.encode(encoding))


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit(143)`` in the main thread, so ``finally`` blocks (and :func:`replacing`)
    clean up before the process ends instead of leaving a half-written file."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, _frame):
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def why(error: OSError) -> str:
    """An ``OSError`` in a few words: ``No space left on device``, ``Permission denied``, ..."""
    return error.strerror or str(error) or type(error).__name__
