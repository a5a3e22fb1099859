"""One fault-matrix case's world: a workspace, an HTTP sink, the model's rows and changes,
the faulted run in a child process (``tests/fault_launcher.py``), and the checks every case
ends with (see ``tests/test_fault_matrix.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from dialects import dialect_class
from engine.run import RunResult, run_sync
from tests.conftest import REPO, Workspace
from tests.fakes.http_sink import HttpSink
from tests.fault_launcher import ACTION_ENV, COUNT_ENV, POINT_ENV, TRACE_ENV

ROWS = 300
CHANGED = range(1, 41)  # names changed
REMOVED = range(261, 301)  # deleted from the model
ADDED = range(301, 341)  # new rows
DELTA = len(CHANGED) + len(REMOVED) + len(ADDED)
FAILING = {"305": 422, "7": 422}  # rows the destination refuses in the faulted run
# The delta is sent ordered by op then key: added, changed, removed. After this many
# answered requests every add and change and some removals have arrived.
MOST_DELIVERED = 100
SOME_DELIVERED = 30


@dataclass
class FaultedRun:
    """What the child process did: exit status, output, and its trace."""

    returncode: int
    output: str
    run_ids: list[int]
    trace: list[str]

    @property
    def run_id(self) -> int:
        """The id of the (last) run the child started."""
        assert self.run_ids, f"the run never took the lock:\n{self.output}"
        return self.run_ids[-1]


class Scenario:
    """A workspace, a sink and the steps every case shares."""

    def __init__(self, ws: Workspace, sink: HttpSink):
        self.ws = ws
        self.sink = sink
        self.faults = 0
        self.uncommitted: list[int] = []  # dead runs whose changelog rows the next run deletes

    # -- setup --------------------------------------------------------------------------
    def baseline_then_change(self) -> None:
        """A committed first run of ROWS rows, then adds, changes and removals."""
        self.ws.sql(f"CREATE TABLE users AS {rows_query(1, ROWS)}")
        self.write_project(per_row=False)
        first = run_sync(self.ws.project(), "s")
        assert first.status == "succeeded", first.error
        assert self.destination() == self.model()
        self.change()
        self.write_project(per_row=True)

    def write_project(self, per_row: bool) -> None:
        """Mirror + delete to the sink, with every sync log. Faulted runs send one request
        per row (a fault can stop between any two); the others send batches (fast)."""
        path = "/users/{row_id}" if per_row else "/users"
        self.ws.simple_project(
            destination={"type": "http", "base_url": self.sink.url, "max_attempts": 2},
            sync={
                "mode": "mirror",
                "delete_behavior": "delete",
                "sync_logs": ["changelog", "snapshot", "runs"],  # every audit write
                "http": {
                    "added": {"method": "PUT", "path": path},
                    "changed": {"method": "PUT", "path": path},
                    "removed": {"method": "DELETE", "path": path},
                    "batch_size": 1 if per_row else 100,
                    "concurrency": 4,
                },
            },
        )

    def change(self) -> None:
        self.ws.sql(
            f"UPDATE users SET name = name || ' (changed)' WHERE id <= {CHANGED[-1]};"
            f"DELETE FROM users WHERE id BETWEEN {REMOVED[0]} AND {REMOVED[-1]};"
            f"INSERT INTO users {rows_query(ADDED[0], ADDED[-1])}"
        )

    def revert(self) -> None:
        """Back to the baseline's rows: changes undone, removed rows restored, adds removed."""
        self.ws.sql(
            f"UPDATE users SET name = 'name ' || id WHERE id <= {CHANGED[-1]};"
            f"DELETE FROM users WHERE id >= {ADDED[0]};"
            f"INSERT INTO users {rows_query(REMOVED[0], REMOVED[-1])}"
        )

    # -- observations -------------------------------------------------------------------
    def model(self) -> dict[str, dict[str, Any]]:
        """The model's rows as the destination should hold them."""
        rows = self.ws.query("SELECT id, email, name FROM users")
        return {str(i): {"email": e, "name": n} for i, e, n in rows}

    def destination(self) -> dict[str, Any]:
        return self.sink.records.get("users", {})

    def commits(self) -> list[int]:
        """Committed run ids, newest first."""
        rows = self.ws.query(
            "SELECT sync_run_id FROM hightouch_planner.lightning_commits WHERE sync_id = 's' "
            "ORDER BY sync_run_id DESC"
        )
        return [int(r[0]) for r in rows]

    def planner_tables(self) -> set[str]:
        rows = self.ws.query(
            "SELECT lower(table_name) FROM information_schema.tables "
            "WHERE lower(table_schema) = 'hightouch_planner'"  # Snowflake's are upper case
        )
        return {str(r[0]) for r in rows if re.match(r"^s_\d+_", str(r[0]))}

    def false_successes(self) -> list[int]:
        """Runs shown as succeeded in sync_runs without a commit marker."""
        committed = set(self.commits())
        return [
            r["sync_run_id"]
            for r in self.ws.runs()
            if r["status"] == "succeeded" and r["sync_run_id"] not in committed
        ]

    # -- the faulted run ----------------------------------------------------------------
    def faulted_run(self, point: str, action: str, count: int = 1) -> FaultedRun:
        """``lightning-sync run s`` in a child process, with one fault (see the launcher)."""
        self.faults += 1
        trace = self.ws.root / f"fault-{self.faults}.trace"
        completed = subprocess.run(
            [sys.executable, "-m", "tests.fault_launcher", "run", "s"]
            + ["--project", str(self.ws.project_file)],
            capture_output=True,
            text=True,
            timeout=90,
            cwd=REPO,
            env={
                **os.environ,
                POINT_ENV: point,
                ACTION_ENV: action,
                COUNT_ENV: str(count),
                TRACE_ENV: str(trace),
                "PYTHONUNBUFFERED": "1",
            },
        )
        lines = trace.read_text().splitlines() if trace.exists() else []
        output = completed.stdout + completed.stderr
        assert f"fault {point} {action}" in lines, (
            f"the run never reached {point} (exit {completed.returncode}):\n{output}"
        )
        assert lines.count(f"fault {point} {action}") == 1
        run_ids = [int(line.split()[1]) for line in lines if line.startswith("run ")]
        return FaultedRun(completed.returncode, output, run_ids, lines)

    def check_no_false_claim(self, run: FaultedRun) -> bool:
        """A run that did not commit claims nothing; returns whether it committed."""
        committed = run.run_id in self.commits()
        if not committed:
            statuses = [r["status"] for r in self.ws.runs() if r["sync_run_id"] == run.run_id]
            assert "succeeded" not in statuses, run.output
            if dialect_class(self.ws.source()["type"]).capabilities.transactions:
                assert not self.changelog_of(run.run_id), "a dead run left changelog rows"
            else:  # its changelog rows (written before the commit marker) wait for the next run
                self.uncommitted.append(run.run_id)
        assert self.false_successes() == []
        return committed

    # -- clean runs ---------------------------------------------------------------------
    def clean_runs(self) -> RunResult:
        """Two clean runs: the first repairs, the second finds nothing left to send."""
        self.sink.clear_failures()
        self.write_project(per_row=False)
        first = run_sync(self.ws.project(), "s")
        assert first.status == "succeeded", first.error
        assert first.counters.succeeded == first.counters.planned
        missing = differences(self.model(), self.destination())
        assert not missing, f"after the next committed run, destination != model: {missing}"
        for run_id in self.uncommitted:
            assert not self.changelog_of(run_id), f"dead run {run_id}'s changelog rows are kept"
        self.check_clean_state()
        second = run_sync(self.ws.project(), "s")
        assert second.status == "succeeded", second.error
        assert sum(second.counters.planned.values()) == 0, second.counters.planned
        assert self.destination() == self.model()
        self.check_clean_state()
        return first

    def changelog_of(self, run_id: int) -> list[tuple[Any, ...]]:
        return self.ws.query(
            "SELECT 1 FROM hightouch_audit.sync_changelog WHERE sync_run_id = ?", [run_id]
        )

    def check_clean_state(self) -> None:
        """No false success, no lock, no table of a dead run."""
        assert self.false_successes() == []
        assert not self.ws.query("SELECT * FROM hightouch_planner.lightning_locks")
        kept = {f"s_{run}_{kind}" for run in self.commits()[:2] for kind in ("plan", "rejections")}
        assert self.planner_tables() == kept


def rows_query(first: int, last: int) -> str:
    """A query of the model rows with ids first..last (as the baseline has them)."""
    return (
        "SELECT i::BIGINT AS id, 'u' || i || '@x' AS email, 'name ' || i AS name "
        f"FROM range({first}, {last + 1}) t(i)"
    )


def differences(model: dict[str, Any], destination: dict[str, Any]) -> dict[str, Any]:
    """Rows where the destination differs from the model: key -> (model, destination)."""
    keys = set(model) | set(destination)
    wrong = {
        k: (model.get(k), destination.get(k)) for k in keys if model.get(k) != destination.get(k)
    }
    return dict(sorted(wrong.items(), key=lambda kv: int(kv[0]))[:10]) | (
        {"...": f"{len(wrong)} rows in all"} if len(wrong) > 10 else {}
    )
