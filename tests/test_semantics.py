"""What a run sends (SPEC sections 3 and 4), modes, retries, retention, locks, plan, runs."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink

pytestmark = pytest.mark.each_warehouse  # every test runs on DuckDB and PostgreSQL


ROWS = [(1, "a@x", "A"), (2, "b@x", "B"), (3, "c@x", "C")]
NOTHING = {"added": 0, "changed": 0, "removed": 0}


# -- helpers ---------------------------------------------------------------------------------
def run(ws: Workspace, *flags: str, code: int = 0) -> dict[str, Any]:
    """One ``run s --json``; its JSON."""
    result = ws.cli("run", "s", "--json", *flags)
    assert result.exit_code == code, (result.stdout, result.stderr)
    body: dict[str, Any] = result.json()
    return body


def sent(ws: Workspace, body: dict[str, Any]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """What the file destination wrote in a run: op -> [(row_id, fields)] in file order."""
    folder = ws.root / "out" / "s" / str(body["sync_run_id"])
    found = {}
    for op in ("added", "changed", "removed"):
        path = folder / f"{op}.jsonl"
        if path.exists():
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            found[op] = [(line["row_id"], line["fields"]) for line in lines]
    return found


def planned(body: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = body["counts"]["planned"]
    return counts


def changelog_of(ws: Workspace, run_id: int) -> dict[str, set[tuple[str, str]]]:
    """op -> {(row_id, status)} of one run."""
    found: dict[str, set[tuple[str, str]]] = {}
    for rid, op, row_id, status, _reason in ws.changelog():
        if rid == run_id:
            found.setdefault(op, set()).add((row_id, status))
    return found


def planner_tables(ws: Workspace) -> list[str]:
    return sorted(
        r[0].lower()  # Snowflake stores the engine's names upper case
        for r in ws.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE lower(table_schema) = 'hightouch_planner'"
        )
    )


def commit_ids(ws: Workspace) -> list[int]:
    rows = ws.query("SELECT sync_run_id FROM hightouch_planner.lightning_commits ORDER BY 1")
    return [r[0] for r in rows]


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink(record_requests=True) as server:
        yield server


def http_project(ws: Workspace, sink: HttpSink, **sync: Any) -> None:
    requests = {
        "added": {"method": "PUT", "path": "/users/{row_id}"},
        "changed": {"method": "PUT", "path": "/users/{row_id}"},
        "removed": {"method": "DELETE", "path": "/users/{row_id}"},
    }
    ws.simple_project(
        destination={"type": "http", "base_url": sink.url, "max_attempts": 2},
        sync={"mode": "mirror", "delete_behavior": "delete", "http": requests, **sync},
    )


def model_as_records(ws: Workspace) -> dict[str, dict[str, Any]]:
    rows = ws.query("SELECT id, email, name FROM users")
    return {str(i): {"email": e, "name": n} for i, e, n in rows}


# -- modes -----------------------------------------------------------------------------------
def test_upsert_sends_added_and_changed_only(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "upsert"})
    first = run(ws)
    assert sent(ws, first) == {
        "added": [
            ("1", {"email": "a@x", "name": "A"}),
            ("2", {"email": "b@x", "name": "B"}),
            ("3", {"email": "c@x", "name": "C"}),
        ]
    }
    ws.sql(
        "UPDATE users SET name = 'B2' WHERE id = 2; DELETE FROM users WHERE id = 3;"
        "INSERT INTO users VALUES (4, 'd@x', 'D')"
    )
    second = run(ws)
    assert planned(second) == {"added": 1, "changed": 1, "removed": 0}
    assert sent(ws, second) == {
        "added": [("4", {"email": "d@x", "name": "D"})],
        "changed": [("2", {"email": "b@x", "name": "B2"})],
    }
    assert planned(run(ws)) == NOTHING


def test_insert_sends_only_new_keys(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "insert"})
    assert planned(run(ws)) == {"added": 3, "changed": 0, "removed": 0}
    ws.sql(
        "UPDATE users SET name = 'B2' WHERE id = 2; DELETE FROM users WHERE id = 3;"
        "INSERT INTO users VALUES (4, 'd@x', 'D')"
    )
    second = run(ws)
    assert planned(second) == {"added": 1, "changed": 0, "removed": 0}
    assert sent(ws, second) == {"added": [("4", {"email": "d@x", "name": "D"})]}
    assert {op for op in changelog_of(ws, second["sync_run_id"])} == {"added"}


def test_update_sends_every_row_as_an_update(ws: Workspace, sink: HttpSink) -> None:
    ws.users(ROWS)
    requests = {
        "added": {"method": "POST", "path": "/created/{row_id}"},
        "changed": {"method": "PATCH", "path": "/users/{row_id}"},
    }
    ws.simple_project(
        destination={"type": "http", "base_url": sink.url, "max_attempts": 1},
        sync={"mode": "update", "http": requests},
    )
    sink.fail_row("3", 404, '{"error":"no such record"}')
    first = run(ws)
    assert {(r.method, r.path) for r in sink.requests} == {
        ("PATCH", "/users/1"),
        ("PATCH", "/users/2"),
        ("PATCH", "/users/3"),
    }
    assert changelog_of(ws, first["sync_run_id"]) == {
        "added": {("1", "succeeded"), ("2", "succeeded"), ("3", "failed")}
    }
    sink.clear_failures()
    sink.clear_requests()
    ws.sql("UPDATE users SET name = 'B2' WHERE id = 2")
    second = run(ws)
    assert planned(second) == {"added": 1, "changed": 1, "removed": 0}
    assert sorted((r.method, r.path) for r in sink.requests) == [
        ("PATCH", "/users/2"),
        ("PATCH", "/users/3"),
    ]
    assert sink.records == {"users": model_as_records(ws)}


@pytest.mark.parametrize(
    ("behavior", "removal"),
    [
        ("delete", [("3", {})]),
        ("clear", [("3", {"email": None, "name": None})]),
        ("do_nothing", None),
    ],
)
def test_mirror_delete_behaviors(
    ws: Workspace, behavior: str, removal: list[tuple[str, dict[str, Any]]] | None
) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": behavior})
    run(ws)
    ws.sql("DELETE FROM users WHERE id = 3; UPDATE users SET email = 'a2@x' WHERE id = 1")
    second = run(ws)
    files = sent(ws, second)
    assert files["changed"] == [("1", {"email": "a2@x", "name": "A"})]
    assert files.get("removed") == removal
    removed = 0 if removal is None else 1
    assert planned(second) == {"added": 0, "changed": 1, "removed": removed}
    assert ws.runs()[-1]["num_planned_remove"] == removed
    assert ("removed" in changelog_of(ws, second["sync_run_id"])) == bool(removed)
    assert planned(run(ws)) == NOTHING


def test_all_sends_every_row_every_run(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "all"})
    assert planned(run(ws)) == {"added": 3, "changed": 0, "removed": 0}
    again = run(ws)
    assert planned(again) == {"added": 0, "changed": 3, "removed": 0}
    assert [row_id for row_id, _ in sent(ws, again)["changed"]] == ["1", "2", "3"]
    ws.sql("DELETE FROM users WHERE id = 3; INSERT INTO users VALUES (4, 'd@x', 'D')")
    third = run(ws)
    assert planned(third) == {"added": 1, "changed": 2, "removed": 0}
    assert sent(ws, third) == {
        "added": [("4", {"email": "d@x", "name": "D"})],
        "changed": [("1", {"email": "a@x", "name": "A"}), ("2", {"email": "b@x", "name": "B"})],
    }


# -- the diff table with failures ------------------------------------------------------------
def test_diff_table_with_failed_rows(ws: Workspace, sink: HttpSink) -> None:
    """Every row of SPEC section 3's table, driven by chosen failures at the destination."""
    ws.users([(i, f"{i}@x", f"N{i}") for i in range(1, 8)])
    http_project(ws, sink)

    # Run 1: rows 1 and 6 fail as added.
    sink.fail_rows = {"1": (422, "bad"), "6": (422, "bad")}
    first = run(ws)
    assert changelog_of(ws, first["sync_run_id"])["added"] == {
        ("1", "failed"),
        ("2", "succeeded"),
        ("3", "succeeded"),
        ("4", "succeeded"),
        ("5", "succeeded"),
        ("6", "failed"),
        ("7", "succeeded"),
    }

    # Run 2: 1 retried as added; 2 and 7 changed (their change fails); 3 and 4 removed (the
    # removal fails); 5 unchanged; 6 failed as added and left the model: never arrived.
    ws.sql("UPDATE users SET name = 'new' WHERE id IN (2, 7)")
    ws.sql("DELETE FROM users WHERE id IN (3, 4, 6)")
    sink.fail_rows = {k: (404 if k == "3" else 409, "nope") for k in ("2", "3", "4", "7")}
    sink.clear_requests()
    second = run(ws)
    assert changelog_of(ws, second["sync_run_id"]) == {
        "added": {("1", "succeeded")},
        "changed": {("2", "failed"), ("7", "failed")},
        "removed": {("3", "failed"), ("4", "failed")},
    }
    assert not any(r.path.endswith("/6") for r in sink.requests)
    reasons = {r[2]: r[4] for r in ws.changelog() if r[0] == second["sync_run_id"]}
    assert reasons["4"] == "HTTP 409 Conflict: nope"
    assert reasons["3"] == "HTTP 404 Not Found: nope"

    # Run 3: 2 retried as changed; 3 failed as removed and came back: changed; 4 failed as
    # removed and is still gone: removed again; 7 failed as changed and left: removed.
    ws.sql("INSERT INTO users VALUES (3, '3@x', 'N3'); DELETE FROM users WHERE id = 7")
    sink.clear_failures()
    sink.clear_requests()
    third = run(ws)
    assert changelog_of(ws, third["sync_run_id"]) == {
        "changed": {("2", "succeeded"), ("3", "succeeded")},
        "removed": {("4", "succeeded"), ("7", "succeeded")},
    }
    assert sorted((r.method, r.path) for r in sink.requests) == [
        ("DELETE", "/users/4"),
        ("DELETE", "/users/7"),
        ("PUT", "/users/2"),
        ("PUT", "/users/3"),
    ]
    assert sink.records == {"users": model_as_records(ws)}
    runs = ws.runs()
    assert (runs[1]["num_planned_add"], runs[1]["num_failed_change"]) == (1, 2)
    assert (runs[2]["num_succeeded_change"], runs[2]["num_succeeded_remove"]) == (2, 2)
    assert planned(run(ws)) == NOTHING


