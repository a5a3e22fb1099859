"""A run killed mid-stream loses nothing; a run stopped with SIGTERM ends cleanly.

``lightning-sync run`` runs as a real process against an ``http`` destination on
:class:`HttpSink`, whose per-request latency makes the delta (a few thousand added, changed
and removed rows) take several seconds. Once the sink has received some of the requests:

- SIGKILL: nothing is committed and no ``sync_runs`` row claims success; the dead process's
  lock does not block the next run, which re-sends the whole delta (at least once) and
  leaves the destination equal to the model, and no table of the dead run survives it.
- SIGTERM: the run stops starting requests, records the rows it did not attempt as
  ``aborted``, commits, and exits 1; the next run sends exactly those rows.
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

from engine.planner import DuplicateKeysError
from engine.run import run_sync
from engine.state import run_table_name
from tests.conftest import REPO, Workspace
from tests.fakes.http_sink import HttpSink

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.each_warehouse,
]


BASE_ROWS = 3000
CHANGED = range(1, 1001)  # names changed
REMOVED = range(1001, 2001)  # rows deleted from the model
ADDED = range(BASE_ROWS + 1, BASE_ROWS + 1001)  # new rows
DELTA = len(CHANGED) + len(REMOVED) + len(ADDED)
LATENCY = 0.01  # per request, with concurrency 4: several seconds for the whole delta
STOP_AFTER = 300  # requests the sink must have received before the signal


def write_project(ws: Workspace, sink: HttpSink, per_row: bool, **sync: Any) -> None:
    """Mirror + delete to the sink: one request per row, or batches of 500 (fast setup)."""
    path = "/users/{row_id}" if per_row else "/users"
    ws.simple_project(
        destination={"type": "http", "base_url": sink.url, "max_attempts": 2},
        sync={
            "mode": "mirror",
            "delete_behavior": "delete",
            "http": {
                "added": {"method": "PUT", "path": path},
                "changed": {"method": "PUT", "path": path},
                "removed": {"method": "DELETE", "path": path},
                "batch_size": 1 if per_row else 500,
                "concurrency": 4,
            },
            **sync,
        },
    )


def baseline_then_change(ws: Workspace, sink: HttpSink) -> None:
    """A committed first run of BASE_ROWS rows, then changes, adds and removes."""
    ws.sql(
        "CREATE TABLE users AS SELECT i::BIGINT AS id, 'u' || i || '@x' AS email, "
        f"'name ' || i AS name FROM range(1, {BASE_ROWS + 1}) t(i)"
    )
    write_project(ws, sink, per_row=False)
    first = run_sync(ws.project(), "s")
    assert first.status == "succeeded" and first.counters.succeeded["added"] == BASE_ROWS
    assert len(sink.records["users"]) == BASE_ROWS
    ws.sql(
        f"UPDATE users SET name = name || ' (changed)' WHERE id <= {CHANGED[-1]};"
        f"DELETE FROM users WHERE id BETWEEN {REMOVED[0]} AND {REMOVED[-1]};"
        f"INSERT INTO users SELECT i, 'u' || i || '@x', 'name ' || i "
        f"FROM range({ADDED[0]}, {ADDED[-1] + 1}) t(i)"
    )
    write_project(ws, sink, per_row=True)


def model_rows(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {
        str(i): {"email": e, "name": n} for i, e, n in ws.query("SELECT id, email, name FROM users")
    }


def start_run(ws: Workspace, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli",
                "run",
                "s",
                "--project",
                str(ws.project_file),
                "--json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def wait_for_requests(sink: HttpSink, before: int, proc: subprocess.Popen[bytes], log: Path) -> int:
    """Wait until the sink has received STOP_AFTER requests of this run; return the count."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        received = sink.request_count - before
        if received >= STOP_AFTER:
            return received
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it was stopped:\n{log.read_text()}")
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    pytest.fail(f"the run sent only {sink.request_count - before} requests in 120 s")


def planner_tables(ws: Workspace) -> list[str]:
    return [
        r[0]
        for r in ws.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'hightouch_planner'"
        )
    ]


