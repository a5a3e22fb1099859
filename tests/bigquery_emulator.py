"""A local BigQuery emulator for the tests: ``local-bigquery`` on 127.0.0.1, reached through
the real ``google-cloud-bigquery`` client with anonymous credentials.

local-bigquery runs in a virtualenv of its own on CPython 3.13 (pinned whole in
``.ci/bigquery-requirements.txt``): ``.ci/run`` makes ``.venv-bigquery`` in the repository;
``LIGHTNING_BIGQUERY_PYTHON`` names another interpreter. Before its first start the DuckDB
extensions it loads are installed from their PyPI wheels into the server's private ``HOME``:
otherwise it tries to download them, and after that failure it stays broken.

The emulator checks behaviour, not dialect: it runs on DuckDB and accepts SQL that real
BigQuery refuses (``hash()``, ``CAST(.. AS VARCHAR)``, a standalone ``CREATE TEMP TABLE``),
and its ``TO_JSON_STRING`` writes timestamps differently. The BigQuery SQL itself is checked by
the golden files (tests/golden/bigquery) and the function allow-list test
(tests/test_bigquery_functions.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON_ENV = "LIGHTNING_BIGQUERY_PYTHON"
REQUIREMENTS = REPO / ".ci" / "bigquery-requirements.txt"
EXTENSIONS = ("icu", "ducklake", "spatial")
DUCKDB_VERSION = "1.5.5"
PROJECT = "lightning-test"
RESET_PATH = "/lightning-test/reset"  # the route tests/bigquery_emulator_server.py adds
HOW_TO_ENABLE = (
    "the BigQuery tests need local-bigquery in its own CPython 3.13 virtualenv: run .ci/run, or "
    "`python3.13 -m venv .venv-bigquery && .venv-bigquery/bin/pip install -r "
    ".ci/bigquery-requirements.txt` and `pip install -e '.[bigquery]'` (or set "
    "LIGHTNING_BIGQUERY_PYTHON)"
)


def emulator_python() -> Path | None:
    """The emulator virtualenv's interpreter, or None when it is not installed."""
    candidate = Path(os.environ.get(PYTHON_ENV) or REPO / ".venv-bigquery" / "bin" / "python")
    if not candidate.exists():
        return None
    probe = subprocess.run(
        [str(candidate), "-c", "import local_bigquery, duckdb_extension_icu"],
        capture_output=True,
        timeout=60,
    )
    return candidate if probe.returncode == 0 else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Installs each extension from its wheel into the DuckDB extension folder of $HOME.
_INSTALL_EXTENSIONS = """
import importlib, pathlib, sys, duckdb
con = duckdb.connect()
for name in sys.argv[1:]:
    package = importlib.import_module(f"duckdb_extension_{name}")
    folder = pathlib.Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    con.execute(f"INSTALL '{folder / (name + '.duckdb_extension')}'")
"""


SERVER_SCRIPT = Path(__file__).with_name("bigquery_emulator_server.py")


class LocalBigQuery:
    """local-bigquery's server in a child process, for one test session."""

    def __init__(self, python: Path, work_dir: Path):
        self.python = python
        self.port = _free_port()
        self.grpc_port = _free_port()
        self.home = work_dir / "home"
        self.data = work_dir / "data"
        self.log = work_dir / "local-bigquery.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._extensions_installed = False

    @property
    def endpoint(self) -> str:
        """The REST endpoint the client is pointed at."""
        return f"http://127.0.0.1:{self.port}"

    def _environment(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TZ")
        return {k: os.environ[k] for k in keep if k in os.environ} | {"HOME": str(self.home)}

    def start(self) -> str:
        """Install the extensions offline, start the server, wait until it answers; returns
        its endpoint."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        if not self._extensions_installed:
            subprocess.run(
                [str(self.python), "-c", _INSTALL_EXTENSIONS, *EXTENSIONS],
                env=self._environment(),
                check=True,
                capture_output=True,
                timeout=120,
            )
            self._extensions_installed = True
        command = [str(self.python), str(SERVER_SCRIPT), "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--grpc-port", str(self.grpc_port)]
        command += ["--project", PROJECT, "--data-dir", str(self.data)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                start_new_session=True,  # a signal to the test process group is not for it
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"local-bigquery exited: {self.log.read_text()[-2000:]}")
            if self._answers():
                return self.endpoint
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"local-bigquery did not start in 90 s: {self.log.read_text()[-2000:]}")

    def fresh(self) -> str:
        """An empty server: returns its endpoint.

        The emulator keeps every project, table and query result in one DuckDB catalog, and
        its catalog lookups scan all of it: with the projects and results of earlier tests
        left in place a job takes seconds instead of about 50 ms. So each test gets it empty:
        emptied in place (``POST /lightning-test/reset``, see
        ``tests/bigquery_emulator_server.py``; under a second), or restarted (about four
        seconds of CPU) when it is not running or the reset is refused (a job still runs).
        """
        if self.process is not None and self.process.poll() is None and self._reset():
            return self.endpoint
        return self.restart()

    def _reset(self) -> bool:
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}{RESET_PATH}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - 127.0.0.1
                return bool(response.status == 200)
        except OSError:  # refused (409) or not answering: restarted instead
            return False

    def restart(self) -> str:
        """A freshly started, empty server (new port, new data): returns its endpoint."""
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        self.port = _free_port()
        self.grpc_port = _free_port()
        return self.start()

    def _answers(self) -> bool:
        import urllib.request

        url = f"{self.endpoint}/bigquery/v2/projects/{PROJECT}/datasets"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - 127.0.0.1
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def client(endpoint: str, project: str = PROJECT) -> Any:
    """A real ``bigquery.Client`` on the emulator (anonymous: no credentials are looked for)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=endpoint),
    )
