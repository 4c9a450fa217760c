"""Shared fixtures: every test writes runs into its own temporary database, never into runs/."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _isolated_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("SACRED_DB_URL", raising=False)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def hed_vgg16():
    from restoration import nets

    return nets.vgg16("hed")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (tests/pg.py); its URL is ``postgres.url``."""
    import shutil
    import tempfile
    from pathlib import Path

    from pg import Server

    folder = Path(tempfile.mkdtemp(prefix="restoration-pg-", dir="/tmp"))  # the server's user must reach it
    folder.chmod(0o755)
    server = Server(folder)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
