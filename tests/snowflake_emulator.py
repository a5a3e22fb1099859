"""A local Snowflake emulator for the tests: fakesnow's server on 127.0.0.1, reached through
the real ``snowflake-connector-python``.

fakesnow runs in a virtualenv of its own (it pins its own sqlglot and duckdb): ``.ci/run``
makes ``.venv-fakesnow`` in the repository; ``LIGHTNING_FAKESNOW_PYTHON`` names another
interpreter. The emulator checks behaviour, not dialect: it accepts DuckDB-only SQL and
resolves quoted names case-insensitively, so the Snowflake SQL itself is checked by the golden
files (tests/golden/snowflake) and the identifier-case test (tests/test_identifier_case.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON_ENV = "LIGHTNING_FAKESNOW_PYTHON"
FAKESNOW_VERSION = "0.12.1"
HOW_TO_ENABLE = (
    "the Snowflake tests need fakesnow in its own virtualenv: run .ci/run, or "
    "`python3 -m venv .venv-fakesnow && .venv-fakesnow/bin/pip install "
    f"'fakesnow[server]=={FAKESNOW_VERSION}' 'snowflake-connector-python<5'` and "
    "`pip install -e '.[snowflake]'` (or set LIGHTNING_FAKESNOW_PYTHON)"
)
# Low connector timeouts: a failing request fails in seconds, not after minutes of retries.
CONNECT_SETTINGS: dict[str, Any] = {
    "account": "fakesnow",
    "user": "lightning",
    "password": "emulator",
    "host": "127.0.0.1",
    "protocol": "http",
    "login_timeout": 10,
    "network_timeout": 30,
    "socket_timeout": 30,
}


def emulator_python() -> Path | None:
    """The fakesnow virtualenv's interpreter, or None when it is not installed."""
    candidate = Path(os.environ.get(PYTHON_ENV) or REPO / ".venv-fakesnow" / "bin" / "python")
    if not candidate.exists():
        return None
    probe = subprocess.run(
        [str(candidate), "-c", "import fakesnow.server"], capture_output=True, timeout=60
    )
    return candidate if probe.returncode == 0 else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakesnowServer:
    """fakesnow's server in a child process, for one test session."""

    def __init__(self, python: Path, log_dir: Path):
        self.python = python
        self.port = _free_port()
        self.log = log_dir / "fakesnow.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        """Start the server and wait until it accepts connections; returns its port."""
        script = REPO / "tests" / "fakes" / "fakesnow_server.py"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(self.python), str(script), "-s", "-p", str(self.port), "--host", "127.0.0.1"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fakesnow exited: {self.log.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.port
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"fakesnow did not start in 60 s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server (it stops on SIGINT)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(2)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def connect(port: int, **extra: Any) -> Any:
    """A connector connection to the emulator (``qmark`` parameters, as the tests write them)."""
    import snowflake.connector

    settings = {**CONNECT_SETTINGS, "port": port, **extra}
    return snowflake.connector.connect(
        **settings,
        paramstyle="qmark",
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False, "TIMEZONE": "UTC"},
    )