def test_sigkill_mid_stream_loses_nothing(ws: Workspace) -> None:
    with HttpSink() as sink:
        baseline_then_change(ws, sink)
        committed_before = ws.query("SELECT sync_run_id FROM hightouch_planner.lightning_commits")
        sink.latency_seconds = LATENCY
        before = sink.request_count
        log = ws.root / "killed.log"
        proc = start_run(ws, log)
        wait_for_requests(sink, before, proc, log)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        sink.latency_seconds = 0
        received = sink.request_count - before
        assert STOP_AFTER <= received < DELTA, "the run was not stopped mid-stream"

        # The dead run's lock is still there, held by the dead process.
        locks = ws.query(
            "SELECT sync_id, sync_run_id, owner FROM hightouch_planner.lightning_locks"
        )
        assert len(locks) == 1 and locks[0][0] == "s"
        killed = locks[0][1]
        assert locks[0][2].endswith(f":{proc.pid}")
        # Nothing committed, nothing claims success.
        assert ws.query("SELECT sync_run_id FROM hightouch_planner.lightning_commits") == (
            committed_before
        )
        assert not ws.query(
            "SELECT 1 FROM hightouch_audit.sync_runs WHERE sync_run_id = ? "
            "AND status = 'succeeded'",
            [killed],
        )
        assert not ws.query(
            "SELECT 1 FROM hightouch_audit.sync_changelog WHERE sync_run_id = ?", [killed]
        )

        # The next run takes the lock over and re-sends the whole delta.
        write_project(ws, sink, per_row=False)
        after = run_sync(ws.project(), "s")
        assert after.sync_run_id > killed
        assert after.status == "succeeded", after.error
        assert after.counters.planned == {
            "added": len(ADDED),
            "changed": len(CHANGED),
            "removed": len(REMOVED),
        }
        assert after.counters.succeeded == after.counters.planned
        assert sink.records["users"] == model_rows(ws)

        assert not ws.query("SELECT * FROM hightouch_planner.lightning_locks")
        leftovers = [t for t in planner_tables(ws) if t.startswith(f"s_{killed}_")]
        assert leftovers == []
        for kind in ("plan", "rejections", "delta"):
            assert run_table_name("s", killed, kind) not in planner_tables(ws)
        statuses = [r["status"] for r in ws.runs()]
        assert statuses.count("succeeded") == 2


def test_sigterm_ends_the_run_early_and_cleanly(ws: Workspace) -> None:
    with HttpSink() as sink:
        baseline_then_change(ws, sink)
        sink.latency_seconds = LATENCY
        before = sink.request_count
        log = ws.root / "terminated.log"
        proc = start_run(ws, log)
        wait_for_requests(sink, before, proc, log)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        output = log.read_text()
        assert code == 1, output
        report = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
        assert (report["status"], report["committed"]) == ("failed", True)
        assert report["aborted"] > 0
        sink.latency_seconds = 0
        received = sink.request_count - before
        assert received < DELTA, "the run sent everything: SIGTERM came too late"

        runs = ws.runs()
        stopped = runs[-1]
        assert stopped["status"] == "failed"
        assert "SIGTERM" in (stopped["error"] or ""), stopped["error"]
        run_id = stopped["sync_run_id"]
        assert ws.query(
            "SELECT 1 FROM hightouch_planner.lightning_commits WHERE sync_run_id = ?", [run_id]
        ), "a run ended by SIGTERM still commits"
        assert not ws.query("SELECT * FROM hightouch_planner.lightning_locks")
        planned = sum(stopped[f"num_planned_{op}"] for op in ("add", "change", "remove"))
        attempted = sum(stopped[f"num_attempted_{op}"] for op in ("add", "change", "remove"))
        assert planned == DELTA
        assert 0 < attempted < planned
        assert attempted <= received
        changelog = ws.query(
            "SELECT op_type, row_id, status, failure_reason FROM hightouch_audit.sync_changelog "
            "WHERE sync_run_id = ?",
            [run_id],
        )
        aborted = {(op, row_id) for op, row_id, status, _ in changelog if status == "aborted"}
        assert len(aborted) == planned - attempted == report["aborted"]
        assert all(
            reason.startswith("aborted: ") and "SIGTERM" in reason
            for _, _, status, reason in changelog
            if status == "aborted"
        )
        assert not any(status == "failed" for _, _, status, _ in changelog)

        # The next run sends exactly the aborted rows, and the destination is the model.
        write_project(ws, sink, per_row=False)
        after = run_sync(ws.project(), "s")
        assert after.status == "succeeded", after.error
        resent = ws.query(
            "SELECT op_type, row_id FROM hightouch_audit.sync_changelog WHERE sync_run_id = ?",
            [after.sync_run_id],
        )
        assert set(resent) == aborted and len(resent) == len(aborted)
        assert after.counters.succeeded == after.counters.planned
        assert sink.records["users"] == model_rows(ws)


