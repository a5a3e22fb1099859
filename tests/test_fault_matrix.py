"""The fault matrix: a run meets a fault at every point, on every warehouse the suite runs.

Each case starts from a committed baseline of ``ROWS`` rows synced to an ``http``
destination (a real :class:`HttpSink` on 127.0.0.1, one per test), then changes the model
(rows added, changed and removed) and runs ``lightning-sync run`` in a child process through
``tests/fault_launcher.py``, which stops the run at one named point (no test-only code in the
engine): SIGKILL at every point between two phases; SIGTERM and SIGINT during each phase;
the warehouse connection dropped; the destination resetting connections mid-body. Then:

- the faulted run is checked: it committed only where the fault came after its commit; a
  run that did not commit never claims success; a signalled run says what happened;
- clean runs follow, after which the destination equals the model (the sink's records are
  the model's rows for the mapped fields), no ``sync_runs`` row claims success without a
  commit, no lock is left, and the planner schema holds no table of a dead run (only the
  two newest committed plan/rejections pairs the engine keeps by design).

The ``revert`` cases change the model back between the killed run and the next one (a row
changed then changed back, deleted then restored, added then removed again) after the
killed run delivered some of those changes: the destination must still end equal to the
model.

On the slow stand-ins (local Spark and the BigQuery emulator: 25-115 s a case, and the
matrix was a third of the suite's time on them) the cases of ``NOT_ON_SLOW_STAND_INS`` are
left out, CI included: each repeats, on one more warehouse, what the engine does in Python
whatever the warehouse (SIGINT is handled as SIGTERM is; the destination's resets and a
reverted model are delivery and diff logic), and every other warehouse runs them. Every
kill point, every dropped connection and SIGTERM at every phase still run there.

The matrix is parametrized by warehouse through the ``each_warehouse`` marker, so a new
dialect added to the suite's warehouses runs every case (its way to drop a connection goes
in ``tests.fault_launcher.CONNECTION_DROPPERS``).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import pytest

from dialects import dialect_class
from engine.run import run_sync
from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink
from tests.fault_scenario import (
    ADDED,
    CHANGED,
    DELTA,
    FAILING,
    MOST_DELIVERED,
    REMOVED,
    ROWS,
    SOME_DELIVERED,
    Scenario,
    rows_query,
)

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.each_warehouse,
]


# Points after which the run has committed (see tests/fault_launcher.py for all points).
COMMITTED_POINTS = frozenset({"after_commit"})
DELIVERY_POINTS = frozenset({"mid_delivery", "after_rejections"})
KILL_POINTS = [
    ("after_lock", 1),
    ("after_cleanup", 1),
    ("after_plan", 1),
    ("after_delta", 1),
    ("after_diff", 1),
    ("mid_delivery", SOME_DELIVERED),
    ("before_rejections", 1),
    ("after_rejections", 1),
    ("before_abort", 1),
    ("after_abort", 1),
    ("after_changelog", 1),
    ("after_snapshot", 1),
    ("before_commit", 1),
    ("after_runs", 1),
    ("before_release", 1),
    ("after_release", 1),
    ("after_commit", 1),
]
SIGNAL_POINTS = [
    ("after_lock", 1),
    ("after_diff", 1),
    ("mid_delivery", SOME_DELIVERED),
    ("after_rejections", 1),
    ("after_changelog", 1),
    ("after_release", 1),
    ("after_commit", 1),
]
DROP_POINTS = [
    ("after_plan", 1),
    ("mid_delivery", SOME_DELIVERED),
    ("after_changelog", 1),
    ("after_commit", 1),
]

# Warehouses whose stand-in costs 25-115 s a case, and the cases left out there (see above):
# (test, case id without the warehouse).
SLOW_STAND_INS = frozenset({"spark", "bigquery"})
NOT_ON_SLOW_STAND_INS = frozenset(
    {("test_sigterm_sigint", f"{point}-SIGINT") for point, _ in SIGNAL_POINTS}
    - {("test_sigterm_sigint", "mid_delivery-SIGINT")}
    | {
        ("test_destination_resets_connections", "response-3"),
        ("test_destination_resets_connections", "body-every"),
        ("test_destination_resets_connections", "response-every"),
        ("test_model_reverted_after_a_killed_run", "before_commit"),
        ("test_model_reverted_after_a_killed_run", "two_kills"),
        ("test_model_reverted_after_a_killed_run", "killed_again_after_revert"),
    }
)


def _committed_points(scenario: Scenario) -> frozenset[str]:
    """Where transactions are missing, the commit marker is a statement of its own, written
    before the ``sync_runs`` row and the lock's delete: a run killed after that row has
    committed."""
    if dialect_class(scenario.ws.source()["type"]).capabilities.transactions:
        return COMMITTED_POINTS
    return COMMITTED_POINTS | {"after_runs", "before_release", "after_release"}


@pytest.fixture
def scenario(ws: Workspace) -> Any:
    with HttpSink() as sink:
        yield Scenario(ws, sink)


def _prepare_fault(scenario: Scenario, point: str) -> None:
    """The baseline and the change; rows that fail (so rejections are written) and, for the
    abort points, a token revoked mid-run (a fatal error: the run aborts what is left)."""
    scenario.baseline_then_change()
    for row_id, status in FAILING.items():
        scenario.sink.fail_row(row_id, status, '{"error": "refused"}')
    if point in ("before_abort", "after_abort"):
        scenario.sink.revoke_after(SOME_DELIVERED)


# -- SIGKILL between every pair of phases --------------------------------------------------
@pytest.mark.parametrize(("point", "count"), KILL_POINTS, ids=[p for p, _ in KILL_POINTS])
def test_sigkill(scenario: Scenario, point: str, count: int) -> None:
    _prepare_fault(scenario, point)
    run = scenario.faulted_run(point, "SIGKILL", count)
    assert run.returncode == -signal.SIGKILL, run.output
    committed = scenario.check_no_false_claim(run)
    assert committed == (point in _committed_points(scenario))
    if not committed:  # the dead run's lock is left; the next run takes it over
        assert scenario.ws.query("SELECT sync_run_id FROM hightouch_planner.lightning_locks") == [
            (run.run_id,)
        ]
    scenario.clean_runs()


# -- SIGTERM and SIGINT during each phase --------------------------------------------------
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize(("point", "count"), SIGNAL_POINTS, ids=[p for p, _ in SIGNAL_POINTS])
def test_sigterm_sigint(scenario: Scenario, sig: str, point: str, count: int) -> None:
    """The process ends on its own (exit 1, not killed by the signal) and says what
    happened. During delivery the run stops starting requests, records what it did not
    attempt as aborted and commits as failed; elsewhere it stops where it is: rolled back
    and recorded as failed, or, once committed, committed as succeeded."""
    _prepare_fault(scenario, point)
    run = scenario.faulted_run(point, sig, count)
    assert run.returncode == 1, f"exit {run.returncode}:\n{run.output}"
    assert sig in run.output, f"the output does not say what happened:\n{run.output}"
    committed = scenario.check_no_false_claim(run)
    rows = [r for r in scenario.ws.runs() if r["sync_run_id"] == run.run_id]
    if point in DELIVERY_POINTS:
        assert committed, run.output
        (row,) = rows
        assert row["status"] == "failed" and sig in (row["error"] or ""), row
        planned = sum(row[f"num_planned_{op}"] for op in ("add", "change", "remove"))
        attempted = sum(row[f"num_attempted_{op}"] for op in ("add", "change", "remove"))
        aborted = scenario.ws.query(
            "SELECT count(*) FROM hightouch_audit.sync_changelog "
            "WHERE sync_run_id = ? AND status = 'aborted'",
            [run.run_id],
        )[0][0]
        assert planned == DELTA and aborted == planned - attempted
    elif point in _committed_points(scenario):  # after the commit: the run succeeded
        assert committed, run.output
        assert [r["status"] for r in rows] == ["succeeded"]
    else:  # recorded as failed (right after the lock, before the run began: not at all)
        assert not committed, run.output
        recorded = [(r["status"], r["error"]) for r in rows]
        assert recorded in ([], [("failed", f"interrupted by {sig}")]), recorded
    scenario.clean_runs()


# -- the warehouse connection dropped ------------------------------------------------------
@pytest.mark.parametrize(("point", "count"), DROP_POINTS, ids=[p for p, _ in DROP_POINTS])
def test_warehouse_connection_dropped(scenario: Scenario, point: str, count: int) -> None:
    """PostgreSQL: the engine's backends are ended with pg_terminate_backend from another
    session. Snowflake (emulated): the engine's session is ended on the server. DuckDB runs
    inside the engine's process, so no connection can be dropped from outside; what can fail
    is the engine's handle, which is closed under it instead."""
    _prepare_fault(scenario, point)
    run = scenario.faulted_run(point, "drop_connection", count)
    dropped = [line for line in run.trace if line.startswith("dropped ")]
    assert dropped and not dropped[0].split()[1:2] == ["0"], run.trace  # something was dropped
    committed = scenario.check_no_false_claim(run)
    assert committed == (point in COMMITTED_POINTS), run.output
    if committed:  # only the cleanup was lost
        assert run.returncode == 0, run.output
    else:
        assert run.returncode == 1, run.output
        assert "Error:" in run.output and "warehouse" in run.output, run.output
        assert "Traceback" not in run.output, run.output
    scenario.clean_runs()


