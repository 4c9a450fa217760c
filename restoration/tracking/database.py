"""Where the run database is and how to reach it: URL checks, engines, and errors a researcher can act on.

Every run lands in one SQL database: SQLite at ``<runs_dir>/sacred.sqlite`` by default (a real database file, no
server), or whatever ``SACRED_DB_URL`` names (PostgreSQL with the ``postgres`` extra). Writers use SQLite's WAL
journal and a busy timeout; readers need no write access: a database file (or folder) that cannot be written
is opened read-only, so ``runs`` and the report work on a read-only copy or file system.

Every failure to reach the database ends in :class:`DatabaseError` with one line that names the file or the
variable and says what to do.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from restoration.paths import REPO_ROOT, runs_dir  # noqa: F401  (re-exported: tracking.runs_dir)


def busy_timeout_s() -> float:
    """How long one SQLite statement waits for another writer's lock (``RESTORATION_SQLITE_BUSY_S``, default 30);
    the observer retries beyond that (``RESTORATION_DB_RETRY_S``)."""
    return float(os.environ.get("RESTORATION_SQLITE_BUSY_S", 30))


_DRIVER_HINTS = {
    "postgresql": "`.venv/bin/pip install -e '.[postgres]'` (psycopg 3; use a postgresql+psycopg:// URL)",
    "mysql": "a MySQL driver, e.g. `.venv/bin/pip install pymysql` with a mysql+pymysql:// URL (MySQL is not "
    "tested here; PostgreSQL and SQLite are)",
}


class DatabaseError(RuntimeError):
    """The run database cannot be used as asked; the message names the file or variable and the fix."""


class DatabaseLockedError(DatabaseError):
    """The run database stayed locked past the time the caller was willing to wait."""


def db_url() -> str:
    """``$SACRED_DB_URL`` or ``sqlite:///<runs_dir>/sacred.sqlite``."""
    return os.environ.get("SACRED_DB_URL") or f"sqlite:///{runs_dir() / 'sacred.sqlite'}"


_SECRET = re.compile(r"(?P<head>\b[A-Za-z][\w+.-]*://[^:/@\s]*):(?P<secret>[^@\s]*)@")


