"""A destination that cannot be reached ends the run early instead of retrying every row."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import Workspace


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.each_warehouse
def test_unreachable_destination_aborts_the_run_and_the_next_run_retries(ws: Workspace) -> None:
    ws.users([(i, f"u{i}@x", f"n{i}") for i in range(200)])
    http = {
        "added": {"method": "PUT", "path": "/users/{row_id}"},
        "changed": {"method": "PUT", "path": "/users/{row_id}"},
        "concurrency": 4,
    }
    ws.simple_project(
        destination={
            "type": "http",
            "base_url": f"http://127.0.0.1:{_closed_port()}",
            "max_attempts": 2,
        },
        sync={"http": http},
    )
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 1
    report = result.json()
    assert "Cannot reach http://127.0.0.1:" in report["error"]
    assert report["aborted"] >= 150  # stopped after a few requests, the rest never tried
    statuses = {row[3] for row in ws.changelog()}
    assert statuses <= {"failed", "aborted"}
    assert ws.runs()[-1]["status"] == "failed"
    # Every row is planned again on the next run (failed and aborted alike).
    assert ws.cli("plan", "s", "--json").json()["counts"]["added"] == 200
