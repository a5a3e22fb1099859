"""``workers: N``: the delta is delivered from N processes, each with its share of the sync's
limits; the run's process records every outcome and commits once.

Runs go through the real CLI against :class:`HttpSink` (127.0.0.1). A worker killed with
SIGKILL fails the run and the next run re-sends exactly what it had not confirmed; SIGINT to
the whole process group ends the run as cancelled and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engine.delivery_workers import part_of, shares
from engine.run import run_sync
from tests.conftest import REPO, Workspace
from tests.fakes.http_sink import HttpSink
from tests.fakes.raw_http import RawHttpServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")

ROWS = 600
PUT = {"method": "PUT", "path": "/users/{row_id}"}


def project(ws: Workspace, url: str, rows: int = ROWS, **http: Any) -> None:
    ws.users([(i, f"u{i}@x", f"n{i}") for i in range(1, rows + 1)])
    ws.simple_project(
        destination={"type": "http", "base_url": url, "max_attempts": 1},
        sync={"workers": 2, "http": {"added": PUT, "changed": PUT, "concurrency": 4} | http},
    )


def model_rows(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {
        str(i): {"email": e, "name": n} for i, e, n in ws.query("SELECT id, email, name FROM users")
    }


def start_run(ws: Workspace, log: Path) -> subprocess.Popen[bytes]:
    """``lightning-sync run s --json`` in a session (a process group) of its own."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", "s", "--project", str(ws.project_file)]
            + ["--json"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def workers_of(proc: subprocess.Popen[bytes]) -> list[int]:
    """The run's worker processes (the spawned children running engine code)."""
    pids = []
    for pid in children(proc.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            pids.append(pid)
    return pids


def wait_for(sink: HttpSink, requests: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while sink.request_count < requests:
        if proc.poll() is not None:
            pytest.fail(f"the run ended first:\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run sent too few requests in 60 s")
        time.sleep(0.01)


def report_of(log: Path) -> dict[str, Any]:
    output = log.read_text()
    return dict(json.loads(next(line for line in output.splitlines() if line.startswith("{"))))


def run_aborted(ws: Workspace, run_id: int) -> set[str]:
    rows = ws.query(
        "SELECT row_id, status FROM hightouch_audit.sync_changelog WHERE sync_run_id = ?",
        [run_id],
    )
    return {row_id for row_id, status in rows if status == "aborted"}


def resend_and_check(ws: Workspace, sink: HttpSink, aborted: set[str]) -> None:
    """The next run (one process) sends exactly the aborted rows; the sink is the model."""
    sink.latency_seconds = 0
    after = run_sync(ws.project(), "s")
    assert after.status == "succeeded", after.error
    resent = ws.query(
        "SELECT row_id FROM hightouch_audit.sync_changelog WHERE sync_run_id = ?",
        [after.sync_run_id],
    )
    assert {r[0] for r in resent} == aborted and len(resent) == len(aborted)
    assert sink.records["users"] == model_rows(ws)


def test_shares_add_up_to_the_total() -> None:
    assert shares(8, 2) == [4, 4]
    assert shares(5, 2) == [3, 2]
    assert shares(3, 3) == [1, 1, 1]
    assert all(sum(shares(total, n)) == total for total in range(4, 40) for n in range(1, 5))


@pytest.mark.each_warehouse
def test_two_workers_deliver_every_row_once(ws: Workspace) -> None:
    with HttpSink(fail_rows={"7": (422, "bad email"), "300": (422, "bad email")}) as sink:
        project(ws, sink.url)
        report = ws.cli("run", "s", "--json").json()
        assert report["status"] == "succeeded", report
        assert report["workers"] == 2, report
        assert (
            report["counts"]["succeeded"]["added"] == ROWS - 2
            and report["counts"]["failed"]["added"] == 2
        )
        assert sink.request_count == ROWS  # each row once
        assert len(sink.records["users"]) == ROWS - 2
        failed = {r[2]: r[4] for r in ws.changelog() if r[3] == "failed"}
        assert set(failed) == {"7", "300"} and "bad email" in failed["7"]
        ws.sql("UPDATE users SET name = 'changed' WHERE id <= 10")
        again = ws.cli("run", "s", "--json").json()
        assert sum(again["counts"]["succeeded"].values()) == 9  # row 7 fails again
        assert sum(again["counts"]["failed"].values()) == 2


@pytest.mark.each_warehouse
def test_a_killed_worker_fails_the_run_and_the_next_run_resends_its_rows(ws: Workspace) -> None:
    with HttpSink() as sink:
        project(ws, sink.url)
        sink.latency_seconds = 0.02  # 600 rows at concurrency 4: about 3 s
        log = ws.root / "killed_worker.log"
        proc = start_run(ws, log)
        wait_for(sink, 60, proc, log)
        workers = workers_of(proc)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        assert proc.wait(timeout=60) == 1, log.read_text()
        report = report_of(log)
        assert (report["status"], report["committed"]) == ("failed", True)
        assert "delivery worker" in report["error"] and "killed by SIGKILL" in report["error"]
        assert sink.request_count < ROWS
        stopped = ws.runs()[-1]
        assert stopped["status"] == "failed" and "SIGKILL" in stopped["error"]
        aborted = run_aborted(ws, stopped["sync_run_id"])
        assert aborted and len(aborted) == report["aborted"]
        assert report["counts"]["succeeded"]["added"] + len(aborted) == ROWS
        resend_and_check(ws, sink, aborted)


@pytest.mark.each_warehouse
def test_sigint_to_the_process_group_cancels_every_worker(ws: Workspace) -> None:
    with HttpSink() as sink:
        project(ws, sink.url)
        sink.latency_seconds = 0.02
        log = ws.root / "interrupted.log"
        proc = start_run(ws, log)
        wait_for(sink, 60, proc, log)
        assert len(workers_of(proc)) == 2
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 1, log.read_text()
        deadline = time.monotonic() + 10
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_members(proc.pid) == [], "a process of the run outlived it"
        report = report_of(log)
        assert report["status"] == "failed" and "SIGINT" in report["error"], report
        assert "worker" not in report["error"]
        aborted = run_aborted(ws, ws.runs()[-1]["sync_run_id"])
        assert aborted and report["counts"]["succeeded"]["added"] + len(aborted) == ROWS
        resend_and_check(ws, sink, aborted)


@pytest.mark.each_warehouse
def test_workers_of_a_killed_run_exit_and_the_next_run_resends_everything(ws: Workspace) -> None:
    with HttpSink() as sink:
        project(ws, sink.url)
        sink.latency_seconds = 0.02
        log = ws.root / "killed_run.log"
        proc = start_run(ws, log)
        wait_for(sink, 60, proc, log)
        workers = workers_of(proc)
        assert len(workers) == 2, workers
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived the killed run"
            time.sleep(0.05)
        assert sink.request_count < ROWS
        sink.latency_seconds = 0
        after = run_sync(ws.project(), "s")
        assert after.status == "succeeded", after.error
        assert after.counters.succeeded["added"] == ROWS  # nothing was committed before
        assert sink.records["users"] == model_rows(ws)


@pytest.mark.each_warehouse
def test_a_fatal_error_in_one_worker_stops_them_all(ws: Workspace) -> None:
    """Every row of the first worker's part is answered 401: it ends; the other worker,
    which never sees a 401, is stopped by the run."""
    first = {str(i) for i in range(1, ROWS + 1) if part_of(str(i), 2) == 0}
    with HttpSink(fail_rows={row_id: (401, "token revoked") for row_id in first}) as sink:
        project(ws, sink.url)
        sink.latency_seconds = 0.02  # the other worker alone would send for 3 s
        report = ws.cli("run", "s", "--json").json()
        assert report["status"] == "failed" and "401" in report["error"], report
        aborted = run_aborted(ws, ws.runs()[-1]["sync_run_id"])
        assert len(aborted) == report["aborted"] > ROWS // 2
        assert report["counts"]["succeeded"]["added"] + len(aborted) == ROWS
        assert sink.request_count < ROWS // 4, "the other worker was not stopped"
        sink.fail_rows = {}
        resend_and_check(ws, sink, aborted)


def express_404(line: bytes) -> tuple[int, dict[str, str], bytes]:
    method, target, _ = line.split(b" ")
    return 404, {"Content-Type": "text/html"}, b"<pre>Cannot " + method + b" " + target + b"</pre>"


@pytest.mark.each_warehouse
def test_the_same_cause_rule_sees_every_workers_answers(ws: Workspace) -> None:
    with RawHttpServer(respond=express_404) as server:
        project(ws, server.url)
        report = ws.cli("run", "s", "--json").json()
        sent = len(server.requests)
    assert report["status"] == "failed"
    assert "all failed the same way" in report["error"], report["error"]
    assert sent < ROWS // 2
    assert report["counts"]["failed"]["added"] == sent and report["aborted"] == ROWS - sent


@pytest.mark.each_warehouse
def test_the_rate_limit_is_the_syncs_total(ws: Workspace) -> None:
    """20 requests a second over two workers: each takes 10 (not 20), so 60 rows take 2 s."""
    with HttpSink() as sink:
        project(ws, sink.url, rows=60, rate_limit_per_second=20)
        report = ws.cli("run", "s", "--json").json()
        assert report["status"] == "succeeded", report
        assert len(sink.records["users"]) == 60
    # Each worker's limiter lets its share (10) through at once, then 10 a second.
    assert report["timings"]["deliver"] >= 1.8


HTTP = {"type": "http", "base_url": "http://127.0.0.1:9"}


def http(**settings: Any) -> dict[str, Any]:
    return {"http": {"added": PUT, "changed": PUT} | settings}


@pytest.mark.parametrize(
    ("destination", "sync", "expected"),
    [
        (HTTP, {"workers": 0, **http()}, "syncs.s.workers: 0 is not a number of processes. Fix"),
        (HTTP, {"workers": "two", **http()}, "syncs.s.workers: 'two' is not a number of"),
        ({"type": "file", "path": "out"}, {"workers": 2}, "writes from one process"),
        (
            HTTP,
            {"workers": 5, **http(concurrency=4)},
            "syncs.s.workers: 5 processes need a concurrency of at least 5",
        ),
        (
            HTTP,
            {"workers": 3, **http(rate_limit_per_second=2)},
            "syncs.s.workers: 3 processes would share syncs.s.http.rate_limit_per_second of 2",
        ),
    ],
)
def test_workers_the_sync_cannot_use_are_refused(
    tmp_path: Path, destination: dict[str, Any], sync: dict[str, Any], expected: str
) -> None:
    ws = Workspace(tmp_path)
    ws.simple_project(destination=destination, sync=sync)
    result = ws.cli("plan", "s")
    assert result.exit_code != 0
    assert expected in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.each_warehouse
def test_contentstack_attributes_are_created_once_and_every_worker_sends(ws: Workspace) -> None:
    """The first worker creates the missing attributes; the other only finds them. The
    management token comes from ``${ENV}``, which each worker resolves itself."""
    from tests.fakes.contentstack import FakeContentstack

    users = [(i, f"u{i}@x", f"n{i}") for i in range(1, 41)]
    with FakeContentstack() as cs:
        ws.users(users)
        ws.write_project(
            {
                "sources": {"wh": ws.source()},
                "models": {"users": {"source": "wh", "primary_key": "id", "sql": USERS_SQL}},
                "destinations": {
                    "cs": {
                        "type": "contentstack",
                        "edge_api_base_url": cs.url,
                        "management_api_base_url": cs.url,
                        "project_uid": "6650f1a2b3c4d5e6f7a8b9c0",
                        "auth_token": "${CS_MANAGEMENT_TOKEN}",
                    }
                },
                "syncs": {
                    "s": {
                        "model": "users",
                        "destination": "cs",
                        "workers": 2,
                        "mappings": [
                            {"from": "email", "to": "email"},
                            {"from": "name", "to": "name"},
                        ],
                        "contentstack": {"type": "attributes", "match": {"from": "uid"}},
                    }
                },
            }
        )
        result = ws.cli("run", "s", "--json", env={"CS_MANAGEMENT_TOKEN": "cs-fake-authtoken"})
        assert result.exit_code == 0, result.stdout + result.stderr
        assert result.json()["counts"]["succeeded"]["added"] == 40
        management = [r.method for r in cs.requests_for("management")]
        assert management == ["GET", "POST", "POST", "GET"]
        assert len(cs.requests_for("edge", "PATCH")) == 40
        assert cs.edge_user_attributes("u7") == {"email": "u7@x", "name": "n7"}
        assert "cs-fake-authtoken" not in result.stdout + result.stderr


USERS_SQL = "select id, email, name, 'u' || id as uid from users"
