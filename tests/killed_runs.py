"""The kill test of the warehouses without cross-statement transactions (Snowflake's DDL
commits, BigQuery's jobs): a delta run killed right before statement ``kill_at`` (see
tests/kill_after_statements.py), then checked to claim nothing and lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, Workspace


def delta_run_killed_at(
    ws: Workspace, kill_at: int, count_into: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A first run of five users, three changes (one of each kind), then a run of the
    changes killed before statement ``kill_at``; ``count_into`` receives the number of
    statements counted when the run is not killed."""
    ws.users([(i, f"u{i}@x", f"N{i}") for i in range(1, 6)])
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    assert ws.cli("run", "s").exit_code == 0
    ws.sql(
        "UPDATE users SET name = 'changed' WHERE id = 2; DELETE FROM users WHERE id = 3; "
        "INSERT INTO users VALUES (6, 'u6@x', 'N6')"
    )
    env = {**os.environ, "LIGHTNING_TEST_KILL_AT": str(kill_at)}
    if count_into is not None:
        env["LIGHTNING_TEST_COUNT_WRITES"] = str(count_into)
    command = [sys.executable, "-m", "tests.kill_after_statements", "run"]
    command += ["--project", str(ws.project_file), "s", "--json"]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=REPO, env=env)


def assert_nothing_claimed_and_nothing_lost(ws: Workspace) -> None:
    """No sync_runs row claims success without its commit, and the next run sends every
    change the killed run may not have sent, after which nothing is left to send."""
    committed = {
        row[0]
        for row in ws.query(
            "SELECT sync_run_id FROM hightouch_planner.lightning_commits WHERE sync_id = 's'"
        )
    }
    for run in ws.runs():
        assert run["status"] != "succeeded" or run["sync_run_id"] in committed, run
    after = ws.cli("run", "s", "--json")
    assert after.exit_code == 0, after.stderr
    sent = _sent_rows(ws)
    assert "2" in sent["changed"] and "3" in sent["removed"] and "6" in sent["added"], sent
    counts = ws.cli("plan", "s", "--json").json()["counts"]
    assert counts == {"added": 0, "changed": 0, "removed": 0}


def _sent_rows(ws: Workspace) -> dict[str, set[str]]:
    """Every row id the file destination received, by op, over all runs."""
    sent: dict[str, set[str]] = {"added": set(), "changed": set(), "removed": set()}
    for path in (ws.root / "out").glob("s/*/*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                sent[path.stem].add(json.loads(line)["row_id"])
    return sent


def killed_before_write(ws: Workspace, kill_at: int, writes_per_run: int) -> None:
    """The delta run killed before write ``kill_at`` (``writes_per_run`` + 1: not killed, and
    the run made exactly the writes counted), then nothing claimed and nothing lost."""
    counted = ws.root / "writes.txt"
    killed = delta_run_killed_at(ws, kill_at, counted)
    if kill_at > writes_per_run:
        assert killed.returncode == 0, (killed.stdout[-2000:], killed.stderr[-2000:])
        writes = int(counted.read_text())
        assert writes == writes_per_run, f"update the writes per delta run: {writes}"
    else:
        assert killed.returncode == 137, (killed.stdout[-2000:], killed.stderr[-2000:])
    assert_nothing_claimed_and_nothing_lost(ws)
