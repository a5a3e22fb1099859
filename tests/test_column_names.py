"""A project file's column names against the names the warehouse reports (engine/column_names.py).

Snowflake folds unquoted names to upper case, so ``select id, email from users`` returns
``ID``, ``EMAIL`` there; the models below name their columns in upper case with quotes, so
every warehouse reports them as Snowflake would.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import Workspace
from tests.test_bad_input import ROWS, refused

pytestmark = pytest.mark.each_warehouse

UPPER = 'select id as "ID", email as "EMAIL", name as "NAME" from users'


def test_a_column_the_warehouse_folded_matches_its_lower_case_name(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(model={"sql": UPPER}, sync={"sync_logs": ["changelog", "snapshot"]})
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["counts"]["succeeded"] == {"added": 3, "changed": 0, "removed": 0}
    run_dir = sorted((ws.root / "out" / "s").iterdir())[-1]
    added = [json.loads(line) for line in (run_dir / "added.jsonl").read_text().splitlines()]
    assert {"row_id": "2", "fields": {"email": "b@x", "name": "B"}} in added

    ws.sql("UPDATE users SET name = 'B2' WHERE id = 2")
    second = ws.cli("run", "s", "--json")
    assert second.json()["counts"]["succeeded"] == {"added": 0, "changed": 1, "removed": 0}
    # The sync logs' fields name the columns as the project file does.
    (fields,) = ws.query(
        "SELECT fields FROM hightouch_audit.sync_snapshot WHERE sync_id = 's' AND row_id = '2'"
    )[0]
    parsed = json.loads(fields) if isinstance(fields, str) else fields
    assert parsed["name"] == "B2" and parsed["email"] == "b@x", parsed


def test_the_exact_name_wins_and_case_twins_are_refused(ws: Workspace) -> None:
    ws.users(ROWS)
    twins = 'select id, email as "Email", name as "EMAIL", name from users'
    ws.simple_project(model={"sql": twins}, sync={"mappings": [{"from": "Email", "to": "e"}]})
    assert ws.cli("run", "s").exit_code == 0  # "Email" exactly: no ambiguity
    run_dir = sorted((ws.root / "out" / "s").iterdir())[-1]
    added = [json.loads(line) for line in (run_dir / "added.jsonl").read_text().splitlines()]
    assert {"row_id": "1", "fields": {"e": "a@x"}} in added

    ws.simple_project(model={"sql": twins}, sync={"mappings": [{"from": "email", "to": "e"}]})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.mappings[0].from: 'email' matches the columns 'Email', 'EMAIL'" in message
    assert "Fix: write the column's name exactly" in message


def test_one_column_spelled_two_ways_is_refused(ws: Workspace) -> None:
    ws.users(ROWS)
    mappings = [{"from": "email", "to": "a"}, {"from": "Email", "to": "b"}]
    ws.simple_project(model={"sql": UPPER}, sync={"mappings": mappings})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.mappings[1].from: 'Email' names column 'EMAIL'" in message
    assert "also written 'email'" in message and "Fix: spell it one way" in message
