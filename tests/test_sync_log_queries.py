"""The sync logs answer the documented example queries, unchanged but for the SQL dialect.

``syncs--warehouse-sync-logs.md`` gives three example queries written for Snowflake. They
run verbatim on Snowflake (emulated) and transpiled with sqlglot (Snowflake -> DuckDB)
elsewhere, against the logs of two runs of a sync that writes all three log tables. Column
names and order are a public contract (SPEC section 5), checked here too, as is ``fields``
(JSON of the raw model row).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlglot

from tests.conftest import (
    SnowflakeWorkspace,
    Workspace,
    postgres_workspace,
    snowflake_workspace,
)
from tests.fakes.http_sink import HttpSink

# Verbatim from the documentation page (Snowflake).
MOST_COMMON_ERROR = """
select failure_reason, count(*) as c
from hightouch_audit.sync_snapshot
where failure_reason is not null
group by failure_reason
order by c desc
"""

ENTERED_AND_EXITED = """
with details as (
  select
    model_name,
    row_id,
    op_type as type,
    started_at as timestamp,
    lag(op_type) over(partition by model_name, row_id order by started_at) as lag_type
  from hightouch_audit.sync_changelog c
  join hightouch_audit.sync_runs r on c.sync_id = r.sync_id
  where op_type != 'changed'
  order by model_name, row_id
)
select row_id as user_id, model_name as audience, type, timestamp
from details
where (lag_type != type or lag_type is null)
order by model_name, row_id, timestamp
"""

CURRENT_ROWS = """
with model_names as (
  select distinct sync_id, model_name from hightouch_audit.sync_runs
)
select model_name, row_id as user_id
from hightouch_audit.sync_snapshot s
join model_names r on s.sync_id = r.sync_id
where s.status != 'failed'
qualify row_number() over (partition by user_id, model_name order by null) = 1
order by user_id
"""

# SPEC section 5, in order.
CHANGELOG_COLUMNS = [
    "sync_id",
    "sync_run_id",
    "op_type",
    "row_id",
    "status",
    "failure_reason",
    "fields",
]
SNAPSHOT_COLUMNS = [
    "sync_id",
    "sync_run_id",
    "row_id",
    "op_type",
    "status",
    "failure_reason",
    "fields",
]
RUNS_COLUMNS = [
    "sync_id",
    "sync_run_id",
    "primary_key",
    "destination",
    "model_name",
    "model_id",
    "status",
    "error",
    "started_at",
    "finished_at",
    *[
        f"num_{kind}_{op}"
        for kind in ("planned", "attempted", "succeeded", "failed")
        for op in ("add", "change", "remove")
    ],
]
# The columns the documentation's "Detailed schema" lists (split_group is optional there).
DOC_SNAPSHOT_COLUMNS = {"sync_id", "op_type", "row_id", "status", "failure_reason", "fields"}

# The model: key, two mapped columns, two unmapped ones (still part of `fields`).
MODEL_COLUMNS = ("id", "email", "name", "visits", "note")
FIRST_ROWS: list[tuple[Any, ...]] = [
    (1, "a@x", "Ada", 3, "plain"),
    (2, "b@x", "Bob", None, ""),
    (3, "c@x", "Cy", 0, None),
    (4, "d@x", "Dee", 7, "ünïcødé ✓ 日本"),
    (5, "e1@x", "Eve", 1, "first copy"),
    (5, "e2@x", "Eve", 1, "second copy"),
    (6, "f1@x", "Fay", 2, "first copy"),
    (6, "f2@x", "Fay", 2, "second copy"),
    (None, "n@x", "Null key", 0, "skipped"),
]
DUPLICATE_REASON = "primary key is not unique"


def duckdb_sql(snowflake_sql: str) -> str:
    """The documentation's Snowflake query in DuckDB's dialect (nothing else changed)."""
    (statement,) = sqlglot.transpile(snowflake_sql, read="snowflake", write="duckdb")
    return statement


def documented_query(ws: Workspace, snowflake_sql: str) -> list[tuple[Any, ...]]:
    """Rows of a documented query: verbatim on Snowflake (its unquoted names find the logs
    the engine keeps upper case), transpiled elsewhere."""
    if isinstance(ws, SnowflakeWorkspace):
        with ws.connection().cursor() as cursor:
            return [tuple(row) for row in cursor.execute(snowflake_sql).fetchall()]
    return ws.query(duckdb_sql(snowflake_sql))


def columns_of(ws: Workspace, table: str) -> list[str]:
    # Snowflake's catalog holds the names upper case (as users query them, unquoted).
    rows = ws.query(
        "SELECT lower(column_name) FROM information_schema.columns "
        "WHERE lower(table_schema) = 'hightouch_audit' AND lower(table_name) = ? "
        "ORDER BY ordinal_position",
        [table],
    )
    return [r[0] for r in rows]


def load_users(ws: Workspace, rows: list[tuple[Any, ...]]) -> None:
    ws.sql(
        "CREATE OR REPLACE TABLE users "
        "(id BIGINT, email VARCHAR, name VARCHAR, visits INTEGER, note VARCHAR)"
    )
    for row in rows:
        ws.sql("INSERT INTO users VALUES (?, ?, ?, ?, ?)", list(row))


@pytest.fixture(scope="module", params=["duckdb", "postgres", "snowflake"])
def two_runs(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Workspace, HttpSink, list[int]]]:
    """Run 1: every row (two duplicated keys, one row the destination refuses, one NULL
    key). Run 2: row 2 removed, row 4 changed, row 7 added; row 3 still refused.

    Built once per warehouse for the module: the tests below only read the logs."""
    root = tmp_path_factory.mktemp("sync_logs")
    with HttpSink() as sink:
        if request.param == "duckdb":
            yield _two_runs(Workspace(root), sink)
            return
        if request.param == "snowflake":
            port = request.getfixturevalue("snowflake_port")
            with snowflake_workspace(root, port) as sf:
                yield _two_runs(sf, sink)
            return
        with postgres_workspace(root, request.getfixturevalue("postgres_dsn")) as ws:
            yield _two_runs(ws, sink)


def as_json(fields: Any) -> Any:
    """A ``fields`` value as Python (drivers hand JSON over as text or already parsed)."""
    return json.loads(fields) if isinstance(fields, str) else fields


def _two_runs(ws: Workspace, sink: HttpSink) -> tuple[Workspace, HttpSink, list[int]]:
    load_users(ws, FIRST_ROWS)
    ws.simple_project(
        destination={"type": "http", "base_url": sink.url, "max_attempts": 2},
        sync={
            "mode": "mirror",
            "delete_behavior": "delete",
            "sync_logs": ["changelog", "snapshot", "runs"],
            "http": {
                "added": {"method": "PUT", "path": "/users/{row_id}"},
                "changed": {"method": "PUT", "path": "/users/{row_id}"},
                "removed": {"method": "DELETE", "path": "/users/{row_id}"},
            },
        },
    )
    sink.fail_row("3", 400, "email is not allowed")
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    ws.sql(
        "DELETE FROM users WHERE id = 2; UPDATE users SET name = 'Dee 2' WHERE id = 4; "
        "INSERT INTO users VALUES (7, 'g@x', 'Gus', 0, 'new')"
    )
    second = ws.cli("run", "s", "--json")
    assert second.exit_code == 0, second.stderr
    run_ids = [first.json()["sync_run_id"], second.json()["sync_run_id"]]
    return ws, sink, run_ids


def test_log_tables_have_the_public_columns_in_order(
    two_runs: tuple[Workspace, HttpSink, list[int]],
) -> None:
    ws, _, _ = two_runs
    assert columns_of(ws, "sync_changelog") == CHANGELOG_COLUMNS
    assert columns_of(ws, "sync_snapshot") == SNAPSHOT_COLUMNS
    assert columns_of(ws, "sync_runs") == RUNS_COLUMNS
    assert DOC_SNAPSHOT_COLUMNS <= set(columns_of(ws, "sync_snapshot"))
    types = {
        name: (kind.upper(), scale)
        for name, kind, scale in ws.query(
            "SELECT lower(column_name), data_type, numeric_scale FROM information_schema.columns "
            "WHERE lower(table_schema) = 'hightouch_audit' AND lower(table_name) = 'sync_runs'"
        )
    }
    # A 64-bit integer: Snowflake's BIGINT is NUMBER(38,0).
    assert types["sync_run_id"] in {("BIGINT", 0), ("NUMBER", 0)}, types["sync_run_id"]


def test_most_common_error_names_the_duplicated_key(
    two_runs: tuple[Workspace, HttpSink, list[int]],
) -> None:
    ws, _, _ = two_runs
    rows = documented_query(ws, MOST_COMMON_ERROR)
    # Two duplicated keys, two rows each: every copy is rejected.
    assert rows[0] == (DUPLICATE_REASON, 4)
    reasons = dict(rows)
    refused = [r for r in reasons if r.startswith("HTTP 400")]
    assert len(refused) == 1 and "email is not allowed" in refused[0]
    assert reasons[refused[0]] == 1
    assert sum(reasons.values()) == 5


def test_entered_and_exited_tracks_a_removed_row(
    two_runs: tuple[Workspace, HttpSink, list[int]],
) -> None:
    ws, _, _ = two_runs
    rows = documented_query(ws, ENTERED_AND_EXITED)
    assert rows, "the entered/exited query returned nothing"
    types: dict[str, set[str]] = {}
    for user_id, audience, kind, timestamp in rows:
        assert audience == "users"
        assert timestamp is not None
        types.setdefault(user_id, set()).add(kind)
    assert types["2"] == {"added", "removed"}  # entered in run 1, exited in run 2
    assert types["1"] == {"added"}
    assert types["7"] == {"added"}  # entered in run 2
    assert "4" in types and types["4"] == {"added"}  # a change is neither entry nor exit
    assert "None" not in types and None not in types


def test_current_rows_lists_the_model_rows_that_did_not_fail(
    two_runs: tuple[Workspace, HttpSink, list[int]],
) -> None:
    ws, sink, _ = two_runs
    rows = documented_query(ws, CURRENT_ROWS)
    assert {model for model, _ in rows} == {"users"}
    current = [user_id for _, user_id in rows]
    assert len(current) == len(set(current))
    # Row 2 was removed, 3 is refused by the destination, 5 and 6 are duplicated keys.
    assert sorted(current) == ["1", "4", "7"]
    assert set(sink.records["users"]) == {"1", "4", "7"}


def test_fields_is_json_of_the_raw_model_row(
    two_runs: tuple[Workspace, HttpSink, list[int]],
) -> None:
    ws, _, (first, second) = two_runs
    model = {row[0]: dict(zip(MODEL_COLUMNS, row, strict=True)) for row in FIRST_ROWS}
    changelog = ws.query(
        "SELECT sync_run_id, op_type, row_id, status, fields FROM hightouch_audit.sync_changelog "
        "WHERE sync_id = 's' ORDER BY sync_run_id, row_id"
    )
    by_run = {(run, row_id): (op, status, fields) for run, op, row_id, status, fields in changelog}
    assert {row_id for run, row_id in by_run if run == first} == {"1", "2", "3", "4", "5", "6"}
    # The raw model row: every column (mapped or not), NULLs, empty strings and unicode kept.
    for key in (1, 2, 3, 4):
        op, _, fields = by_run[(first, str(key))]
        assert op == "added"
        assert as_json(fields) == model[key]
    assert by_run[(first, "3")][1] == "failed"
    # A duplicated key is rejected, never sent, and logged with one copy's model values: the
    # copy whose fields sort first as JSON text (here the "e1@x"/"f1@x" copies), every run.
    first_copies = {row[0]: dict(zip(MODEL_COLUMNS, row, strict=True)) for row in FIRST_ROWS[4:8:2]}
    for run in (first, second):
        for key in (5, 6):
            op, status, fields = by_run[(run, str(key))]
            assert (op, status) == ("added", "failed")
            assert as_json(fields) == first_copies[key]
    op, status, fields = by_run[(second, "4")]
    assert (op, status) == ("changed", "succeeded")
    assert as_json(fields) == {**model[4], "name": "Dee 2"}
    op, status, fields = by_run[(second, "2")]
    assert (op, status) == ("removed", "succeeded")
    assert str(as_json(fields)["id"]) == "2"  # a removal carries the key

    snapshot = ws.query(
        "SELECT row_id, op_type, status, failure_reason, fields FROM hightouch_audit.sync_snapshot "
        "WHERE sync_id = 's' AND sync_run_id = ? ORDER BY row_id, fields",
        [second],
    )
    seen = {}
    for row_id, op, status, reason, fields in snapshot:
        parsed = as_json(fields)
        assert str(parsed["id"]) == row_id
        seen.setdefault(row_id, []).append((op, status, reason, parsed))
    assert sorted(seen) == ["1", "3", "4", "5", "6", "7"]
    assert seen["1"] == [("unchanged", "succeeded", None, model[1])]
    assert seen["4"][0][:2] == ("changed", "succeeded")
    assert seen["7"][0][:2] == ("added", "succeeded")
    assert seen["3"][0][1] == "failed"
    copies = [entry[3] for entry in seen["5"]]
    assert sorted(c["note"] for c in copies) == ["first copy", "second copy"]
    assert all(entry[2] == DUPLICATE_REASON for entry in seen["5"] + seen["6"])


def test_runs_counters_match_the_changelog(
    two_runs: tuple[Workspace, HttpSink, list[int]],
) -> None:
    ws, _, (first, second) = two_runs
    runs = {r["sync_run_id"]: r for r in ws.runs()}
    assert sorted(runs) == [first, second]
    assert runs[first]["status"] == runs[second]["status"] == "succeeded"
    assert runs[first]["primary_key"] == "id" and runs[first]["model_name"] == "users"
    assert runs[first]["destination"] == "http"
    assert (runs[first]["num_planned_add"], runs[first]["num_failed_add"]) == (6, 3)
    second_run = runs[second]
    assert second_run["num_planned_remove"] == second_run["num_succeeded_remove"] == 1
    assert second_run["started_at"] <= second_run["finished_at"]
