"""``send: changed_fields`` end to end on each warehouse: a changed row sends only the mapped
fields whose columns changed (PATCH against the local HTTP sink and the fake Contentstack),
added rows and retried rows send every field, a mapping change sends every field once, and
the settings it cannot work with are refused with their key path and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.conftest import Workspace
from tests.fakes.contentstack import FakeContentstack
from tests.fakes.http_sink import HttpSink, RecordedRequest
from tests.test_bad_input import refused
from tests.test_contentstack import cs  # noqa: F401
from tests.test_contentstack import project as cs_project
from tests.test_contentstack import users as cs_users


@pytest.fixture
def patch_sink() -> Iterator[HttpSink]:
    with HttpSink(record_requests=True) as server:
        yield server


MAPPINGS: list[dict[str, Any]] = [
    {"from": "email", "to": "email"},
    {"from": "name", "to": "name"},
    {"template": "{{ row.first | upcase }} {{ row.last }}", "to": "profile.full"},
    {"from": "first", "to": "profile.first"},
    {"static": "EMEA", "to": "region"},
    {"variable": "sync_run_id", "to": "run"},
]
REQUESTS = {
    "added": {"method": "POST", "path": "/users/{row_id}"},
    "changed": {"method": "PATCH", "path": "/users/{row_id}"},
}


def people(ws: Workspace, rows: list[list[Any]]) -> None:
    ws.sql(
        "CREATE OR REPLACE TABLE users (id BIGINT, email VARCHAR, name VARCHAR, "
        "first VARCHAR, last VARCHAR, notes VARCHAR)"
    )
    ws.insert_many("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)", rows)


ROWS = [
    [1, "a@x", "Ada", "ada", "L", "n"],
    [2, "b@x", "Bo", "bo", "K", "n"],
    [3, "c@x", "Cy", "cy", "M", "n"],
]


def project(
    ws: Workspace,
    sink: HttpSink,
    mappings: list[dict[str, Any]] | None = None,
    send: str | None = "changed_fields",
    **sync: Any,
) -> None:
    destination = {"type": "http", "base_url": sink.url, "max_attempts": 1}
    settings: dict[str, Any] = {"http": REQUESTS, "mappings": mappings or MAPPINGS} | sync
    if send is not None:
        settings["send"] = send
    ws.simple_project(destination, settings)


def run_ok(ws: Workspace) -> dict[str, Any]:
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()  # type: ignore[no-any-return]


def sent(sink: HttpSink) -> dict[str, RecordedRequest]:
    """The requests since the last call, by row id (the last path segment)."""
    by_row = {r.path.rsplit("/", 1)[1]: r for r in sink.requests}
    sink.clear_requests()
    return by_row


def everything(row: list[Any], run: int) -> dict[str, Any]:
    _, email, name, first, last, _ = row
    return {
        "email": email,
        "name": name,
        "profile": {"full": f"{first.upper()} {last}", "first": first},
        "region": "EMEA",
        "run": str(run),
    }


pytestmark = pytest.mark.each_warehouse


def test_a_changed_row_sends_only_its_changed_fields(ws: Workspace, patch_sink: HttpSink) -> None:
    people(ws, ROWS)
    project(ws, patch_sink)
    first = run_ok(ws)["sync_run_id"]
    added = sent(patch_sink)
    assert {k: (r.method, r.body) for k, r in added.items()} == {
        str(row[0]): ("POST", everything(row, first)) for row in ROWS
    }

    # A column mapping; a template and a nested column reading `first`; a template's
    # other column; a column nothing reads (no change at all).
    ws.sql("UPDATE users SET name = 'Ada2' WHERE id = 1")
    ws.sql("UPDATE users SET first = 'bob' WHERE id = 2")
    ws.sql("UPDATE users SET last = 'Q', notes = 'x' WHERE id = 3")
    ws.sql("INSERT INTO users VALUES (4, 'd@x', 'Di', 'di', 'P', 'n')")
    second = run_ok(ws)["sync_run_id"]
    requests = sent(patch_sink)
    assert {k: (r.method, r.body) for k, r in requests.items()} == {
        "1": ("PATCH", {"name": "Ada2"}),
        "2": ("PATCH", {"profile": {"full": "BOB K", "first": "bob"}}),
        "3": ("PATCH", {"profile": {"full": "CY Q"}}),
        "4": ("POST", everything([4, "d@x", "Di", "di", "P", "n"], second)),
    }
    ws.sql("UPDATE users SET notes = 'only notes'")
    assert not any(run_ok(ws)["counts"]["attempted"].values()) and not sent(patch_sink)


def test_batches_send_only_changed_fields_per_row(ws: Workspace, patch_sink: HttpSink) -> None:
    people(ws, ROWS)
    requests = {op: {"method": r["method"], "path": "/users"} for op, r in REQUESTS.items()}
    mappings = [{"from": "email", "to": "email"}, {"from": "name", "to": "name"}]
    project(ws, patch_sink, mappings, http={**requests, "batch_size": 10})
    run_ok(ws)
    patch_sink.clear_requests()
    ws.sql("UPDATE users SET name = 'N' WHERE id = 1")
    ws.sql("UPDATE users SET email = 'e@x' WHERE id = 2")
    run_ok(ws)
    (batch,) = patch_sink.requests
    assert batch.method == "PATCH"
    assert batch.body == [{"name": "N", "row_id": "1"}, {"email": "e@x", "row_id": "2"}]


def test_a_failed_changed_row_is_retried_with_every_field(
    ws: Workspace, patch_sink: HttpSink
) -> None:
    people(ws, ROWS)
    project(ws, patch_sink)
    run_ok(ws)
    sent(patch_sink)
    ws.sql("UPDATE users SET name = 'Ada2' WHERE id = 1")
    ws.sql("UPDATE users SET email = 'b2@x' WHERE id = 2")
    patch_sink.fail_row("1", 422, "no")
    failed = run_ok(ws)
    assert failed["counts"]["failed"]["changed"] == 1
    assert sent(patch_sink)["2"].body == {"email": "b2@x"}
    patch_sink.clear_failures()

    # The row the destination never took still gets its new name, whether nothing changed
    # since or another field did (with every field: the failed attempt may have reached it,
    # so no field is known to be there).
    retry = run_ok(ws)["sync_run_id"]
    requests = sent(patch_sink)
    assert set(requests) == {"1"}
    row = [1, "a@x", "Ada2", "ada", "L", "n"]
    assert (requests["1"].method, requests["1"].body) == ("PATCH", everything(row, retry))
    ws.sql("UPDATE users SET name = 'Ada3' WHERE id = 1")
    patch_sink.fail_row("1", 422, "no")
    run_ok(ws)
    sent(patch_sink)
    patch_sink.clear_failures()
    ws.sql("UPDATE users SET email = 'a2@x' WHERE id = 1")
    retry = run_ok(ws)["sync_run_id"]
    row = [1, "a2@x", "Ada3", "ada", "L", "n"]
    assert {k: r.body for k, r in sent(patch_sink).items()} == {"1": everything(row, retry)}

    # Delivered: the next change of that row sends only its own field again.
    ws.sql("UPDATE users SET last = 'Z' WHERE id = 1")
    run_ok(ws)
    assert {k: r.body for k, r in sent(patch_sink).items()} == {"1": {"profile": {"full": "ADA Z"}}}


def test_a_mapping_change_or_turning_it_on_sends_every_field_once(
    ws: Workspace, patch_sink: HttpSink
) -> None:
    people(ws, ROWS)
    project(ws, patch_sink, send=None)
    run_ok(ws)
    sent(patch_sink)

    # The first run with the option compares with a plan that has no field hashes.
    project(ws, patch_sink)
    ws.sql("UPDATE users SET name = 'Ada2' WHERE id = 1")
    run = run_ok(ws)["sync_run_id"]
    assert sent(patch_sink)["1"].body == everything([1, "a@x", "Ada2", "ada", "L", "n"], run)
    ws.sql("UPDATE users SET name = 'Ada3' WHERE id = 1")
    run_ok(ws)
    assert sent(patch_sink)["1"].body == {"name": "Ada3"}

    # A new mapping re-sends every row, whole.
    project(ws, patch_sink, [*MAPPINGS, {"static": 1, "to": "version"}])
    run = run_ok(ws)["sync_run_id"]
    requests = sent(patch_sink)
    assert set(requests) == {"1", "2", "3"}
    body = everything([1, "a@x", "Ada3", "ada", "L", "n"], run) | {"version": 1}
    assert requests["1"].body == body


def test_a_changed_address_column_sends_every_field(ws: Workspace, patch_sink: HttpSink) -> None:
    people(ws, ROWS)
    requests = {
        op: {"method": r["method"], "path": "/users/{{ row.notes }}-{row_id}"}
        for op, r in REQUESTS.items()
    }
    mappings = [{"from": "email", "to": "email"}, {"from": "name", "to": "name"}]
    project(ws, patch_sink, mappings, http=requests)
    run_ok(ws)
    patch_sink.clear_requests()
    ws.sql("UPDATE users SET notes = 'moved' WHERE id = 1")
    ws.sql("UPDATE users SET name = 'Bo2' WHERE id = 2")
    run_ok(ws)
    bodies = {r.path: r.body for r in patch_sink.requests}
    assert bodies == {
        "/users/moved-1": {"email": "a@x", "name": "Ada"},
        "/users/n-2": {"name": "Bo2"},
    }


def test_contentstack_users_patch_only_changed_attributes(
    ws: Workspace,
    cs: FakeContentstack,  # noqa: F811
) -> None:
    cs_users(
        ws,
        [
            (1, "a@x.com", "ext-1", "F1", "pro", ["a"], "u1"),
            (2, "b@x.com", "ext-2", "F2", "free", ["a"], "u2"),
        ],
    )
    cs_project(ws, cs)
    ws.write_project(_with_send(ws))
    run_ok(ws)
    cs.clear_requests()
    ws.sql("UPDATE users SET plan = 'gold' WHERE id = 1")
    run_ok(ws)
    (request,) = cs.requests
    assert request.method == "PATCH" and request.json() == {"plan": "gold"}
    assert cs.profile("external_id", "ext-1")["first_name"] == "F1"


def _with_send(ws: Workspace) -> dict[str, Any]:
    project = yaml.safe_load(ws.project_file.read_text(encoding="utf-8"))
    project["syncs"]["s"]["send"] = "changed_fields"
    return project  # type: ignore[no-any-return]


# -- settings it cannot work with ------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "where", "fix"),
    [
        (
            {"http": {**REQUESTS, "changed": {"method": "PUT", "path": "/u/{row_id}"}}},
            "syncs.s.http.changed.method is PUT",
            "set syncs.s.http.changed.method: PATCH",
        ),
        (
            {"http": {**REQUESTS, "changed": REQUESTS["changed"] | {"body": {"column": "name"}}}},
            "syncs.s.http.changed.body",
            "remove the changed request's body",
        ),
        ({"mode": "insert"}, "syncs.s.send: changed_fields does nothing under mode insert", "Fix"),
        ({"mode": "all"}, "under mode all", "remove send"),
        ({"send": "some_fields"}, "syncs.s.send", "'all_fields' or 'changed_fields'"),
    ],
)
def test_settings_it_cannot_work_with_are_refused(
    ws: Workspace, changes: dict[str, Any], where: str, fix: str
) -> None:
    people(ws, ROWS)
    sync = {"http": REQUESTS, "mappings": MAPPINGS, "send": "changed_fields"} | changes
    ws.simple_project({"type": "http", "base_url": "http://127.0.0.1:9"}, sync)
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.send" in message and where in message and fix in message, message


def test_a_file_destination_or_contentstack_put_is_refused(
    ws: Workspace,
    cs: FakeContentstack,  # noqa: F811
) -> None:
    people(ws, ROWS)
    ws.simple_project(sync={"send": "changed_fields"})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.send: changed_fields needs updates with PATCH" in message
    assert "the file destination writes whole records. Fix: remove send" in message
    cs_users(ws, [])
    cs_project(
        ws,
        cs,
        {"type": "users", "method": "PUT", "match": {"from": "external_id", "to": "external_id"}},
    )
    ws.write_project(_with_send(ws))
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.contentstack.method is PUT" in message
    assert "Fix: set syncs.s.contentstack.method: PATCH" in message