# -- the destination resetting connections mid-body ----------------------------------------
RESETS = [
    ("body", 3),
    ("response", 3),
    ("body", None),
    ("response", None),
]


@pytest.mark.parametrize(
    ("during", "n"), RESETS, ids=[f"{d}-{'every' if n is None else n}" for d, n in RESETS]
)
def test_destination_resets_connections(scenario: Scenario, during: str, n: int | None) -> None:
    """The sink closes the socket mid-request-body (nothing applied) or mid-response (the
    change applied, the answer cut) for a few requests (retried) or for every request from
    some point on (the run gives up on the destination and aborts the rest)."""
    scenario.baseline_then_change()
    scenario.sink.reset_connections(during, n=n, after=SOME_DELIVERED)  # type: ignore[arg-type]
    result = run_sync(scenario.ws.project(), "s")
    assert scenario.sink.reset_count >= (n or 1)
    assert result.committed and scenario.false_successes() == []
    if n is None:
        assert result.status == "failed" and "Cannot reach" in (result.error or ""), result
        assert result.counters.aborted > 0
    else:
        assert result.status == "succeeded", result.error
    scenario.clean_runs()


# -- the model reverted between a killed run and the next ----------------------------------
REVERT = ("revert", 0, "")
REVERTS = {
    # killed after part of the delta arrived
    "mid_delivery": [("mid_delivery", MOST_DELIVERED, "SIGKILL"), REVERT],
    # killed once everything arrived, before the commit
    "before_commit": [("before_commit", 1, "SIGKILL"), REVERT],
    # a second run dies before its delta exists
    "two_kills": [
        ("mid_delivery", MOST_DELIVERED, "SIGKILL"),
        ("after_lock", 1, "SIGKILL"),
        REVERT,
    ],
    # the run after the revert dies too, having re-sent part of what the first one sent
    "killed_again_after_revert": [
        ("mid_delivery", MOST_DELIVERED, "SIGKILL"),
        REVERT,
        ("mid_delivery", SOME_DELIVERED, "SIGKILL"),
    ],
    # the run fails on a dropped warehouse connection instead of dying
    "connection_dropped": [("mid_delivery", MOST_DELIVERED, "drop_connection"), REVERT],
}


