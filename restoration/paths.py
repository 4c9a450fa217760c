"""Where the project keeps what it makes: the repository root and the runs folder (database, checkpoints, module
store, spool, machine probes). Pure Python; every layer may import it."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def runs_dir() -> Path:
    """``$RESTORATION_RUNS_DIR`` or ``<repo>/runs``: the SQLite database, checkpoints, module store and spool."""
    return Path(os.environ.get("RESTORATION_RUNS_DIR", REPO_ROOT / "runs")).resolve()
