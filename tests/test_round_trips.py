"""The statements a run sends the warehouse (``run --json``: ``statements``): as many for a
10-row model as for a 200-row one, and at most STATEMENTS_PER_RUN (each is a round trip, and
on Snowflake or BigQuery one costs 0.05-2 s). The sync's commits are read with its lock, and
no catalog is read to know that the engine's tables exist: the lock read names every one, so
it fails when one is missing, and only then are they looked up and created. Where the
warehouse has a catalog query for them, the sync's run tables come along with the lock read
too; a session temporary stage is not dropped (it goes with the run's connection)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.sql import fold_case
from engine.state import KEEP_COMMITTED, PLANNER_SCHEMA
from engine.warehouse import connected, dialect_for
from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink
from tests.test_semantics import http_project

pytestmark = pytest.mark.each_warehouse

# A steady run (a baseline, one committed pair to drop), transaction control included, as
# measured on each warehouse: a change that adds a statement must say so here.
STATEMENTS_PER_RUN = {"duckdb": 10, "postgres": 10, "snowflake": 19, "spark": 20, "bigquery": 17}
# The first run's lock read fails (no tables yet); it then lists the schemas and creates them
# and the engine's five tables, and reads the lock again (BigQuery lists them first: its
# catalog is read through the API for free, where naming a table in a query is billed).
FIRST_RUN_STATEMENTS = {"duckdb": 20, "postgres": 21, "snowflake": 31, "spark": 29, "bigquery": 24}


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


def _users(ws: Workspace, rows: int, version: int) -> None:
    """``rows`` users; the names of users 1 and 2 carry ``version`` (a change when it moves)."""
    ws.users([(i, f"u{i}@x", f"N{i}-{version if i <= 2 else 0}") for i in range(1, rows + 1)])


def test_statements_per_run_do_not_grow_with_the_model(ws: Workspace) -> None:
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    counts: dict[int, list[int]] = {}
    for rows, version in ((10, 0), (10, 1), (10, 2), (200, 3), (200, 4)):
        _users(ws, rows, version)
        run = ws.cli("run", "s", "--json")
        assert run.exit_code == 0, run.stderr
        report = run.json()
        assert report["status"] == "succeeded"
        assert report["load_statements"] == 0  # nothing failed: no outcomes to load
        assert report["workers"] == 1  # sent from the run's own process
        counts.setdefault(rows, []).append(report["statements"])
    print(f"statements per run: {counts}")
    # The third run is the first steady one: it has a baseline and drops the first run's pair.
    steady = [counts[10][2], *counts[200]]
    assert len(set(steady)) == 1, counts
    assert steady[0] <= STATEMENTS_PER_RUN[ws.kind], counts
    assert counts[10][0] <= FIRST_RUN_STATEMENTS[ws.kind], counts


def test_failed_rows_are_loaded_by_statements_counted_apart(ws: Workspace, sink: HttpSink) -> None:
    ws.users([(i, f"u{i}@x", f"N{i}-0") for i in range(1, 6)])
    http_project(ws, sink)
    reports = []
    for version in range(1, 5):
        _users(ws, 5, version)
        if version == 3:
            sink.fail_row("2", 400, "invalid")
        if version == 4:
            sink.clear_failures()
        run = ws.cli("run", "s", "--json")
        assert run.exit_code == 0, run.stderr
        reports.append(run.json())
    failing, healed = reports[2], reports[3]
    assert failing["counts"]["failed"]["changed"] == 1
    assert failing["load_statements"] >= 1  # the failed row's outcome, loaded
    assert healed["load_statements"] == 0
    assert failing["statements"] == healed["statements"], (failing, healed)


def test_the_hash_probe_read_with_the_lock_matches_the_probe_read_alone(ws: Workspace) -> None:
    """The run reads the warehouse's hash probe along with its lock state; the hash version it
    commits is what the probe's own statement gives (else every row would be re-sent)."""
    ws.simple_project()
    _users(ws, 10, 0)
    assert ws.cli("run", "s").exit_code == 0
    with connected(dialect_for(ws.project(), "wh")) as state:
        alone = state.dialect.hash_version()  # nothing read the probe along on this connection
        (commit,) = state.committed("s")
    assert commit.hash_version == alone


def test_a_sync_log_table_dropped_between_runs_is_made_again(ws: Workspace) -> None:
    """The lock read names every engine table: with one gone, the run makes it again (and
    only it) and goes on; the runs before it are still committed."""
    ws.simple_project()
    _users(ws, 5, 0)
    assert ws.cli("run", "s").exit_code == 0
    ws.sql("DROP TABLE hightouch_audit.sync_runs")
    _users(ws, 5, 1)
    run = ws.cli("run", "s", "--json")
    assert run.exit_code == 0, run.stderr
    report = run.json()
    assert report["status"] == "succeeded"
    assert report["counts"]["planned"]["changed"] == 2  # diffed against the first run
    assert [r["sync_run_id"] for r in ws.runs()] == [report["sync_run_id"]]


def test_the_run_tables_read_with_the_lock_match_the_catalog_read_alone(ws: Workspace) -> None:
    """Where the lock read takes the sync's run tables along (Dialect.schema_columns_query),
    it finds the same tables, with the same columns in the same order and of the same types,
    as the catalog read alone; where it cannot, the run tables are read apart."""
    ws.simple_project()
    _users(ws, 10, 0)
    for version in (1, 2):
        _users(ws, 10, version)
        assert ws.cli("run", "s").exit_code == 0
    with connected(dialect_for(ws.project(), "wh")) as state:
        run_id = state.acquire("s")
        try:
            along = state._run_catalog.get("s")
            alone = state.dialect.schema_columns(fold_case(PLANNER_SCHEMA, state.dialect), "s_%")
            tables = state.run_tables("s")
            apart = alone if along is None and alone is not None else {}  # its own read
            described = {n: state.dialect.table_columns(state.planner_table(n)) for n in apart}
        finally:
            state.release("s", run_id)
    commits = [c.sync_run_id for c in state.committed("s")]
    assert sorted(tables) == sorted(commits[:KEEP_COMMITTED])  # each kept plan and rejections
    assert all(sorted(n.lower() for n in names)[0].endswith("_plan") for names in tables.values())
    if state.dialect.schema_columns_query("x", "x_%") is None:
        # Read apart from the lock: one catalog read of its own (plain Spark's SHOW TABLE
        # EXTENDED, each table's columns as DESCRIBE TABLE reads them), or none (list_tables,
        # and table_columns where needed).
        assert along is None
        assert alone is None or alone == described
        assert alone is None or len(alone) == 2 * KEEP_COMMITTED
        return
    assert along == alone
    assert along is not None and len(along) == 2 * KEEP_COMMITTED
    plan = next(columns for name, columns in along.items() if name.lower().endswith("_plan"))
    assert [name.lower() for name, _ in plan][:1] == ["row_id"]
    assert all(kind for _, kind in plan)
