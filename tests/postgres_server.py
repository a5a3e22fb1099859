"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary directory.

Set ``LIGHTNING_TEST_POSTGRES_DSN`` to use a server of your own instead (each test gets a
fresh database on it). Otherwise the server binaries must be installed (Debian:
``apt-get install postgresql``); ``.ci/run`` installs them when missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

DSN_ENV = "LIGHTNING_TEST_POSTGRES_DSN"


class PostgresNotInstalled(RuntimeError):
    """No server binaries and no DSN: the message says how to fix it."""


def _bindir() -> Path:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for found in (shutil.which("initdb"), shutil.which("pg_ctl")):
        if found:
            candidates.append(str(Path(found).resolve().parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresNotInstalled(
        "The PostgreSQL tests need a server: install one (Debian/Ubuntu: apt-get install "
        f"postgresql) or set {DSN_ENV} to a server of yours (e.g. "
        "postgresql://postgres@127.0.0.1:5432/postgres)."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TempPostgres:
    """initdb + pg_ctl start on 127.0.0.1 at a free port; ``stop()`` removes everything.

    ``durable=False`` (the tests) turns off fsync and synchronous commit for speed; the
    benchmarks keep PostgreSQL's defaults, as a real server has them.
    """

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="lightning-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "postgres"
        # initdb refuses to run as root: run the server as the postgres system user then.
        self._as: list[str] = []
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")
            os.chmod(self.root, 0o777)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, text=True)

    def start(self) -> str:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c max_connections=200 -c shared_buffers=128MB"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
