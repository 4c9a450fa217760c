"""A real PostgreSQL server for tests, started in a temporary folder (initdb + pg_ctl, Debian's postgresql
package; CI installs it), listening on a Unix socket only. Skips with the reason when it cannot start."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


class Server:
    def __init__(self, folder: Path, port: int = 54329):
        self.folder, self.port = folder, port
        self.data, self.sock = folder / "data", folder / "sock"
        self.user = None if os.geteuid() != 0 else "postgres"  # initdb refuses to run as root

    def _run(self, *cmd, check=True):
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run([*prefix, *cmd], capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "Server":
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            pytest.skip(
                "PostgreSQL server binaries (initdb, pg_ctl) not found; `apt-get install postgresql` "
                "(make test does that where it can)"
            )
        if self.user:
            try:
                pwd.getpwnam(self.user)
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run the server as")
        self.sock.mkdir(parents=True)
        if self.user:
            shutil.chown(self.folder, self.user)
            shutil.chown(self.sock, self.user)
            os.chmod(self.folder, 0o755)
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        opts = f"-k {self.sock} -p {self.port} -c listen_addresses='' -c fsync=off"
        out = self._run(
            pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.folder / "log"), "-w", "start", check=False
        )
        if out.returncode != 0:
            pytest.skip(f"PostgreSQL did not start: {out.stderr.strip()[-300:]}")
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/postgres?host={self.sock}&port={self.port}"

    def stop(self):
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
