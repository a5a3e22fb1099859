"""Settings the HTTP client cannot use, and keys given twice in the project file, are refused
when the project is loaded: exit 2, the key path and the fix, nothing run (README "Bad
input"). No message shows a header value or a URL's credentials.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Workspace
from tests.test_bad_input import HTTP_REQUESTS, ROWS, refused


def http_project(ws: Workspace, **destination: Any) -> None:
    ws.users(ROWS)
    ws.simple_project(
        destination={"type": "http", "base_url": "http://127.0.0.1:9", **destination},
        sync={"http": HTTP_REQUESTS},
    )


# -- headers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Bearer hdr-S3cret\n", "line break (CR or LF)"),  # a token file's last newline
        ("Bearer hdr-S3cret\r\nX-Injected: 1", "line break (CR or LF)"),
        ("Bearer hdr-S3cret\x1b[0m", "control character"),
        ("Bearer hdr-S3cret-é", "non-ASCII"),
        (" Bearer hdr-S3cret", "starts or ends with whitespace"),
    ],
)
def test_a_header_value_the_client_cannot_send(ws: Workspace, value: str, problem: str) -> None:
    http_project(ws, headers={"Authorization": "${LT_HEADER}"})
    message = refused(ws, 2, "run", "s", env={"LT_HEADER": value})
    assert "destinations.dest.headers.Authorization" in message and problem in message
    assert "Fix:" in message and "hdr-S3cret" not in message


@pytest.mark.parametrize("name", ["X Api Key", "X-Key:", "X-Key\n"])
def test_a_header_name_the_client_cannot_send(ws: Workspace, name: str) -> None:
    http_project(ws, headers={name: "v"})
    message = refused(ws, 2, "run", "s")
    assert "destinations.dest.headers." in message and "not a valid header name" in message


def test_a_header_marked_secret_is_checked_too(ws: Workspace) -> None:
    http_project(ws, headers={"X-Custom": {"value": "mark-S3cret\n", "secret": True}})
    message = refused(ws, 2, "run", "s")
    assert "destinations.dest.headers.X-Custom" in message and "line break" in message
    assert "mark-S3cret" not in message


def test_credentials_in_the_url_beside_an_authorization_header(ws: Workspace) -> None:
    http_project(
        ws,
        base_url="http://url-user:url-S3cret@127.0.0.1:9",
        headers={"authorization": "Bearer hdr-S3cret"},
    )
    message = refused(ws, 2, "run", "s")
    assert "destinations.dest.base_url" in message and "only one of them" in message
    assert "Fix: keep one" in message
    assert "url-S3cret" not in message and "hdr-S3cret" not in message


# -- base URLs -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("api.example.com/v1", "has no scheme"),
        ("127.0.0.1:9/v1", "has no scheme"),
        ("ftp://files.example.com", "uses the scheme 'ftp'"),
        ("http:///v1", "has no host"),
        ("http://api.example.com/my path", "contains whitespace"),
        ("http://api.example.com /v1", "contains whitespace"),
        ("http://api.example.com:port/v1", "is not valid"),
        ("http://u:url-S3cret@api.example.com:99999", "is not valid"),
    ],
)
def test_a_malformed_base_url(ws: Workspace, url: str, problem: str) -> None:
    http_project(ws, base_url=url)
    message = refused(ws, 2, "run", "s")
    assert "destinations.dest.base_url" in message and problem in message, message
    assert "Fix:" in message and "url-S3cret" not in message


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("api_base_url", "https://api.lytics.io/v 2", "contains whitespace"),
        ("api_base_url", "https://u:url-S3cret@api.lytics.io:0x1", "is not valid"),
        ("access_token", "dal-S3cret\nX-Injected: 1", "line break (CR or LF)"),
        ("access_token", "dal-S3cret-é", "non-ASCII"),
    ],
)
def test_contentstack_settings_the_client_cannot_use(
    ws: Workspace, setting: str, value: str, problem: str
) -> None:
    ws.users(ROWS)
    ws.simple_project(
        destination={"type": "contentstack", "access_token": "t0ken", setting: "${LT_VALUE}"},
        sync={
            "mappings": [{"from": "name", "to": "name"}],
            "contentstack": {"type": "users", "match": {"from": "email", "to": "email"}},
        },
    )
    message = refused(ws, 2, "run", "s", env={"LT_VALUE": value})
    assert f"destinations.dest.{setting}" in message and problem in message, message
    assert "S3cret" not in message


# -- keys given twice ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "path", "lines"),
    [
        (
            "sources:\n  wh: {type: duckdb, path: warehouse.duckdb}\nsources:\n  x: {}\n",
            "sources",
            (1, 3),
        ),
        (
            "sources:\n  wh:\n    type: duckdb\n    path: warehouse.duckdb\n"
            "    path: other.duckdb\n",
            "sources.wh.path",
            (4, 5),
        ),
        (
            "syncs:\n  s:\n    mappings:\n      - from: email\n        to: email\n"
            "        from: name\n",
            "syncs.s.mappings[0].from",
            (4, 6),
        ),
        ("destinations:\n  d: {type: http, headers: {A: '1', A: '2'}}\n", "headers.A", (2, 2)),
    ],
)
def test_a_key_given_twice_is_refused(
    ws: Workspace, text: str, path: str, lines: tuple[int, int]
) -> None:
    ws.users(ROWS)
    ws.write_text(text)
    message = refused(ws, 2, "run", "s")
    assert "lightning.yml" in message and path in message and "given twice" in message
    assert f"at line {lines[0]} and at line {lines[1]}" in message
    assert "Fix: keep one" in message


def test_the_same_key_in_different_mappings_and_merge_keys_are_fine(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    text = ws.project_file.read_text()
    head, tail = text.split("destinations:\n", 1)
    merged = "  other:\n    <<: *common\n    path: elsewhere\n"
    ws.write_text(head + "destinations:\n  base: &common {type: file, path: out}\n" + merged + tail)
    assert ws.project().destinations["other"].settings() == {"path": "elsewhere"}
    result = ws.cli("plan", "s")
    assert result.exit_code == 0, result.stderr
