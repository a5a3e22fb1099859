"""Identifiers reach the server exactly as documented: every byte of the identifier's UTF-8
outside the unreserved set ``A-Z a-z 0-9 - . _ ~`` percent-encoded, checked on the request
line a bare socket server received (no HTTP library decodes it first)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Workspace
from tests.fakes.raw_http import RawHttpServer

UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

HOSTILE_IDS = [
    "ada@example.com",
    "semi;colon",
    "amp&ersand=1",
    "a/b",
    "what?",
    "hash#tag",
    "100%",
    "%41already-escaped",
    "space here",
    "plus+sign",
    "equals=sign",
    "comma,dollar$bang!star*",
    "quote'paren(x)",
    "colon:bracket[0]",
    "café-ü-日本",
    "tilde~dot.dash-under_",
    "back\\slash|pipe^`{}<>\"",
]


def documented_encoding(value: str) -> str:
    """The README's rule, written out independently of urllib."""
    return "".join(
        char if char in UNRESERVED else "".join(f"%{byte:02X}" for byte in char.encode())
        for char in value
    )


def hostile_model(ws: Workspace) -> None:
    ws.sql("CREATE OR REPLACE TABLE people (id VARCHAR, name VARCHAR)")
    ws.insert_many("INSERT INTO people VALUES (?, ?)", [[i, "n"] for i in HOSTILE_IDS])


def write_project(ws: Workspace, destination: dict[str, Any], sync: dict[str, Any]) -> None:
    ws.write_project(
        {
            "sources": {"wh": ws.source()},
            "models": {
                "people": {"source": "wh", "primary_key": "id", "sql": "select * from people"}
            },
            "destinations": {"dest": destination},
            "syncs": {
                "s": {
                    "model": "people",
                    "destination": "dest",
                    "mode": "upsert",
                    "mappings": [{"from": "name", "to": "name"}],
                }
                | sync
            },
        }
    )


def run_once(ws: Workspace) -> None:
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    counts = result.json()["counts"]
    assert counts["succeeded"]["added"] == len(HOSTILE_IDS), counts


@pytest.mark.each_warehouse
def test_http_row_id_is_percent_encoded_on_the_request_line(ws: Workspace) -> None:
    hostile_model(ws)
    with RawHttpServer() as server:
        write_project(
            ws,
            {"type": "http", "base_url": f"{server.url}/api/v1"},
            {
                "http": {
                    "added": {"method": "PUT", "path": "/users/{row_id}"},
                    "changed": {"method": "PUT", "path": "/users/{row_id}"},
                }
            },
        )
        run_once(ws)
        received = sorted(server.requests)
    expected = sorted(
        f"PUT /api/v1/users/{documented_encoding(row_id)} HTTP/1.1".encode()
        for row_id in HOSTILE_IDS
    )
    assert received == expected


@pytest.mark.each_warehouse
def test_contentstack_identifier_is_percent_encoded_on_the_request_line(ws: Workspace) -> None:
    hostile_model(ws)
    with RawHttpServer(body=b'{"data":{},"status":200}') as server:
        write_project(
            ws,
            {"type": "contentstack", "access_token": "t", "api_base_url": server.url},
            {"contentstack": {"type": "users", "match": {"from": "id", "to": "external_id"}}},
        )
        run_once(ws)
        received = sorted(server.requests)
    expected = sorted(
        f"PATCH /v2/attributes/user/external_id/{documented_encoding(row_id)} HTTP/1.1".encode()
        for row_id in HOSTILE_IDS
    )
    assert received == expected
