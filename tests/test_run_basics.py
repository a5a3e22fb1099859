"""A run end to end on each warehouse: first run, delta run, sync logs, plan --json."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Workspace

pytestmark = pytest.mark.each_warehouse  # every test runs on DuckDB and PostgreSQL


def test_first_run_sends_every_row_then_only_the_delta(ws: Workspace) -> None:
    ws.users([(1, "a@x", "A"), (2, "b@x", "B"), (3, "c@x", "C")])
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["counts"]["succeeded"] == {"added": 3, "changed": 0, "removed": 0}

    ws.sql(
        "UPDATE users SET name = 'B2' WHERE id = 2; DELETE FROM users WHERE id = 3;"
        "INSERT INTO users VALUES (4, 'd@x', 'D')"
    )
    plan = ws.cli("plan", "s", "--json")
    assert plan.exit_code == 0, plan.stderr
    assert plan.json()["counts"] == {"added": 1, "changed": 1, "removed": 1}

    second = ws.cli("run", "s", "--json")
    assert second.json()["counts"]["succeeded"] == {"added": 1, "changed": 1, "removed": 1}
    run_dir = sorted((ws.root / "out" / "s").iterdir())[-1]
    removed = [json.loads(line) for line in (run_dir / "removed.jsonl").read_text().splitlines()]
    assert removed == [{"row_id": "3", "fields": {}}]
    changed = [json.loads(line) for line in (run_dir / "changed.jsonl").read_text().splitlines()]
    assert changed == [{"row_id": "2", "fields": {"email": "b@x", "name": "B2"}}]

    runs = ws.runs()
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert runs[1]["num_planned_add"] == 1 and runs[1]["num_succeeded_remove"] == 1
    assert runs[1]["model_name"] == "users" and runs[1]["destination"] == "file"
    assert [row[1:4] for row in ws.changelog() if row[0] == runs[1]["sync_run_id"]] == [
        ("added", "4", "succeeded"),
        ("changed", "2", "succeeded"),
        ("removed", "3", "succeeded"),
    ]


def test_unmapped_column_change_is_not_a_change(ws: Workspace) -> None:
    ws.sql("CREATE TABLE users AS SELECT 1 AS id, 'a@x' AS email, 'A' AS name, 0 AS visits")
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    ws.sql("UPDATE users SET visits = 99")
    assert ws.cli("plan", "s", "--json").json()["counts"] == {
        "added": 0,
        "changed": 0,
        "removed": 0,
    }


def test_key_type_change_between_runs_is_not_a_change(ws: Workspace) -> None:
    ws.users([(1, "a@x", "A"), (2, "b@x", "B")])
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    ws.simple_project(model={"sql": "select cast(id as varchar) as id, email, name from users"})
    assert ws.cli("plan", "s", "--json").json()["counts"] == {
        "added": 0,
        "changed": 0,
        "removed": 0,
    }
    assert ws.cli("run", "s").exit_code == 0
    ws.simple_project()  # back to the integer key: the text baseline is still comparable
    ws.sql("UPDATE users SET name = 'B2' WHERE id = 2")
    assert ws.cli("plan", "s", "--json").json()["counts"] == {
        "added": 0,
        "changed": 1,
        "removed": 0,
    }
