"""The engine on Snowflake, through the real connector, on a local emulator (fakesnow).

Every ``each_warehouse`` test runs on Snowflake too (tests/conftest.py): runs, semantics,
locks, kills, the fault matrix, bad input, sync-log queries and the Contentstack destination.
This module holds what is Snowflake's own: names found unquoted in upper case, statements per
run, bulk loads, a kill before every statement, the stateful property test.

The emulator is the behaviour check, not the dialect check: fakesnow accepts DuckDB-only SQL
and resolves quoted names case-insensitively, so the Snowflake SQL itself is checked by the
golden files (tests/golden/snowflake) and by tests/test_identifier_case.py. Where fakesnow
differs from Snowflake in behaviour a test relies on (transactions of dead sessions, chunked
results, HASH, constraint errors, NUMBER widths), tests/fakes/fakesnow_server.py makes it
behave as Snowflake.

Snowflake types the payload property test (tests/test_payload_property.py) cannot exercise
on the emulator: structured ``ARRAY(type)``, ``OBJECT(...)`` and ``MAP`` (the emulator makes
them untyped JSON), ``GEOGRAPHY``, ``GEOMETRY``, ``VECTOR``, and a ``TIMESTAMP_TZ``'s own
offset (the emulator returns the instant in UTC). A decimal in a VARIANT with more digits
than a double holds is kept by the emulator as a double (DuckDB's JSON), so the test checks
such a value against what the emulator keeps, not against what Snowflake would keep.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from dialects.snowflake import SnowflakeDialect
from tests import snowflake_emulator
from tests.conftest import SnowflakeWorkspace, Workspace
from tests.killed_runs import assert_nothing_claimed_and_nothing_lost, delta_run_killed_at

EACH_WAREHOUSE = ["snowflake"]  # this module's each_warehouse tests are Snowflake's own
pytestmark = pytest.mark.each_warehouse


def _users(ws: Workspace, n: int) -> None:
    ws.sql(
        "CREATE OR REPLACE TABLE users AS SELECT i AS id, 'u' || i || '@x' AS email, "
        "'N' || i AS name FROM range(1, :n + 1) AS r(i)".replace(":n", str(n))
    )


def test_sync_logs_are_found_unquoted_in_upper_case(ws: Workspace) -> None:
    _users(ws, 3)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    assert sorted(ws.query("select row_id from hightouch_audit.sync_changelog")) == [
        ("1",),
        ("2",),
        ("3",),
    ]
    # Stored as Snowflake stores unquoted names (the emulator would also find lower case).
    names = ws.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('HIGHTOUCH_AUDIT', 'HIGHTOUCH_PLANNER') ORDER BY 1, 2"
    )
    assert ("HIGHTOUCH_AUDIT", "SYNC_CHANGELOG") in names
    assert ("HIGHTOUCH_PLANNER", "LIGHTNING_COMMITS") in names
    columns = ws.query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'HIGHTOUCH_AUDIT' AND table_name = 'SYNC_CHANGELOG'"
    )
    assert ("ROW_ID",) in columns and ("FIELDS",) in columns


def test_statements_per_run_do_not_grow_with_the_model(ws: Workspace) -> None:
    counts = {}
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    # The first run also creates the schemas; from the third on, a run (its cleanup
    # included) also drops the oldest committed pair.
    for rows in (10, 10, 10, 3000, 3000):
        _users(ws, rows)
        run = ws.cli("run", "s", "--json", "--full-resync")
        assert run.exit_code == 0, run.stderr
        assert run.json()["counts"]["succeeded"]["added"] == rows
        counts.setdefault(rows, []).append(run.json()["statements"])
    print(f"statements per run: {counts}")
    assert counts[10][2] == counts[3000][0] == counts[3000][1], counts
    assert counts[3000][0] < 50, counts


class _CountingSnowflake(SnowflakeDialect):
    def __init__(self, settings: dict[str, Any], project_dir: Path):
        super().__init__(settings, project_dir)
        self.sent: list[str] = []

    def _run(self, cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
        self.sent.append(sql)
        return super()._run(cursor, sql, params)


def test_rejections_are_bulk_loaded_in_two_statements(ws: Workspace) -> None:
    ws.sql(
        "CREATE TABLE rejections (row_id BIGINT, op_type VARCHAR, status VARCHAR, "
        "failure_reason VARCHAR, match_value VARCHAR)"
    )
    dialect = _CountingSnowflake(ws.source(), ws.root)
    dialect.connect()
    try:
        table = exp.Table(
            this=exp.to_identifier("rejections", quoted=True),
            db=exp.to_identifier("PUBLIC", quoted=True),
        )
        columns = ["row_id", "op_type", "status", "failure_reason", "match_value"]
        loaded = 0
        for rows in (10, 10_000):
            batch = [(i, "added", "failed", f"it's 100% wrong: {i}", None) for i in range(rows)]
            before = len(dialect.sent)
            started = time.perf_counter()
            dialect.bulk_insert(table, columns, batch)
            seconds = time.perf_counter() - started
            loaded += rows
            statements = dialect.sent[before:]
            assert [s.split()[0] for s in statements if not s.startswith("CREATE")] == [
                "PUT",
                "COPY",
            ]
            print(f"loaded {rows} rejections in {seconds:.2f} s, {len(statements)} statements")
        (count, reason), = dialect.fetchall(
            'SELECT COUNT(*), MAX("failure_reason") FROM "PUBLIC"."rejections" '
            'WHERE "row_id" = 9999'
        )
        assert count == 1 and reason == "it's 100% wrong: 9999"
        assert dialect.fetchall('SELECT COUNT(*) FROM "PUBLIC"."rejections"')[0][0] == loaded
    finally:
        dialect.close()


# -- a process killed between any two statements -------------------------------------------
# The statements of the delta run below; kill_at one past them checks that it is exact.
STATEMENTS_PER_DELTA_RUN = 16


@pytest.mark.parametrize("kill_at", range(1, STATEMENTS_PER_DELTA_RUN + 2))
def test_a_run_killed_before_any_statement_claims_nothing_and_loses_nothing(
    ws: Workspace, kill_at: int
) -> None:
    """DDL commits implicitly on Snowflake: wherever the process dies, no sync_runs row
    claims success without its commit, and the next run sends every change."""
    killed = delta_run_killed_at(ws, kill_at)
    if kill_at > STATEMENTS_PER_DELTA_RUN:  # every statement was sent: the run finished
        assert killed.returncode == 0, (killed.stdout, killed.stderr)
        return
    assert killed.returncode == 137, (killed.stdout, killed.stderr)
    assert_nothing_claimed_and_nothing_lost(ws)


class _LowerCaseCatalog(SnowflakeWorkspace):
    """Catalog queries (information_schema) as the property test writes them, in lower case:
    Snowflake stores the engine's names upper case."""

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        if "information_schema" not in statement:
            return super().query(statement, params)
        tree = sqlglot.parse_one(statement, read="duckdb")
        for literal in tree.find_all(exp.Literal):
            if literal.is_string:
                literal.set("this", literal.this.upper())
        rows = super().query(tree.sql("duckdb"), params)
        return [tuple(v.lower() if isinstance(v, str) else v for v in row) for row in rows]


def test_property_mirror_delete_on_snowflake(snowflake_port: int) -> None:
    """The stateful property test's mirror + delete machine with its model on Snowflake."""
    from hypothesis.stateful import run_state_machine_as_test

    from tests.test_property import SETTINGS, MirrorDeleteMachine

    databases = iter(range(1_000_000))

    class OnSnowflake(MirrorDeleteMachine):
        def __init__(self) -> None:
            super().__init__()
            name = f"LIGHTNING_PROPERTY_{os.getpid()}_{next(databases)}"
            admin = snowflake_emulator.connect(snowflake_port)
            try:
                admin.cursor().execute(f"CREATE DATABASE {name}")
            finally:
                admin.close()
            self.ws = _LowerCaseCatalog(self.root, snowflake_port, name)
            self._database.callback(self.ws.close)

    run_state_machine_as_test(OnSnowflake, settings=SETTINGS)
