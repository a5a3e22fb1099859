"""Shared fixtures: a project directory with a DuckDB warehouse, and CLI runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from engine.cli import app
from engine.config import Project, load_project

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    """Exit code and output of one CLI call."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


class Workspace:
    """A temporary project: ``lightning.yml`` plus a DuckDB warehouse file beside it."""

    def __init__(self, root: Path):
        self.root = root
        self.warehouse = root / "warehouse.duckdb"
        self.project_file = root / "lightning.yml"

    # -- warehouse --------------------------------------------------------------------------
    def sql(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        """Run statements against the warehouse (a short-lived connection)."""
        with duckdb.connect(str(self.warehouse)) as con:
            con.execute(statement, params)

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of a query against the warehouse."""
        with duckdb.connect(str(self.warehouse)) as con:
            return con.execute(statement, params).fetchall()

    # -- project ----------------------------------------------------------------------------
    def write_project(self, config: dict[str, Any]) -> Path:
        """Write ``lightning.yml`` from a dict."""
        self.project_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return self.project_file

    def write_text(self, text: str) -> Path:
        """Write ``lightning.yml`` verbatim."""
        self.project_file.write_text(text, encoding="utf-8")
        return self.project_file

    def project(self) -> Project:
        """The loaded project."""
        return load_project(self.project_file)

    def simple_project(
        self,
        destination: dict[str, Any] | None = None,
        sync: dict[str, Any] | None = None,
        model: dict[str, Any] | None = None,
    ) -> Path:
        """A project with source ``wh``, model ``users``, destination ``dest``, sync ``s``."""
        config = {
            "sources": {"wh": {"type": "duckdb", "path": "warehouse.duckdb"}},
            "models": {
                "users": {"source": "wh", "primary_key": "id", "sql": "select * from users"}
                | (model or {})
            },
            "destinations": {"dest": destination or {"type": "file", "path": "out"}},
            "syncs": {
                "s": {
                    "model": "users",
                    "destination": "dest",
                    "mode": "upsert",
                    "mappings": [{"from": "email", "to": "email"}, {"from": "name", "to": "name"}],
                }
                | (sync or {})
            },
        }
        return self.write_project(config)

    def users(self, rows: Sequence[tuple[Any, str | None, str | None]]) -> None:
        """Replace the ``users`` table with (id, email, name) rows."""
        self.sql("CREATE OR REPLACE TABLE users (id BIGINT, email VARCHAR, name VARCHAR)")
        if rows:
            with duckdb.connect(str(self.warehouse)) as con:
                con.executemany("INSERT INTO users VALUES (?, ?, ?)", [list(r) for r in rows])

    # -- CLI --------------------------------------------------------------------------------
    def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        """Run the CLI in-process (fast) with this project."""
        runner = CliRunner()
        result = runner.invoke(
            app, [*args[:1], "--project", str(self.project_file), *args[1:]], env=env
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def cli_process(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> CliResult:
        """Run ``lightning-sync`` as a separate process (for signals and real exits)."""
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "engine.cli",
                *args[:1],
                "--project",
                str(self.project_file),
                *args[1:],
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    # -- sync logs --------------------------------------------------------------------------
    def changelog(self, sync_id: str = "s") -> list[tuple[Any, ...]]:
        """(sync_run_id, op_type, row_id, status, failure_reason) of a sync, in order."""
        return self.query(
            "SELECT sync_run_id, op_type, row_id, status, failure_reason "
            "FROM hightouch_audit.sync_changelog WHERE sync_id = ? "
            "ORDER BY sync_run_id, op_type, row_id",
            [sync_id],
        )

    def runs(self, sync_id: str = "s") -> list[dict[str, Any]]:
        """The sync's ``sync_runs`` rows as dicts, oldest first."""
        with duckdb.connect(str(self.warehouse)) as con:
            cursor = con.execute(
                "SELECT * FROM hightouch_audit.sync_runs WHERE sync_id = ? ORDER BY sync_run_id",
                [sync_id],
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace per test."""
    yield Workspace(tmp_path)