def test_failures_are_retried_until_they_succeed(ws: Workspace, sink: HttpSink) -> None:
    ws.users(ROWS)
    http_project(ws, sink)
    sink.fail_row("2", 400, "invalid")
    for _ in range(3):
        body = run(ws)
        assert changelog_of(ws, body["sync_run_id"]).get("added", set()) >= {("2", "failed")}
    sink.clear_failures()
    last = run(ws)
    assert changelog_of(ws, last["sync_run_id"]) == {"added": {("2", "succeeded")}}


def test_mapping_change_resends_every_row_as_changed(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    run(ws)
    renamed = [{"from": "email", "to": "mail"}, {"from": "name", "to": "name"}]
    ws.simple_project(sync={"mappings": renamed})
    second = run(ws)
    assert planned(second) == {"added": 0, "changed": 3, "removed": 0}
    assert sent(ws, second)["changed"][0] == ("1", {"mail": "a@x", "name": "A"})
    assert planned(run(ws)) == NOTHING

    ws.simple_project(sync={"mode": "insert"})  # insert: only new keys, even now
    ws.sql("INSERT INTO users VALUES (4, 'd@x', 'D')")
    assert planned(run(ws)) == {"added": 1, "changed": 0, "removed": 0}


def test_full_resync_sends_every_row_as_added_and_skips_removals(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    run(ws)
    ws.sql("DELETE FROM users WHERE id = 3; UPDATE users SET name = 'B2' WHERE id = 2")
    resync = run(ws, "--full-resync")
    assert resync["kind"] == "full_resync"
    assert planned(resync) == {"added": 2, "changed": 0, "removed": 0}
    assert sent(ws, resync) == {
        "added": [("1", {"email": "a@x", "name": "A"}), ("2", {"email": "b@x", "name": "B2"})]
    }
    assert planned(run(ws)) == NOTHING


def test_reset_cdc_sends_nothing_and_sets_the_baseline(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    run(ws)
    ws.sql("DELETE FROM users WHERE id = 3; UPDATE users SET name = 'B2' WHERE id = 2")
    reset = run(ws, "--reset-cdc")
    assert reset["kind"] == "reset_cdc" and planned(reset) == NOTHING
    assert sent(ws, reset) == {}
    assert len(commit_ids(ws)) == 2
    assert planned(run(ws)) == NOTHING


def test_composite_keys_join_parts_with_escaping(ws: Workspace) -> None:
    ws.sql(
        "CREATE TABLE users AS SELECT * FROM (VALUES "
        "('a|b', 'c', 'x1'), ('a', 'b|c', 'x2'), ('x\\', 'y', 'x3'), ('p', NULL, 'x4'), "
        "('7', '8', 'x5')) t(account, id, email)"
    )
    ws.simple_project(
        model={"primary_key": ["account", "id"]},
        sync={"mappings": [{"from": "email", "to": "email"}]},
    )
    first = run(ws)
    assert first["keys"]["null_key_rows"] == 1
    assert sorted(sent(ws, first)["added"]) == [
        ("7|8", {"email": "x5"}),
        ("a\\|b|c", {"email": "x1"}),
        ("a|b\\|c", {"email": "x2"}),
        ("x\\\\|y", {"email": "x3"}),
    ]
    assert planned(run(ws)) == NOTHING
    ws.sql("UPDATE users SET email = 'new' WHERE account = 'a'")
    assert sent(ws, run(ws)) == {"changed": [("a|b\\|c", {"email": "new"})]}


def test_unchanged_values_of_every_type_are_not_a_change(ws: Workspace) -> None:
    nested = {
        "duckdb": "[1, 2] AS tags, {'k': 'v'} AS meta",
        "postgres": 'ARRAY[1, 2] AS tags, CAST(\'{"k": "v"}\' AS JSON) AS meta',
        "bigquery": '[1, 2] AS tags, CAST(\'{"k": "v"}\' AS JSON) AS meta',
        "snowflake": "ARRAY_CONSTRUCT(1, 2) AS tags, OBJECT_CONSTRUCT('k', 'v') AS meta",
        "spark": "[1, 2] AS tags, {'k': 'v'} AS meta",  # transpiled: array(...), struct(...)
    }[ws.kind]
    ws.sql(
        "CREATE TABLE users AS SELECT 1 AS id, 'a@x' AS email, NULL::VARCHAR AS name, "
        "TIMESTAMP '2024-01-02 03:04:05.123456' AS ts, 12.30::DECIMAL(10,2) AS amount, "
        f"TRUE AS flag, {nested}, '' AS empty"
    )
    mappings = [
        {"from": c, "to": c}
        for c in ("email", "name", "ts", "amount", "flag", "tags", "meta", "empty")
    ]
    ws.simple_project(sync={"mappings": mappings})
    first = run(ws)
    assert sent(ws, first)["added"] == [
        (
            "1",
            {
                "email": "a@x",
                "name": None,
                "ts": "2024-01-02T03:04:05.123456",
                "amount": 12.3,
                "flag": True,
                "tags": [1, 2],
                "meta": {"k": "v"},
                "empty": "",
            },
        )
    ]
    assert planned(run(ws)) == NOTHING
    ws.sql("UPDATE users SET name = ''")  # NULL -> empty string is a change
    assert planned(run(ws)) == {"added": 0, "changed": 1, "removed": 0}


def test_null_to_a_zero_value_and_back_is_a_change(ws: Workspace) -> None:
    # A hash may treat NULL like some value of a type (PostgreSQL's record hash gives both
    # a NULL and a float zero 0 under seed 0): each column's zero must still differ.
    zeros = {"i": "0", "f": "0.0", "neg": "-0.0", "n": "0.00", "t": "''", "b": "FALSE"}
    ws.sql(
        "CREATE TABLE users AS SELECT 1 AS id, NULL::INTEGER AS i, NULL::DOUBLE AS f, "
        "NULL::DOUBLE AS neg, NULL::DECIMAL(10, 2) AS n, NULL::VARCHAR AS t, NULL::BOOLEAN AS b"
    )
    ws.simple_project(sync={"mappings": [{"from": c, "to": c} for c in zeros]})
    run(ws)
    for column, zero in zeros.items():
        ws.sql(f"UPDATE users SET {column} = {zero}")
        assert planned(run(ws)) == {"added": 0, "changed": 1, "removed": 0}, column
        ws.sql(f"UPDATE users SET {column} = NULL")
        assert planned(run(ws)) == {"added": 0, "changed": 1, "removed": 0}, column


# -- retention, locks, plan, runs ------------------------------------------------------------
def test_retention_keeps_the_two_newest_committed_pairs(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    for i in range(4):
        ws.sql(f"UPDATE users SET name = 'v{i}' WHERE id = 1")
        run(ws)
    ids = commit_ids(ws)
    assert len(ids) == 4
    expected = sorted(
        ["lightning_commits", "lightning_locks"]
        + [f"s_{rid}_{kind}" for rid in ids[-2:] for kind in ("plan", "rejections")]
    )
    assert planner_tables(ws) == expected
    assert ws.query("SELECT count(*) FROM hightouch_planner.lightning_locks")[0][0] == 0


def test_tables_of_a_dead_run_are_dropped_by_the_next(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    run(ws)
    ws.sql(
        "CREATE TABLE hightouch_planner.s_42_plan AS SELECT 1 AS x;"
        "CREATE TABLE hightouch_planner.s_42_delta AS SELECT 1 AS x;"
        "CREATE TABLE hightouch_planner.s_42_rejections AS SELECT 1 AS x;"
        # A warehouse without session temporary tables stages the model in the planner schema.
        "CREATE TABLE hightouch_planner.s_42_stage AS SELECT 1 AS x"
    )
    run(ws)
    assert not [t for t in planner_tables(ws) if t.startswith("s_42_")]


def _hold_lock(ws: Workspace, owner: str, heartbeat: dt.datetime) -> None:
    ws.sql(
        "INSERT INTO hightouch_planner.lightning_locks VALUES ('s', 1, ?, ?, ?)",
        [owner, heartbeat, heartbeat],
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_lock_held_by_a_live_run_refuses_a_second_run(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    run(ws)
    owner = f"{socket.gethostname()}:{os.getppid()}"
    _hold_lock(ws, owner, _now())
    before = commit_ids(ws)
    result = ws.cli("run", "s")
    assert result.exit_code == 4
    message = " ".join(result.stderr.split())
    assert "Sync 's' is already running" in message and owner in message
    assert "Wait for it to finish" in message
    assert ws.cli("plan", "s").exit_code == 4
    assert commit_ids(ws) == before
    locks = ws.query("SELECT owner FROM hightouch_planner.lightning_locks")
    assert locks == [(owner,)]


@pytest.mark.parametrize("kind", ["dead pid", "stale heartbeat"])
def test_abandoned_lock_is_taken_over(ws: Workspace, kind: str) -> None:
    ws.users(ROWS)
    ws.simple_project()
    run(ws)
    if kind == "dead pid":
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        _hold_lock(ws, f"{socket.gethostname()}:{gone.stdout.strip()}", _now())
    else:
        _hold_lock(ws, "another-host:1", _now() - dt.timedelta(minutes=11))
    ws.sql("UPDATE users SET name = 'B2' WHERE id = 2")
    assert planned(run(ws)) == {"added": 0, "changed": 1, "removed": 0}
    assert ws.query("SELECT count(*) FROM hightouch_planner.lightning_locks")[0][0] == 0


def test_fresh_lock_from_another_host_is_respected(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    run(ws)
    _hold_lock(ws, "another-host:1", _now())
    assert ws.cli("run", "s").exit_code == 4


def test_plan_sends_and_commits_nothing(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    run(ws)
    ws.sql(
        "UPDATE users SET name = 'B2' WHERE id = 2; DELETE FROM users WHERE id = 3;"
        "INSERT INTO users VALUES (4, 'd@x', 'D')"
    )
    tables, commits = planner_tables(ws), commit_ids(ws)
    runs_before = len(ws.runs())
    outputs = sorted((ws.root / "out" / "s").iterdir())
    preview = ws.cli("plan", "s", "--json")
    assert preview.exit_code == 0, preview.stderr
    body = preview.json()
    assert body["counts"] == {"added": 1, "changed": 1, "removed": 1}
    assert {(s["op_type"], s["row_id"]) for s in body["sample"]} == {
        ("added", "4"),
        ("changed", "2"),
        ("removed", "3"),
    }
    assert planner_tables(ws) == tables and commit_ids(ws) == commits
    assert len(ws.runs()) == runs_before
    assert sorted((ws.root / "out" / "s").iterdir()) == outputs
    assert ws.query("SELECT count(*) FROM hightouch_planner.lightning_locks")[0][0] == 0
    assert planned(run(ws)) == body["counts"]


def test_runs_json_lists_runs_newest_first(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    ids = [run(ws)["sync_run_id"] for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    listed = ws.cli("runs", "s", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = listed.json()
    assert [r["sync_run_id"] for r in rows] == ids[::-1]
    assert rows[0]["status"] == "succeeded" and rows[-1]["num_planned_add"] == 3
    limited = ws.cli("runs", "s", "--json", "--limit", "2").json()
    assert [r["sync_run_id"] for r in limited] == ids[:0:-1]
    assert ws.query("SELECT count(*) FROM hightouch_audit.sync_runs WHERE sync_id = 's'") == [(3,)]
