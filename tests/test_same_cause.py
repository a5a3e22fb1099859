"""A destination that fails every row for one reason not about the rows (a wrong path, a
redirect, TLS, a refused connection) ends the run as a fatal error, not as thousands of
failed rows; a failure that may be about the rows never does."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from engine.same_cause import SAME_CAUSE_ROWS
from tests.conftest import Workspace
from tests.fakes.contentstack import FakeContentstack
from tests.fakes.http_sink import HttpSink
from tests.fakes.raw_http import RawHttpServer

CONCURRENCY = 4


def express_404(line: bytes) -> tuple[int, dict[str, str], bytes]:
    """What a web framework answers for a route it lacks: the path in the body."""
    method, target, _ = line.split(b" ")
    return 404, {"Content-Type": "text/html"}, b"<pre>Cannot " + method + b" " + target + b"</pre>"


def redirect(line: bytes) -> tuple[int, dict[str, str], bytes]:
    target = line.split(b" ")[1].decode()
    return 301, {"Location": f"https://127.0.0.1:1/v2{target}"}, b""


def http_project(
    ws: Workspace, base_url: str, n: int, concurrency: int = CONCURRENCY, **options: Any
) -> None:
    ws.users([(i, f"u{i}@x", f"n{i}") for i in range(1, n + 1)])
    request = {"method": "PUT", "path": "/users/{row_id}"}
    ws.simple_project(
        destination={"type": "http", "base_url": base_url, "max_attempts": 1},
        sync={"http": {"added": request, "changed": request, "concurrency": concurrency}}
        | options,
    )


def statuses(ws: Workspace) -> dict[str, int]:
    counted: dict[str, int] = {}
    for row in ws.changelog():
        counted[row[3]] = counted.get(row[3], 0) + 1
    return counted


def run(ws: Workspace, exit_code: int) -> dict[str, Any]:
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == exit_code, result.stdout + result.stderr
    report: dict[str, Any] = result.json()
    assert report["committed"] is True
    return report


@pytest.mark.each_warehouse
def test_a_404_on_the_base_path_for_every_row_ends_the_run(ws: Workspace) -> None:
    with RawHttpServer(respond=express_404) as server:
        http_project(ws, server.url, 60)
        report = run(ws, exit_code=1)
        sent = len(server.requests)
    assert report["status"] == "failed"
    assert f"The first {SAME_CAUSE_ROWS} rows sent to the http destination 'dest'" in (
        report["error"]
    )
    assert "not about the rows: HTTP 404 Not Found: <pre>Cannot PUT /users/" in report["error"]
    assert sent < SAME_CAUSE_ROWS + 2 * CONCURRENCY  # not 60
    counted = statuses(ws)
    assert counted["failed"] == sent and counted["aborted"] == 60 - sent
    assert ws.runs()[-1]["status"] == "failed"
    assert ws.cli("plan", "s", "--json").json()["counts"]["added"] == 60  # nothing lost


@pytest.mark.each_warehouse
def test_a_404_that_may_be_about_the_row_fails_rows_only(ws: Workspace) -> None:
    """Under mode update a 404 may mean the record is missing: every row is tried."""
    with RawHttpServer(respond=express_404) as server:
        http_project(ws, server.url, 30, mode="update")
        report = run(ws, exit_code=0)
        assert len(server.requests) == 30
    assert report["status"] == "succeeded"
    assert statuses(ws) == {"failed": 30}


@pytest.mark.each_warehouse
def test_a_redirect_names_its_location_and_ends_the_run(ws: Workspace) -> None:
    with RawHttpServer(respond=redirect) as server:
        http_project(ws, server.url, 3)  # fewer rows than the rule's count: all of them
        report = run(ws, exit_code=1)
    reasons = {row[2]: row[4] for row in ws.changelog()}
    assert reasons["2"] == (
        "HTTP 301 Moved Permanently (a redirect to Location https://127.0.0.1:1/v2/users/2; "
        "redirects are not followed)"
    )
    assert "Location https://127.0.0.1:1/v2/users/" in report["error"]
    assert ws.runs()[-1]["status"] == "failed"


@pytest.mark.each_warehouse
def test_tls_to_a_plain_http_server_ends_the_run(ws: Workspace) -> None:
    with HttpSink() as sink:  # answers a TLS handshake as plain HTTP
        http_project(ws, sink.url.replace("http://", "https://"), 3)
        report = run(ws, exit_code=1)
    assert "not about the rows: request failed after 1 attempt(s): ConnectError" in (
        report["error"]
    )
    assert "SSL" in report["error"]
    assert statuses(ws) == {"failed": 3}


@pytest.mark.each_warehouse
def test_a_refused_connection_ends_even_a_small_run(ws: Workspace) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http_project(ws, f"http://127.0.0.1:{port}", 2)
    report = run(ws, exit_code=1)
    assert "The first 2 rows sent to the http destination 'dest' all failed" in report["error"]


@pytest.mark.each_warehouse
def test_rows_failing_for_their_own_reasons_do_not_end_the_run(ws: Workspace) -> None:
    answers = {b"/users/1 ": 200}

    def some_succeed(line: bytes) -> tuple[int, dict[str, str], bytes]:
        status = next((s for target, s in answers.items() if target in line), 404)
        return status, {}, b"{}"

    with RawHttpServer(respond=some_succeed) as server:
        # One at a time, ordered by key: row 1 arrives first, and a success turns the rule
        # off for the rest of the run (the 39 404s after it are each row's own).
        http_project(ws, server.url, 40, concurrency=1)
        report = run(ws, exit_code=0)
        assert len(server.requests) == 40
    assert report["counts"]["failed"]["added"] == 39


@pytest.mark.each_warehouse
def test_contentstack_wrong_base_path_ends_the_run_but_unknown_profiles_do_not(
    ws: Workspace,
) -> None:
    ws.sql("CREATE OR REPLACE TABLE users (id BIGINT, ext VARCHAR, plan VARCHAR)")
    ws.insert_many("INSERT INTO users VALUES (?, ?, ?)", [[i, f"e{i}", "pro"] for i in range(30)])
    with FakeContentstack(create_on_write=False) as cs:

        def write(base_url: str) -> None:
            ws.write_project(
                {
                    "sources": {"wh": ws.source()},
                    "models": {
                        "users": {"source": "wh", "primary_key": "id", "sql": "select * from users"}
                    },
                    "destinations": {
                        "cs": {
                            "type": "contentstack",
                            "access_token": "at.fakedal.token",
                            "api_base_url": base_url,
                            "max_attempts": 1,
                        }
                    },
                    "syncs": {
                        "s": {
                            "model": "users",
                            "destination": "cs",
                            "mode": "update",
                            "mappings": [{"from": "plan", "to": "plan"}],
                            "contentstack": {
                                "type": "users",
                                "match": {"from": "ext", "to": "external_id"},
                                "concurrency": CONCURRENCY,
                            },
                        }
                    },
                }
            )

        write(f"{cs.url}/lytics")  # a wrong path: the server's own 404 for every row
        report = run(ws, exit_code=1)
        assert "not about the rows: HTTP 404 Not Found: 404: Not Found." in report["error"]
        assert len(cs.requests) < SAME_CAUSE_ROWS + 2 * CONCURRENCY
        write(cs.url)  # no profile exists: 404 NOTFOUND-003 is about each row
        report = run(ws, exit_code=0)
        assert report["counts"]["failed"]["changed"] + report["counts"]["failed"]["added"] == 30


@pytest.mark.each_warehouse
def test_a_batch_answered_404_on_its_path_is_not_halved_and_ends_the_run(ws: Workspace) -> None:
    with RawHttpServer(respond=express_404) as server:
        ws.users([(i, f"u{i}@x", f"n{i}") for i in range(1, 401)])
        request = {"method": "POST", "path": "/users/batch"}
        ws.simple_project(
            destination={"type": "http", "base_url": server.url, "max_attempts": 1},
            sync={
                "http": {
                    "added": request,
                    "changed": request,
                    "batch_size": 50,
                    "concurrency": 2,
                }
            },
        )
        report = run(ws, exit_code=1)
        sent = len(server.requests)
    assert sent <= 2  # one answer per batch in flight, no halving down to single rows
    assert "not about the rows: HTTP 404 Not Found: <pre>Cannot POST /users/batch" in (
        report["error"]
    )
    counted = statuses(ws)
    assert counted["failed"] == 50 * sent and counted["aborted"] == 400 - 50 * sent
