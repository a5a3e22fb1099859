"""Mapping kinds end to end on each warehouse: to the local HTTP sink and the file
destination, the CDC rules (only what a mapping reads is hashed), and row failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink

pytestmark = pytest.mark.each_warehouse

REQUESTS = {
    "added": {"method": "PUT", "path": "/users/{row_id}"},
    "changed": {"method": "PUT", "path": "/users/{row_id}"},
    "removed": {"method": "DELETE", "path": "/users/{row_id}"},
}
KINDS: list[dict[str, Any]] = [
    {"from": "email", "to": "email"},
    {"from": "name", "to": "profile.name", "skip_nulls": True},
    {"static": "EMEA", "to": "region"},
    {"static": None, "to": "nothing"},
    {"variable": "sync_run_id", "to": "run"},
    {"variable": "operation", "to": "op"},
    {"variable": "current_timestamp", "to": "at"},
    {"template": "{{ row.name | upcase }}/{{ context.model_name }}", "to": "first"},
    {"from": "visits", "to": "visits_text", "cast": "string"},
]
NO_CHANGE = {"added": 0, "changed": 0, "removed": 0}


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


def people(ws: Workspace) -> None:
    ws.sql(
        "CREATE OR REPLACE TABLE users (id BIGINT, email VARCHAR, name VARCHAR, visits BIGINT, "
        "notes VARCHAR)"
    )
    ws.insert_many(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
        [[1, "a@x", "ada", 3, "n1"], [2, "b@x", None, 0, "n2"]],
    )


def counts(ws: Workspace) -> dict[str, int]:
    plan = ws.cli("plan", "s", "--json")
    assert plan.exit_code == 0, plan.stderr
    return plan.json()["counts"]  # type: ignore[no-any-return]


def test_every_kind_to_http_and_cdc_reads_only_what_mappings_read(
    ws: Workspace, sink: HttpSink
) -> None:
    people(ws)
    destination = {"type": "http", "base_url": sink.url, "max_attempts": 2}
    ws.simple_project(destination, {"http": REQUESTS, "mappings": KINDS})
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    run_id = str(ws.runs()[-1]["sync_run_id"])
    ada, nameless = sink.records["users"]["1"], sink.records["users"]["2"]
    assert ada.pop("at").endswith("Z")
    assert ada == {
        "email": "a@x",
        "profile": {"name": "ada"},
        "region": "EMEA",
        "nothing": None,
        "run": run_id,
        "op": "added",
        "first": "ADA/users",
        "visits_text": "3",
    }
    assert "profile" not in nameless and nameless["first"] == "/users"

    # A new run id and timestamp, and a column no mapping reads, change nothing.
    ws.sql("UPDATE users SET notes = 'edited', visits = visits WHERE id = 1")
    assert counts(ws) == NO_CHANGE
    # A column only the template reads does.
    ws.sql("UPDATE users SET name = 'bob' WHERE id = 2")
    assert counts(ws) == {"added": 0, "changed": 1, "removed": 0}
    assert ws.cli("run", "s").exit_code == 0
    assert sink.records["users"]["2"]["first"] == "BOB/users"
    assert sink.records["users"]["2"]["op"] == "changed"

    # An edited static value re-sends every row once.
    edited = [m | {"static": "APAC"} if m.get("static") == "EMEA" else m for m in KINDS]
    ws.simple_project(destination, {"http": REQUESTS, "mappings": edited})
    assert counts(ws) == {"added": 0, "changed": 2, "removed": 0}
    assert ws.cli("run", "s").exit_code == 0
    assert {r["region"] for r in sink.records["users"].values()} == {"APAC"}
    assert counts(ws) == NO_CHANGE


def test_a_template_not_reading_a_column_ignores_it(ws: Workspace) -> None:
    people(ws)
    mappings = [{"template": "{{ row.email | split: '@' | first }}", "to": "user"}]
    ws.simple_project(sync={"mappings": mappings})
    assert ws.cli("run", "s").exit_code == 0
    ws.sql("UPDATE users SET name = 'zed', visits = 9")
    assert counts(ws) == NO_CHANGE
    ws.sql("UPDATE users SET email = 'c@x' WHERE id = 1")
    assert counts(ws) == {"added": 0, "changed": 1, "removed": 0}


def test_kinds_to_the_file_destination_and_row_failures_in_the_sync_logs(
    ws: Workspace,
) -> None:
    people(ws)
    mappings = [
        *KINDS,
        {"template": "{{ 12 | divided_by: row.visits }}", "to": "ratio", "cast": "number"},
        {
            "template": "{% for i in (1..row.visits) %}{% for j in (1..row.visits) %}"
            "{% endfor %}{% endfor %}",
            "to": "spin",
        },
    ]
    ws.simple_project(sync={"mappings": mappings})
    ws.sql("INSERT INTO users VALUES (3, 'c@x', 'cy', 1000000, 'n3')")
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["counts"]["succeeded"] == {"added": 1, "changed": 0, "removed": 0}
    run_dir = sorted((ws.root / "out" / "s").iterdir())[-1]
    added = [json.loads(line) for line in (run_dir / "added.jsonl").read_text().splitlines()]
    assert [row["row_id"] for row in added] == ["1"]
    fields = added[0]["fields"]
    assert fields["profile"] == {"name": "ada"} and fields["region"] == "EMEA"
    assert fields["ratio"] == 4 and fields["spin"] == "" and fields["op"] == "added"
    failed = {row[2]: row[4] for row in ws.changelog() if row[3] == "failed"}
    assert set(failed) == {"2", "3"}
    assert failed["2"].startswith("mappings[9] (template to ratio): divided_by: can't divide")
    assert failed["3"].startswith("mappings[10] (template to spin): loop iteration limit")
    assert ws.runs()[-1]["status"] == "succeeded"


def test_a_template_naming_a_missing_column_is_refused(ws: Workspace) -> None:
    people(ws)
    ws.simple_project(sync={"mappings": [{"template": "{{ row.emial }}", "to": "e"}]})
    plan = ws.cli("plan", "s")
    assert plan.exit_code != 0
    assert "syncs.s.mappings[0].template: row.emial" in plan.stdout + plan.stderr
    assert "'email'" in plan.stdout + plan.stderr