def mask_secrets(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (``user:***@host``), whether or not the
    URL parses; for every message, page, log and file that could show a database URL."""
    return _SECRET.sub(lambda m: f"{m.group('head')}:***@", str(text))


def describe(url: str) -> str:
    """The database for messages: the SQLite file, or the URL without its password."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    try:
        import sqlalchemy as sa

        return mask_secrets(sa.engine.make_url(url).render_as_string(hide_password=True))
    except Exception:  # noqa: BLE001 - a URL that does not parse is shown as given, less its password
        return mask_secrets(url)


def sqlite_path(url: str) -> Path | None:
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def _source(url: str) -> str:
    return "SACRED_DB_URL" if os.environ.get("SACRED_DB_URL") == url else "the run database"


def check_url(url: str):
    """Parse ``url`` (a SQLAlchemy URL); raise :class:`DatabaseError` naming the variable when it does not parse."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url)
    except Exception as e:  # noqa: BLE001 - ArgumentError, ValueError: all mean "not a URL"
        raise DatabaseError(
            mask_secrets(
                f"{_source(url)}={url!r} is not a database URL ({e}). Use e.g. postgresql+psycopg://user:pw@host/db "
                f"or sqlite:////absolute/path/sacred.sqlite, or unset SACRED_DB_URL for runs/sacred.sqlite"
            )
        ) from e


def _sqlite_state(path: Path) -> tuple[bool, bool]:
    """``(exists, writable)`` of an SQLite database file, checking what a writer needs (file and folder)."""
    if path.is_dir():
        raise DatabaseError(
            f"the run database {path} is a folder, not an SQLite file; remove or rename it, or "
            f"point RESTORATION_RUNS_DIR / SACRED_DB_URL elsewhere"
        )
    folder = path.parent
    if path.exists():
        writable = os.access(path, os.W_OK) and os.access(folder, os.W_OK)  # WAL needs -wal/-shm beside it
        return True, writable
    return False, (folder.exists() and os.access(folder, os.W_OK)) or (not folder.exists() and _creatable(folder))


def _creatable(folder: Path) -> bool:
    p = folder
    while not p.exists():
        p = p.parent
    return os.access(p, os.W_OK)


_ENGINES: dict[tuple[str, bool], Any] = {}


def _snapshot(path: Path, wal: Path) -> Path:
    """A private copy of a database and its -wal file, for reading a live database in a folder one cannot write."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="restoration-db-snapshot-"))
    shutil.copyfile(path, folder / path.name)
    shutil.copyfile(wal, folder / wal.name)
    return folder / path.name


def engine(url: str | None = None, *, write: bool = True):
    """A cached SQLAlchemy engine for ``url`` (default :func:`db_url`).

    ``write=True``: for recording runs; an SQLite file gets WAL and a busy timeout, its folder is created, and a
    file that cannot be written raises :class:`DatabaseError` naming it. ``write=False``: for reading; an
    SQLite file that cannot be written is opened read-only (``mode=ro``) and nothing is created.
    """
    # Kept linear on purpose: one branch per database kind (a SQLite file with its read/write checks, or a server).
    import sqlalchemy as sa

    url = url or db_url()
    key = (url, write)
    if key in _ENGINES:
        return _ENGINES[key]
    parsed = check_url(url)
    path = sqlite_path(url)
    if path is not None:
        exists, writable = _sqlite_state(path)
        if write and not writable:
            raise DatabaseError(
                f"the run database {path} cannot be written (read-only file, folder or file "
                f"system); make it writable, or set RESTORATION_RUNS_DIR to a writable folder"
            )
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
            busy = busy_timeout_s()
            eng = sa.create_engine(url, connect_args={"timeout": busy, "check_same_thread": False})

            @sa.event.listens_for(eng, "connect")
            def _pragmas(dbapi_conn, _record):  # readers (make report) never block a running experiment
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.close()
        else:
            source, query = path, "mode=rw" if writable else "mode=ro"
            if not writable and not os.access(path.parent, os.W_OK):
                # a folder that cannot be written cannot hold WAL's -shm file: read the file as immutable, or, when
                # committed rows still sit in its -wal file (which immutable would ignore), a private snapshot
                wal = path.with_name(path.name + "-wal")
                if wal.is_file() and wal.stat().st_size > 0:
                    source, query = _snapshot(path, wal), "mode=ro"
                else:
                    query = "mode=ro&immutable=1"

            def connect():
                return sqlite3.connect(
                    f"file:{source}?{query}", uri=True, timeout=busy_timeout_s(), check_same_thread=False
                )

            eng = sa.create_engine("sqlite://", creator=connect)
    else:
        try:
            eng = sa.create_engine(parsed, pool_pre_ping=True)
        except ModuleNotFoundError as e:
            hint = _DRIVER_HINTS.get(parsed.get_backend_name(), "its Python driver")
            raise DatabaseError(
                f"the run database {describe(url)} ({_source(url)}) needs the Python driver "
                f"{e.name!r}, which is not installed; install {hint}, or unset SACRED_DB_URL to "
                f"use runs/sacred.sqlite"
            ) from e
    _ENGINES[key] = eng
    return eng


def exists(url: str | None = None) -> bool:
    """Whether there is a database to read (an SQLite file that exists, or any server URL)."""
    url = url or db_url()
    path = sqlite_path(url)
    if path is None:
        return True
    if path.is_dir():
        _sqlite_state(path)  # raises, naming the folder
    return path.exists()


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _disk_full(folder: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(folder).free < 256 * 1024
    except OSError:
        return False


def explain(url: str, err: BaseException) -> DatabaseError:
    """A :class:`DatabaseError` with one clear line for a driver error raised while using ``url``."""
    if isinstance(err, DatabaseError):
        return err
    path = sqlite_path(url)
    if path is not None and _disk_full(path.parent):
        return DatabaseError(
            f"the disk holding the run database {describe(url)} is full ({_first_line(err)}); free "
            f"some space and re-run: a run resumes from its last checkpoint"
        )
    text = str(getattr(err, "orig", None) or err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    where = describe(url)
    low = text.lower()
    if "no such table" in low or ("relation" in low and "does not exist" in low):
        return DatabaseError(
            f"the run database {where} is not one of this project's ({text}): it holds another "
            f"tool's tables; point SACRED_DB_URL / RESTORATION_RUNS_DIR at a database of its own"
        )
    if "file is not a database" in low or "malformed" in low:
        return DatabaseError(
            f"the run database {where} is not a readable SQLite database ({text}); move it aside "
            f"(runs are lost only if it held any) and re-run, or set SACRED_DB_URL"
        )
    if "readonly" in low or "read-only" in low or "attempt to write" in low:
        return DatabaseError(
            f"the run database {where} is read-only ({text}); make it writable or set "
            f"RESTORATION_RUNS_DIR to a writable folder"
        )
    if "unable to open" in low:
        return DatabaseError(
            f"the run database {where} cannot be opened ({text}); check that the path and its "
            f"folder exist and are accessible"
        )
    if "locked" in low or "busy" in low:
        return DatabaseLockedError(
            f"the run database {where} is locked ({text}): another process holds a write "
            f"lock; close it and re-run. For many parallel runs use PostgreSQL "
            f"(SACRED_DB_URL)"
        )
    if "could not connect" in low or "connection" in low or "timeout" in low:
        return DatabaseError(
            f"cannot reach the run database {where} ({text}); is the server up and the URL right ({_source(url)})?"
        )
    return DatabaseError(f"the run database {where} failed: {type(err).__name__}: {text}")


# Transient errors: what a writer waits out (within RESTORATION_DB_RETRY_S) rather than failing on.
TRANSIENT = (
    "locked",
    "busy",
    "disk i/o",
    "i/o error",
    "database or disk is full",
    "connection",
    "server closed",
    "terminating connection",
    "timeout",
    "could not connect",
    "ssl syscall",
)


def retry_budget_s() -> float:
    return float(os.environ.get("RESTORATION_DB_RETRY_S", 300))


def is_transient(err: BaseException) -> bool:
    text = f"{type(err).__name__} {err} {getattr(err, 'orig', '')}".lower()
    return any(t in text for t in TRANSIENT)
