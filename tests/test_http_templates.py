"""Templated HTTP requests end to end on each warehouse, against the local HTTP sink: per
trigger path, header and body templates, what reaches the socket, a body from a JSON column,
batch bodies over ``rows``, template errors as row failures, ``first_run: skip`` and record
matching on a unique column."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink

pytestmark = pytest.mark.each_warehouse

MAPPINGS = [{"from": "email", "to": "email"}, {"from": "name", "to": "name"}]
NO_CHANGE = {"added": 0, "changed": 0, "removed": 0}


@pytest.fixture
def wire_sink() -> Iterator[HttpSink]:
    with HttpSink(record_requests=True) as server:
        yield server


def people(ws: Workspace, rows: list[list[Any]]) -> None:
    ws.sql(
        "CREATE OR REPLACE TABLE users (id BIGINT, email VARCHAR, name VARCHAR, "
        "payload VARCHAR, notes VARCHAR)"
    )
    ws.insert_many("INSERT INTO users VALUES (?, ?, ?, ?, ?)", rows)


def project(ws: Workspace, sink: HttpSink, http: dict[str, Any], **sync: Any) -> None:
    destination = {"type": "http", "base_url": sink.url, "max_attempts": 1}
    ws.simple_project(destination, {"http": http, "mappings": MAPPINGS} | sync)


def counts(ws: Workspace) -> dict[str, int]:
    plan = ws.cli("plan", "s", "--json")
    assert plan.exit_code == 0, plan.stderr
    return plan.json()["counts"]  # type: ignore[no-any-return]


def run_ok(ws: Workspace) -> dict[str, Any]:
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()  # type: ignore[no-any-return]


def failures(ws: Workspace) -> dict[str, str]:
    return {str(r[2]): r[4] for r in ws.changelog() if r[3] == "failed"}


TRIGGERS = {
    "match_column": "email",
    "added": {
        "method": "POST",
        "path": "/users/{{ row.email }}",
        "headers": {"X-Op": "{{ context.operation }}", "X-Name": "{{ row.name | upcase }}"},
        "body": {
            "template": '{"e": {{ row.email | json }}, "n": "{{ row.name }}", '
            '"sync": "{{ context.sync_id }}", "tags": ["a", "b",],}'
        },
    },
    "changed": {
        "method": "PATCH",
        "path": "/users/{{ row.email }}",
        "headers": {"X-Op": "{{ context.operation }}"},
        "body": {"column": "payload"},
    },
    "removed": {"method": "DELETE", "path": "/users/{{ row.email }}"},
}


def test_per_trigger_templates_reach_the_wire_encoded(ws: Workspace, wire_sink: HttpSink) -> None:
    sink = wire_sink
    people(
        ws,
        [
            [1, "a+b@x.com", "ada", '{"v": 1}', "n"],
            [2, "c d/é@x?y#z", "bo", '{"v": 2}', "n"],
        ],
    )
    project(ws, sink, TRIGGERS, mode="mirror", delete_behavior="delete")
    run_ok(ws)
    added = {r.path: r for r in sink.requests}
    assert set(added) == {"/users/a%2Bb%40x.com", "/users/c%20d%2F%C3%A9%40x%3Fy%23z"}
    ada = added["/users/a%2Bb%40x.com"]
    assert ada.method == "POST" and ada.headers["X-Op"] == "added"
    assert ada.headers["X-Name"] == "ADA"
    assert ada.body == {"e": "a+b@x.com", "n": "ada", "sync": "s", "tags": ["a", "b"]}

    # A column no template or mapping reads changes nothing; the body column does.
    sink.clear_requests()
    ws.sql("UPDATE users SET notes = 'edited'")
    assert counts(ws) == NO_CHANGE
    ws.sql("""UPDATE users SET payload = '{"v": 3, "deep": [1]}' WHERE id = 1""")
    assert counts(ws) == {"added": 0, "changed": 1, "removed": 0}
    run_ok(ws)
    (patch,) = sink.requests
    assert (patch.method, patch.path) == ("PATCH", "/users/a%2Bb%40x.com")
    assert patch.body == {"v": 3, "deep": [1]} and patch.headers["X-Op"] == "changed"

    # A removal is addressed by the match value the last run saw.
    sink.clear_requests()
    ws.sql("DELETE FROM users WHERE id = 2")
    run_ok(ws)
    (delete,) = sink.requests
    assert (delete.method, delete.path) == ("DELETE", "/users/c%20d%2F%C3%A9%40x%3Fy%23z")
    assert delete.body is None

    # An edited template re-sends every row once.
    edited = json.loads(json.dumps(TRIGGERS))
    edited["changed"]["headers"]["X-Op"] = "v2-{{ context.operation }}"
    project(ws, sink, edited, mode="mirror", delete_behavior="delete")
    assert counts(ws) == {"added": 0, "changed": 1, "removed": 0}
    sink.clear_requests()
    run_ok(ws)
    assert [r.headers["X-Op"] for r in sink.requests] == ["v2-changed"]
    assert counts(ws) == NO_CHANGE


def test_a_batch_body_loops_over_rows_and_loses_trailing_commas(
    ws: Workspace, wire_sink: HttpSink
) -> None:
    sink = wire_sink
    people(ws, [[i, f"u{i}@x", f"n{i}", None, None] for i in range(1, 6)])
    body = (
        '{"run": "{{ context.sync_run_id }}", "users": [\n'
        "{% for row in rows %}"
        '  {"id": {{ row.id }}, "email": {{ row.email | json }}},\n'
        "{% endfor %}],\n}"
    )
    http = {
        "batch_size": 2,
        "added": {
            "method": "POST",
            "path": "/bulk/{{ context.operation }}",
            "body": {"template": body},
        },
        "changed": {"method": "POST", "path": "/bulk/changed", "body": {"template": body}},
    }
    project(ws, sink, http, mappings=[])  # the body template says what is sent
    report = run_ok(ws)
    assert report["counts"]["succeeded"]["added"] == 5
    assert [r.path for r in sink.requests] == ["/bulk/added"] * 3
    bodies = [r.body for r in sink.requests]
    assert [len(b["users"]) for b in bodies] == [2, 2, 1]
    assert bodies[0]["users"][0] == {"id": 1, "email": "u1@x"}
    assert {b["run"] for b in bodies} == {str(ws.runs()[-1]["sync_run_id"])}
    # The name is read by no template: not hashed.
    ws.sql("UPDATE users SET name = 'zed'")
    assert counts(ws) == NO_CHANGE


def test_template_errors_fail_their_rows_in_the_sync_logs(
    ws: Workspace, wire_sink: HttpSink
) -> None:
    sink = wire_sink
    people(
        ws,
        [
            [1, "ok@x", "ada", None, None],
            [2, "bad-path@x", "zero", None, None],
            [3, "bad-header@x", "line\nbreak", None, None],
            [4, "bad-body@x", "not json", None, None],
        ],
    )
    http = {
        "added": {
            "method": "PUT",
            "path": "/users/{{ row.email }}{% if row.name == 'zero' %}{{ 1 | divided_by: 0 }}"
            "{% endif %}",
            "headers": {"X-Name": "{{ row.name }}"},
            "body": {
                "template": '{"n": {% if row.name == "not json" %}{{ row.name }}'
                "{% else %}{{ row.name | json }}{% endif %}}"
            },
        },
        "changed": {"method": "PUT", "path": "/users/{{ row.email }}"},
    }
    project(ws, sink, http)
    report = run_ok(ws)
    assert report["status"] == "succeeded"
    assert report["counts"]["succeeded"]["added"] == 1
    got = failures(ws)
    assert set(got) == {"2", "3", "4"}
    assert got["2"].startswith("http.added.path template failed: divided_by")
    assert got["3"].startswith("http.added.headers.X-Name template failed: the rendered value")
    assert "line break" in got["3"]
    assert got["4"].startswith("http.added.body template failed: it renders invalid JSON")
    assert [r.path for r in sink.requests] == ["/users/ok%40x"]


def test_hostile_templates_are_bounded_per_row(ws: Workspace, wire_sink: HttpSink) -> None:
    sink = wire_sink
    people(ws, [[1, "a@x", "ada", None, None]])
    http = {
        "added": {
            "method": "PUT",
            "path": "/users/{{ row.email }}",
            "body": {
                "template": '{"x": "{% for i in (1..100000000) %}{% for j in (1..100000000) %}'
                'xxxxxxxx{% endfor %}{% endfor %}"}'
            },
        },
        "changed": {"method": "PUT", "path": "/users/{% include 'lightning.yml' %}"},
    }
    project(ws, sink, http)
    run_ok(ws)
    got = failures(ws)
    assert got["1"].startswith("http.added.body template failed: loop iteration limit")
    assert sink.requests == []
    ws.sql("UPDATE users SET email = 'b@x'")
    project(ws, sink, http, mode="update")
    run_ok(ws)
    reason = failures(ws)["1"]
    assert reason.startswith("http.changed.path template failed: template not found")
    assert "templates cannot include files" in reason


def test_first_run_skip_sends_nothing_then_only_changes(ws: Workspace, wire_sink: HttpSink) -> None:
    sink = wire_sink
    people(ws, [[1, "a@x", "ada", None, None], [2, "b@x", "bo", None, None]])
    http = {
        "added": {"method": "PUT", "path": "/users/{row_id}"},
        "changed": {"method": "PUT", "path": "/users/{row_id}"},
    }
    project(ws, sink, http, first_run="skip")
    first = run_ok(ws)
    assert first["kind"] == "first_run_skip" and first["status"] == "succeeded"
    assert sink.requests == [] and ws.changelog() == []
    (run,) = ws.runs()
    assert run["num_planned_add"] == run["num_attempted_add"] == run["num_succeeded_add"] == 0
    assert counts(ws) == NO_CHANGE

    ws.sql("UPDATE users SET name = 'zed' WHERE id = 2")
    ws.sql("INSERT INTO users VALUES (3, 'c@x', 'cy', NULL, NULL)")
    second = run_ok(ws)
    assert second["kind"] == "run"
    assert sorted(r.path for r in sink.requests) == ["/users/2", "/users/3"]
    assert [(r[1], str(r[2]), r[3]) for r in ws.changelog()] == [
        ("added", "3", "succeeded"),
        ("changed", "2", "succeeded"),
    ]


def test_a_null_key_row_shares_no_match_value(ws: Workspace, wire_sink: HttpSink) -> None:
    # Rows with a NULL key are skipped, not keys: their match value is no other key's.
    people(ws, [[1, "own@x", "a", None, None], [None, "own@x", "b", None, None]])
    put = {"method": "PUT", "path": "/u"}
    project(ws, wire_sink, {"match_column": "email", "added": put, "changed": put})
    report = run_ok(ws)
    assert report["keys"]["null_key_rows"] == 1
    assert report["counts"]["succeeded"]["added"] == 1 and failures(ws) == {}
    assert len(wire_sink.requests) == 1


def test_match_column_null_or_shared_fails_those_rows(ws: Workspace, wire_sink: HttpSink) -> None:
    sink = wire_sink
    people(
        ws,
        [
            [1, "same@x", "a", None, None],
            [2, "same@x", "b", None, None],
            [3, None, "c", None, None],
            [4, "own@x", "d", None, None],
        ],
    )
    http = {
        "match_column": "email",
        "added": {"method": "PUT", "path": "/users/{{ row.email }}"},
        "changed": {"method": "PUT", "path": "/users/{{ row.email }}"},
    }
    project(ws, sink, http)
    report = run_ok(ws)
    assert report["counts"]["succeeded"]["added"] == 1
    assert [r.path for r in sink.requests] == ["/users/own%40x"]
    got = failures(ws)
    assert set(got) == {"1", "2", "3"}
    assert got["1"] == got["2"] == "match column 'email' is not unique (another key has it)"
    assert got["3"] == "match column 'email' is empty (NULL): the row cannot be addressed"

    # Fixed in the model: the rejected rows are sent on the next run.
    ws.sql("UPDATE users SET email = 'two@x' WHERE id = 2")
    ws.sql("UPDATE users SET email = 'three@x' WHERE id = 3")
    sink.clear_requests()
    run_ok(ws)
    assert sorted(r.path for r in sink.requests) == [
        "/users/same%40x",
        "/users/three%40x",
        "/users/two%40x",
    ]
    assert counts(ws) == NO_CHANGE
