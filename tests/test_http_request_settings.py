"""Templated HTTP request settings: bad ones refused with their key path and the fix, and the
pieces of rendering (trailing commas, bounds, no files or environment) on their own."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest

from engine.destinations.base import DeltaRow
from engine.destinations.http_requests import (
    RequestFailed,
    RequestRenderer,
    RequestSpec,
    strip_trailing_commas,
)
from tests.conftest import Workspace
from tests.test_bad_input import ROWS, refused

ADDED = {"method": "PUT", "path": "/users/{row_id}"}


def http_project(ws: Workspace, http: dict[str, Any], **sync: Any) -> None:
    ws.users(ROWS)
    ws.simple_project(
        destination={"type": "http", "base_url": "http://127.0.0.1:9"},
        sync={"http": {"added": ADDED, "changed": ADDED} | http, **sync},
    )


@pytest.mark.parametrize(
    ("http", "sync", "where", "fix"),
    [
        (
            {"added": ADDED | {"body": {"column": "email", "template": "{}"}}},
            {},
            "syncs.s.http.added.body",
            "give exactly one of column or template",
        ),
        (
            {"changed": {"path": "/users/{{ row.email "}},
            {},
            "syncs.s.http.changed.path",
            "does not parse as a Liquid template",
        ),
        (
            {"added": {"path": "/u", "headers": {"X Bad": "1"}}},
            {},
            "syncs.s.http.added.headers",
            "not a valid header name",
        ),
        (
            {"added": {"path": "/u/{{ row[context.sync_id] }}"}},
            {},
            "syncs.s.http.added.path",
            "name each column, as {{ row.<column> }}",
        ),
        (
            {"batch_size": 10, "added": {"path": "/u/{{ row.email }}"}, "changed": {"path": "/u"}},
            {},
            "syncs.s.http.added",
            "a batch goes to one URL",
        ),
        (
            {
                "batch_size": 10,
                "added": {"path": "/u", "body": {"template": '{"e": "{{ row.email }}"}'}},
                "changed": {"path": "/u"},
            },
            {},
            "syncs.s.http.added.body.template",
            "{% for row in rows %}",
        ),
        (
            {"removed": {"method": "DELETE", "path": "/u/{{ row.name }}"}},
            {"mode": "mirror", "delete_behavior": "delete"},
            "syncs.s.http.removed.path",
            "set http.match_column: name",
        ),
        (
            {"changed": ADDED | {"body": {"column": "email"}}},
            {"mode": "mirror", "delete_behavior": "clear"},
            "syncs.s.http.changed.body",
            "use delete_behavior: delete",
        ),
        (
            {"added": ADDED | {"body": {"column": "emial"}}},
            {},
            "syncs.s.http.added.body.column",
            "'email'",
        ),
        (
            {"added": {"path": "/u/{{ row.nmae }}"}},
            {},
            "syncs.s.http.added.path",
            "'name'",
        ),
        ({"match_column": "e_mail"}, {}, "syncs.s.http.match_column", "'email'"),
        ({}, {"first_run": "later"}, "syncs.s.first_run", "'backfill' or 'skip'"),
    ],
)
def test_bad_request_settings_name_the_key_and_the_fix(
    ws: Workspace, http: dict[str, Any], sync: dict[str, Any], where: str, fix: str
) -> None:
    http_project(ws, http, **sync)
    message = refused(ws, 2, "plan", "s")
    assert where in message and fix in message, message


def test_trailing_commas_are_stripped_outside_strings_only() -> None:
    text = '{"a": [1, 2, ], "s": "x, ]", "o": {"k": "v",\n},\n}'
    assert orjson.loads(strip_trailing_commas(text)) == {"a": [1, 2], "s": "x, ]", "o": {"k": "v"}}
    assert strip_trailing_commas('["a\\",]",]') == '["a\\",]"]'


def _row(**values: Any) -> DeltaRow:
    return DeltaRow("1", "added", {}, values, None)


def test_templates_cannot_read_files_or_the_environment(tmp_path: Any) -> None:
    os.environ["LT_TEMPLATE_SECRET"] = "s3cret-value"
    (tmp_path / "secret.txt").write_text("s3cret-file")
    spec = RequestSpec(
        path="/u/{{ env.LT_TEMPLATE_SECRET }}{{ LT_TEMPLATE_SECRET }}{{ context.environ }}",
        body={"template": '{"x": "{{ row.x }}{{ ENV }}"}'},
    )
    renderer = RequestRenderer("added", spec, None)
    assert renderer.path(_row(x=1), {}) == "/u/"
    assert renderer.body([_row(x=1)], {}, batch=False) == b'{"x": "1"}'
    for source in ("{% include 'secret.txt' %}", "{% render '/etc/passwd' %}"):
        with pytest.raises(RequestFailed, match="templates cannot include files"):
            RequestRenderer("added", RequestSpec(path=source), None).path(_row(), {})


def test_a_path_or_body_rendering_megabytes_is_cut_short() -> None:
    huge = "{% for i in (1..5000) %}" + "x" * 1000 + "{% endfor %}"
    with pytest.raises(RequestFailed, match="http.added.path template failed: .*limit"):
        RequestRenderer("added", RequestSpec(path=huge), None).path(_row(), {})
    body = '"{% for i in (1..900000) %}' + "x" * 100 + '{% endfor %}"'
    spec = RequestSpec(path="/u", body={"template": body})
    with pytest.raises(RequestFailed, match="http.added.body template failed: .*limit"):
        RequestRenderer("added", spec, None).body([_row()], {}, batch=False)
