"""Shared fixtures: a project directory with a warehouse (DuckDB, a PostgreSQL database on a
throwaway server, a database on the session's Snowflake emulator, or the session's local Spark
server), and CLI runners.

Tests marked ``each_warehouse`` run once per warehouse; their SQL is written for DuckDB and
transpiled with sqlglot for PostgreSQL, Snowflake and Spark.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
import yaml
from typer.testing import CliRunner

from engine.cli import app
from engine.config import Project
from engine.project_file import load_project
from tests import bigquery_emulator, snowflake_emulator, spark_server
from tests.postgres_server import DSN_ENV, TempPostgres

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

    kind = "duckdb"

    def __init__(self, root: Path):
        self.root = root
        self.warehouse = root / "warehouse.duckdb"
        self.project_file = root / "lightning.yml"

    def source(self) -> dict[str, Any]:
        """The ``wh`` source of the projects this workspace writes."""
        return {"type": "duckdb", "path": "warehouse.duckdb"}

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
            "sources": {"wh": self.source()},
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
            self.insert_many("INSERT INTO users VALUES (?, ?, ?)", [list(r) for r in rows])

    def insert_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement with ``?`` placeholders for each row."""
        with duckdb.connect(str(self.warehouse)) as con:
            con.executemany(statement, rows)

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
        return self.records(
            "SELECT * FROM hightouch_audit.sync_runs WHERE sync_id = ? ORDER BY sync_run_id",
            [sync_id],
        )

    def records(self, statement: str, params: Any = None) -> list[dict[str, Any]]:
        """Rows of a query as dicts."""
        with duckdb.connect(str(self.warehouse)) as con:
            cursor = con.execute(statement, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class PostgresWorkspace(Workspace):
    """A workspace whose warehouse is a fresh database on the test PostgreSQL server.

    Statements are written for DuckDB (``?`` placeholders) and transpiled for PostgreSQL.
    """

    kind = "postgres"

    def __init__(self, root: Path, dsn: str):
        super().__init__(root)
        self.dsn = dsn

    def source(self) -> dict[str, Any]:
        return {"type": "postgres", "dsn": self.dsn}

    def _statements(self, statement: str) -> list[str]:
        out = []
        for tree in sqlglot.parse(statement, read="duckdb"):
            if tree is None:
                continue
            if isinstance(tree, sqlglot.exp.Create) and tree.args.get("replace"):
                # PostgreSQL has no CREATE OR REPLACE TABLE.
                target = tree.this.this if isinstance(tree.this, sqlglot.exp.Schema) else tree.this
                out.append(f"DROP TABLE IF EXISTS {target.sql('postgres')} CASCADE")
                tree.set("replace", False)
            out.append(tree.sql("postgres"))
        return out

    def _connect(self, **kw: Any) -> Any:
        """A connection that hands JSON over as text, as DuckDB does."""
        import psycopg
        from psycopg.types.string import TextLoader

        con = psycopg.connect(self.dsn, autocommit=True, **kw)
        for name in ("json", "jsonb"):
            con.adapters.register_loader(name, TextLoader)
        return con

    def sql(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        with self._connect() as con:
            for one in self._statements(statement):
                con.execute(one, params)

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        (one,) = self._statements(statement)
        with self._connect() as con:
            return list(con.execute(one, params).fetchall())

    def insert_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        (one,) = self._statements(statement)
        with self._connect() as con, con.cursor() as cursor:
            cursor.executemany(one, rows)

    def records(self, statement: str, params: Any = None) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        (one,) = self._statements(statement)
        with self._connect(row_factory=dict_row) as con:
            return list(con.execute(one, params).fetchall())


class SnowflakeWorkspace(Workspace):
    """A workspace whose warehouse is a fresh database on the session's Snowflake emulator.

    Statements are written for DuckDB (``?`` placeholders) and transpiled for Snowflake with
    every identifier quoted, so the tests' own tables keep their lower-case names.
    """

    kind = "snowflake"

    def __init__(self, root: Path, port: int, database: str):
        super().__init__(root)
        self.port = port
        self.database = database
        self._con: Any = None

    def source(self) -> dict[str, Any]:
        return {
            "type": "snowflake",
            **snowflake_emulator.CONNECT_SETTINGS,
            "port": self.port,
            "database": self.database,
            "schema": "PUBLIC",
        }

    def connection(self) -> Any:
        """One connector connection for the workspace's own statements."""
        if self._con is None:
            self._con = snowflake_emulator.connect(
                self.port, database=self.database, schema="PUBLIC"
            )
        return self._con

    def close(self) -> None:
        """Close the workspace's connection."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def _statements(self, statement: str) -> list[str]:
        """Snowflake SQL; a read of INFORMATION_SCHEMA is limited to the current database
        (the emulator's spans every database, Snowflake's does not)."""
        out = []
        for tree in sqlglot.parse(statement, read="duckdb"):
            if tree is None:
                continue
            source = tree.find(sqlglot.exp.Table)
            catalog = source is not None and source.db == "information_schema"
            if isinstance(tree, sqlglot.exp.Select) and catalog:
                column = "catalog_name" if source.name == "schemata" else "table_catalog"
                tree = tree.where(f"{column} = CURRENT_DATABASE()", dialect="snowflake")
            out.append(tree.sql("snowflake", identify=True))
        return out

    def sql(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        with self.connection().cursor() as cursor:
            for one in self._statements(statement):
                cursor.execute(one, params)

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        (one,) = self._statements(statement)
        with self.connection().cursor() as cursor:
            return list(cursor.execute(one, params).fetchall())

    def insert_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Snowflake binds no lists: a list is sent as JSON text through PARSE_JSON."""
        lists = {i for row in rows for i, v in enumerate(row) if isinstance(v, list | dict)}
        tree = sqlglot.parse_one(statement, read="duckdb")
        values = tree.find(sqlglot.exp.Values)
        if lists and values is not None:
            places = [
                sqlglot.exp.func("PARSE_JSON", p) if i in lists else p
                for i, p in enumerate(values.expressions[0].expressions)
            ]
            values.replace(sqlglot.exp.select(*places))
        one = tree.sql("snowflake", identify=True)
        encoded = [[json.dumps(v) if i in lists else v for i, v in enumerate(r)] for r in rows]
        with self.connection().cursor() as cursor:
            cursor.executemany(one, encoded)

    def records(self, statement: str, params: Any = None) -> list[dict[str, Any]]:
        (one,) = self._statements(statement)
        with self.connection().cursor() as cursor:
            cursor.execute(one, params)
            names = [d.name.lower() for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class BigQueryWorkspace(Workspace):
    """A workspace whose warehouse is a fresh project on the session's BigQuery emulator, its
    tables in the dataset ``lightning`` (the models' default dataset).

    Statements are written for DuckDB (``?`` placeholders) and transpiled for BigQuery; an
    unqualified table is in ``lightning``.
    """

    kind = "bigquery"
    dataset = "lightning"
    location = "US"

    def __init__(self, root: Path, endpoint: str, project_id: str):
        super().__init__(root)
        self.endpoint = endpoint
        self.project_id = project_id
        self._client: Any = None

    def source(self) -> dict[str, Any]:
        return {
            "type": "bigquery",
            "project": self.project_id,
            "location": self.location,
            "dataset": self.dataset,
            "api_endpoint": self.endpoint,
            "anonymous": True,
        }

    def client(self) -> Any:
        """One client for the workspace's own statements (its dataset made on first use)."""
        if self._client is None:
            from google.cloud import bigquery

            self._client = bigquery_emulator.client(self.endpoint, self.project_id)
            dataset = bigquery.Dataset(f"{self.project_id}.{self.dataset}")
            dataset.location = self.location
            self._client.create_dataset(dataset, exists_ok=True)
        return self._client

    def close(self) -> None:
        """Close the workspace's client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _statements(self, statement: str) -> list[str]:
        out = []
        for tree in sqlglot.parse(statement, read="duckdb"):
            if tree is None:
                continue
            # range(a, b) AS r(i): BigQuery names an UNNEST's value by the alias itself.
            for alias in tree.find_all(sqlglot.exp.TableAlias):
                columns = alias.args.get("columns") or []
                if len(columns) == 1:
                    alias.set("this", columns[0].copy())
                    alias.set("columns", None)
            # information_schema of the whole location, not of the default dataset.
            for source in tree.find_all(sqlglot.exp.Table):
                if source.db.lower() == "information_schema" and not source.catalog:
                    source.set("catalog", sqlglot.exp.to_identifier(f"region-{self.location}"))
                    source.set("db", sqlglot.exp.to_identifier("INFORMATION_SCHEMA"))
            # BigQuery requires a WHERE clause on every UPDATE and DELETE.
            if isinstance(tree, sqlglot.exp.Update | sqlglot.exp.Delete) and not tree.args.get(
                "where"
            ):
                tree.set("where", sqlglot.exp.Where(this=sqlglot.exp.true()))
            out.append(tree.sql("bigquery"))
        return out

    def _run(self, sql: str, params: Any) -> Any:
        from google.cloud import bigquery

        from dialects.bigquery_sql import positional_parameters, query_parameters

        config = bigquery.QueryJobConfig(default_dataset=f"{self.project_id}.{self.dataset}")
        if isinstance(params, dict):
            config.query_parameters = query_parameters(sql, params)
        elif params:
            config.query_parameters = positional_parameters(list(params))
        return self.client().query(sql, job_config=config, location=self.location).result()

    def sql(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        for one in self._statements(statement):
            self._run(one, params)

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) for row in self.records(statement, params)]

    def insert_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """All rows in one statement: each ``VALUES`` tuple repeated, one parameter each."""
        if not rows:
            return
        tree = sqlglot.parse_one(statement, read="duckdb")
        values = tree.find(sqlglot.exp.Values)
        assert values is not None, statement
        template = values.expressions[0]
        values.set("expressions", [template.copy() for _ in rows])
        (one,) = [tree.sql("bigquery")]
        self._run(one, [v for row in rows for v in row])

    def records(self, statement: str, params: Any = None) -> list[dict[str, Any]]:
        """Rows as dicts; a JSON value as its text, as DuckDB hands it over."""
        (one,) = self._statements(statement)
        rows = self._run(one, params)
        texts = {f.name for f in rows.schema or [] if f.field_type == "JSON"}
        return [
            {k: json.dumps(v) if k in texts and v is not None else v for k, v in row.items()}
            for row in rows
        ]


EACH_WAREHOUSE = ["duckdb", "postgres", "snowflake", "spark"]
# e.g. duckdb,postgres,spark: the warehouses every ``each_warehouse`` test runs on.
WAREHOUSES_ENV = "LIGHTNING_TEST_WAREHOUSES"
# A warehouse test costs 5-30 s on local Spark (each statement is a Spark job). Under CI=true
# (or with LIGHTNING_TEST_WAREHOUSES naming spark) every warehouse test runs on Spark; a local
# run without either runs this subset, which proves the Databricks dialect's SQL quickly: the
# core run, delta and modes, bad input, locks, the mapping kinds, and one scenario per fault
# class, with the kill and the dropped connection right after the changelog insert (without
# transactions, the sync-log rows of a run that never committed are deleted by the next run).
SPARK_BY_DEFAULT = frozenset(
    {
        "test_run_basics.py::test_first_run_sends_every_row_then_only_the_delta[spark]",
        "test_run_basics.py::test_unmapped_column_change_is_not_a_change[spark]",
        "test_semantics.py::test_upsert_sends_added_and_changed_only[spark]",
        "test_semantics.py::test_insert_sends_only_new_keys[spark]",
        "test_semantics.py::test_update_sends_every_row_as_an_update[spark]",
        "test_semantics.py::test_mirror_delete_behaviors[spark-delete-removal0]",
        "test_semantics.py::test_all_sends_every_row_every_run[spark]",
        "test_semantics.py::test_failures_are_retried_until_they_succeed[spark]",
        "test_semantics.py::test_reset_cdc_sends_nothing_and_sets_the_baseline[spark]",
        "test_semantics.py::test_lock_held_by_a_live_run_refuses_a_second_run[spark]",
        "test_semantics.py::test_abandoned_lock_is_taken_over[spark-dead pid]",
        "test_bad_input.py::test_model_that_fails_in_the_warehouse[spark]",
        "test_bad_input.py::test_duplicate_keys_fail_the_run[spark]",
        "test_bad_input.py::test_null_keys_are_dropped_and_counted[spark]",
        "test_bad_input.py::test_token_revoked_mid_run[spark]",
        "test_fault_matrix.py::test_sigkill[spark-after_diff]",
        "test_fault_matrix.py::test_sigkill[spark-after_changelog]",
        "test_mappings_run.py::test_every_kind_to_http_and_cdc_reads_only_what_mappings_read[spark]",
        "test_mappings_run.py::test_a_template_not_reading_a_column_ignores_it[spark]",
        "test_mappings_run.py::test_kinds_to_the_file_destination_and_row_failures_in_the_sync_logs[spark]",
        "test_mappings_run.py::test_a_template_naming_a_missing_column_is_refused[spark]",
        "test_http_templates.py::test_per_trigger_templates_reach_the_wire_encoded[spark]",
        "test_http_templates.py::test_match_column_null_or_shared_fails_those_rows[spark]",
        "test_fault_matrix.py::test_warehouse_connection_dropped[spark-after_changelog]",
        "test_fault_matrix.py::test_sigterm_sigint[spark-mid_delivery-SIGTERM]",
        "test_fault_matrix.py::test_destination_resets_connections[spark-body-3]",
        "test_fault_matrix.py::test_model_reverted_after_a_killed_run[spark-mid_delivery]",
        "test_changed_fields.py::test_a_changed_row_sends_only_its_changed_fields[spark]",
        "test_changed_fields.py::test_a_failed_changed_row_is_retried_with_every_field[spark]",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``each_warehouse`` run once per warehouse (their ``ws`` differs): those of
    ``EACH_WAREHOUSE``, or of the module's own ``EACH_WAREHOUSE`` (a module running chosen
    tests on one warehouse), or of ``LIGHTNING_TEST_WAREHOUSES``; but those of the module's
    ``NOT_ON_WAREHOUSES``."""
    if metafunc.definition.get_closest_marker("each_warehouse") and "ws" in metafunc.fixturenames:
        warehouses = getattr(metafunc.module, "EACH_WAREHOUSE", None)
        if warehouses is None and os.environ.get(WAREHOUSES_ENV):
            warehouses = os.environ[WAREHOUSES_ENV].split(",")
        # A module's NOT_ON_WAREHOUSES (warehouse -> why) are left out when collected.
        not_on = getattr(metafunc.module, "NOT_ON_WAREHOUSES", {})
        chosen = [w for w in (warehouses or EACH_WAREHOUSE) if w not in not_on]
        metafunc.parametrize("warehouse", chosen, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On Spark, the tests that need what Spark lacks are not run (``CANNOT_RUN`` in
    tests/spark_workspace.py says why for each; ``ON_SPARK_ELSEWHERE``: run by another module);
    outside CI and without ``LIGHTNING_TEST_WAREHOUSES``, Spark runs ``SPARK_BY_DEFAULT``."""
    from tests.spark_workspace import CANNOT_RUN, ON_SPARK_ELSEWHERE

    every_test = bool(os.environ.get(WAREHOUSES_ENV) or os.environ.get("CI") == "true")
    kept, left_out = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        warehouse = callspec.params.get("warehouse") if callspec is not None else None
        if _not_on_slow_stand_in(item, warehouse):
            left_out.append(item)
            continue
        on_spark = warehouse == "spark"
        name = f"{item.path.name}::{item.name}"
        original = getattr(item, "originalname", item.name)
        cannot_run = (
            original in CANNOT_RUN
            or item.name in CANNOT_RUN
            or item.path.name in ON_SPARK_ELSEWHERE
        )
        chosen = every_test or name in SPARK_BY_DEFAULT
        (left_out if on_spark and (cannot_run or not chosen) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def _not_on_slow_stand_in(item: pytest.Item, warehouse: str | None) -> bool:
    """Whether the test's module leaves this case out on a slow stand-in (its
    ``NOT_ON_SLOW_STAND_INS``: (test, case id without the warehouse) for ``SLOW_STAND_INS``)."""
    module = inspect.getmodule(getattr(item, "function", None))
    if warehouse not in getattr(module, "SLOW_STAND_INS", ()):
        return False
    case = item.name.partition("[")[2].rstrip("]").removeprefix(f"{warehouse}-")
    original = getattr(item, "originalname", item.name)
    return (original, case) in getattr(module, "NOT_ON_SLOW_STAND_INS", ())


@pytest.fixture
def warehouse(request: pytest.FixtureRequest) -> str:
    """The warehouse of ``ws``: DuckDB unless the test is marked ``each_warehouse``."""
    return str(getattr(request, "param", "duckdb"))


@pytest.fixture
def ws(request: pytest.FixtureRequest, tmp_path: Path, warehouse: str) -> Workspace:
    """A fresh workspace per test."""
    if warehouse == "postgres":
        return request.getfixturevalue("pg_ws")  # type: ignore[no-any-return]
    if warehouse == "snowflake":
        return request.getfixturevalue("sf_ws")  # type: ignore[no-any-return]
    if warehouse == "spark":
        return request.getfixturevalue("spark_ws")  # type: ignore[no-any-return]
    if warehouse == "bigquery":
        return request.getfixturevalue("bq_ws")  # type: ignore[no-any-return]
    return Workspace(tmp_path)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A PostgreSQL server for the session: ``LIGHTNING_TEST_POSTGRES_DSN``, or our own."""
    if os.environ.get(DSN_ENV):
        yield os.environ[DSN_ENV]
        return
    server = TempPostgres()
    try:
        yield server.start()
    finally:
        server.stop()


_DATABASES = iter(range(1, 1_000_000))


@contextmanager
def postgres_workspace(root: Path, server_dsn: str) -> Iterator[PostgresWorkspace]:
    """A workspace on a fresh database of the server (dropped afterwards)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"lightning_test_{os.getpid()}_{next(_DATABASES)}"
    with psycopg.connect(server_dsn, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PostgresWorkspace(root, make_conninfo(server_dsn, dbname=name))
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_ws(tmp_path: Path, postgres_dsn: str) -> Iterator[PostgresWorkspace]:
    """A workspace on a fresh PostgreSQL database."""
    with postgres_workspace(tmp_path, postgres_dsn) as workspace:
        yield workspace


@pytest.fixture(scope="session")
def snowflake_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The session's Snowflake emulator (fakesnow's server on 127.0.0.1). Skipped, saying how
    to enable it, when fakesnow or the connector is not installed; under CI=true never."""
    python = snowflake_emulator.emulator_python()
    try:
        import snowflake.connector  # noqa: F401
    except ImportError:
        python = None
    if python is None:
        message = snowflake_emulator.HOW_TO_ENABLE
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the Snowflake emulator is missing: {message}")
        pytest.skip(message)
    server = snowflake_emulator.FakesnowServer(python, tmp_path_factory.mktemp("fakesnow"))
    try:
        yield server.start()
    finally:
        server.stop()


@contextmanager
def snowflake_workspace(root: Path, port: int) -> Iterator[SnowflakeWorkspace]:
    """A workspace on a fresh database of the Snowflake emulator (dropped afterwards)."""
    name = f"LIGHTNING_TEST_{os.getpid()}_{next(_DATABASES)}"
    admin = snowflake_emulator.connect(port)
    try:
        admin.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {name}")  # a retried request
        workspace = SnowflakeWorkspace(root, port, name)
        try:
            yield workspace
        finally:
            workspace.close()
            with suppress(Exception):  # the emulator cannot drop databases: they die with it
                admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        admin.close()


@pytest.fixture(scope="session")
def bigquery_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[bigquery_emulator.LocalBigQuery]:
    """The session's BigQuery emulator (local-bigquery on 127.0.0.1), emptied for each
    workspace. Skipped, saying how to enable it, when the emulator or the client is not
    installed; under CI=true never."""
    python = bigquery_emulator.emulator_python()
    try:
        from google.cloud import bigquery  # noqa: F401
    except ImportError:
        python = None
    if python is None:
        message = bigquery_emulator.HOW_TO_ENABLE
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the BigQuery emulator is missing: {message}")
        pytest.skip(message)
    server = bigquery_emulator.LocalBigQuery(python, tmp_path_factory.mktemp("local-bigquery"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bq_ws(
    tmp_path: Path, bigquery_server: bigquery_emulator.LocalBigQuery
) -> Iterator[BigQueryWorkspace]:
    """A workspace on an empty BigQuery emulator (see ``LocalBigQuery.fresh``)."""
    workspace = BigQueryWorkspace(
        tmp_path, bigquery_server.fresh(), f"lightning-test-{os.getpid()}-{next(_DATABASES)}"
    )
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture
def sf_ws(tmp_path: Path, snowflake_port: int) -> Iterator[SnowflakeWorkspace]:
    """A workspace on a fresh database of the Snowflake emulator."""
    with snowflake_workspace(tmp_path, snowflake_port) as workspace:
        yield workspace


@pytest.fixture(scope="session")
def spark_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's Spark Connect server (local Spark on 127.0.0.1). Skipped, saying how to
    enable it, when pyspark's Connect client or Java is missing; under CI=true never."""
    if os.environ.get(spark_server.REMOTE_ENV):
        yield os.environ[spark_server.REMOTE_ENV]
        return
    reason = spark_server.missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and Spark is missing: {reason}")
        pytest.skip(reason)
    server = spark_server.SparkConnectServer(tmp_path_factory.mktemp("spark"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def spark_ws(request: pytest.FixtureRequest, tmp_path: Path, spark_url: str) -> Iterator[Workspace]:
    """A workspace on the session's Spark server (its schemas and tables dropped after)."""
    from tests.spark_workspace import SparkWorkspace

    workspace = SparkWorkspace(tmp_path, spark_url)
    try:
        yield workspace
    finally:
        workspace.close()