@pytest.mark.parametrize("case", list(REVERTS))
def test_model_reverted_after_a_killed_run(scenario: Scenario, case: str) -> None:
    """A row changed then changed back, one deleted then restored, one added then removed
    again, between a run stopped after delivering those changes and the next run."""
    scenario.baseline_then_change()
    for point, count, action in REVERTS[case]:
        if point == "revert":
            destination = scenario.destination()
            scenario.revert()
            model = scenario.model()
            # The stopped run did deliver changes of each kind that the revert undoes.
            assert any(destination.get(str(i)) != model[str(i)] for i in CHANGED)
            assert any(str(i) not in destination for i in REMOVED)
            assert any(str(i) in destination for i in ADDED)
            continue
        run = scenario.faulted_run(point, action, count)
        expected = -signal.SIGKILL if action == "SIGKILL" else 1
        assert run.returncode == expected, run.output
        assert not scenario.check_no_false_claim(run)
    scenario.clean_runs()


def test_first_run_killed_then_rows_removed(scenario: Scenario) -> None:
    """No baseline yet: the very first run dies after sending part of its adds, then some of
    the rows it sent leave the model. The next run must remove them from the destination."""
    scenario.ws.sql(f"CREATE TABLE users AS {rows_query(1, ROWS)}")
    scenario.write_project(per_row=True)
    run = scenario.faulted_run("mid_delivery", "SIGKILL", MOST_DELIVERED)
    assert run.returncode == -signal.SIGKILL
    assert not scenario.check_no_false_claim(run) and scenario.commits() == []
    gone = range(1, 41)
    assert all(str(i) in scenario.destination() for i in gone)
    scenario.ws.sql(f"DELETE FROM users WHERE id <= {gone[-1]}")
    scenario.clean_runs()


def test_every_launcher_point_is_in_the_matrix() -> None:
    """A point added to the launcher is killed at too (the matrix covers every point)."""
    from tests.fault_launcher import POINTS

    assert {point for point, _ in KILL_POINTS} == set(POINTS)
