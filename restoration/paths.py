"""Where the project keeps what it makes: the runs folder (database, checkpoints, module store, spool, machine
probes), the report's output folder and the AlexNet weights. Pure Python; every layer may import it.

Run from a source checkout (``make ...``), everything lives in the checkout: ``<checkout>/runs``, ``out``,
``weights``. Installed as a package (``pip install .``), they live in the working directory: ``./runs``,
``./out``, ``./weights``. ``RESTORATION_RUNS_DIR`` and ``ALEXNET_WEIGHTS`` override either.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the folder holding the ``restoration`` package: the checkout, or ``site-packages`` when installed
REPO_ROOT = Path(__file__).resolve().parents[1]


def source_checkout() -> Path | None:
    """The source checkout this code runs from, or None when it is installed as a package."""
    markers = (REPO_ROOT / "pyproject.toml", REPO_ROOT / "experiments" / "registry.toml", REPO_ROOT / "templates")
    return REPO_ROOT if all(m.exists() for m in markers) else None


def experiments_dir() -> Path:
    """The folder of the experiment declarations (``registry.toml``): the checkout's ``experiments/``, or the
    installed package ``restoration_experiments`` (the folder's import name, see ``pyproject.toml``)."""
    return REPO_ROOT / ("experiments" if source_checkout() else "restoration_experiments")


def work_dir() -> Path:
    """Where results go by default: the checkout, or the working directory of an installed package."""
    return source_checkout() or Path.cwd()


def runs_dir() -> Path:
    """``$RESTORATION_RUNS_DIR`` or ``<work dir>/runs``: the SQLite database, checkpoints, module store and spool."""
    return Path(os.environ.get("RESTORATION_RUNS_DIR") or work_dir() / "runs").resolve()


def default_alexnet_path() -> Path:
    """``$ALEXNET_WEIGHTS`` or ``<work dir>/weights/bvlc_alexnet.npy`` (AlexNet's weights ship nowhere offline)."""
    env = os.environ.get("ALEXNET_WEIGHTS")
    return Path(env) if env else work_dir() / "weights" / "bvlc_alexnet.npy"


def missing_alexnet_weights() -> str | None:
    """The AlexNet weights path when no file is there (figures that need it are skipped, naming it), else None."""
    path = default_alexnet_path()
    return None if path.is_file() else str(path)