def revert_model(ws: Workspace) -> None:
    """Undo baseline_then_change: the model is the first run's again."""
    ws.sql(
        f"UPDATE users SET name = 'name ' || id WHERE id <= {CHANGED[-1]};"
        f"INSERT INTO users SELECT i, 'u' || i || '@x', 'name ' || i "
        f"FROM range({REMOVED[0]}, {REMOVED[-1] + 1}) t(i);"
        f"DELETE FROM users WHERE id >= {ADDED[0]}"
    )


def kill_mid_stream(ws: Workspace, sink: HttpSink, name: str) -> int:
    """Start a run, SIGKILL it once the sink has some of its requests; the dead run's id."""
    sink.latency_seconds = LATENCY
    before = sink.request_count
    log = ws.root / f"{name}.log"
    proc = start_run(ws, log)
    wait_for_requests(sink, before, proc, log)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    sink.latency_seconds = 0
    killed = ws.query("SELECT sync_run_id FROM hightouch_planner.lightning_locks")
    return int(killed[0][0])


def test_a_killed_runs_sends_are_resent_after_the_model_reverts(ws: Workspace) -> None:
    """The dead run sent some of the changes; the model then returns to the committed
    baseline. The next run must undo what the dead run sent (re-send the baseline values,
    delete the rows it added, re-create the rows it deleted), though the model equals the
    baseline it diffs against."""
    with HttpSink() as sink:
        baseline_then_change(ws, sink)
        killed = kill_mid_stream(ws, sink, "killed")
        assert sink.records["users"] != model_rows(ws), "the dead run sent nothing"
        revert_model(ws)
        assert sink.records["users"] != model_rows(ws), "the dead run changed nothing"

        write_project(ws, sink, per_row=False)
        after = run_sync(ws.project(), "s")
        assert after.status == "succeeded", after.error
        assert sink.records["users"] == model_rows(ws)
        # Every key the dead run planned is looked at again: the reverted changes and the
        # rows it deleted as changes, the rows it added (now gone) as removals.
        assert after.counters.planned == {
            "added": 0,
            "changed": len(CHANGED) + len(REMOVED),
            "removed": len(ADDED),
        }
        # Once a run has committed after it, the dead run's delta is gone.
        assert run_table_name("s", killed, "delta") not in planner_tables(ws)
        again = run_sync(ws.project(), "s")
        assert again.counters.planned == {"added": 0, "changed": 0, "removed": 0}


def test_sends_of_several_dead_runs_are_remembered_until_a_commit(ws: Workspace) -> None:
    """Runs die in a row (one mid-stream, one before its delta exists, one mid-stream);
    the model reverts; one clean run puts the destination back to the model."""
    with HttpSink() as sink:
        baseline_then_change(ws, sink)
        first = kill_mid_stream(ws, sink, "first")
        # A run that fails after taking over the lock, before its delta exists (duplicated
        # keys with on_duplicate_keys: fail), must not forget the first run's sends.
        ws.sql("INSERT INTO users SELECT id, email, name FROM users WHERE id = 5")
        write_project(ws, sink, per_row=True, on_duplicate_keys="fail")
        with pytest.raises(DuplicateKeysError):
            run_sync(ws.project(), "s")
        ws.sql("DELETE FROM users WHERE id = 5; INSERT INTO users VALUES (5, 'u5@x', 'name 5')")
        write_project(ws, sink, per_row=True)
        assert run_table_name("s", first, "delta") in planner_tables(ws)
        kill_mid_stream(ws, sink, "second")
        revert_model(ws)
        write_project(ws, sink, per_row=False)
        after = run_sync(ws.project(), "s")
        assert after.status == "succeeded", after.error
        assert sink.records["users"] == model_rows(ws)
        assert [t for t in planner_tables(ws) if t.endswith("_delta")] == []
