"""Two runs of one sync inserting their lock rows in the same instant (engine/state.py).

PostgreSQL's LOCK TABLE keeps that from happening, and so does DuckDB's one writing process
per file (there these tests are not run). Snowflake has no such statement: a run claims the
lock with one conditional insert (no lock row for the sync yet) and then reads the lock rows,
and a run that took over an abandoned lock inserts its row and reads it back; either way,
when two runs' rows are there, the lowest (run id, owner) keeps the lock. The race is made
certain here: the other run's row goes in with a plain insert right after this run's claim
(a run whose claim saw no lock row either), or just before this run's insert once it has
taken over the abandoned lock (a run that took it over at the same time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from engine.lock_rows import SyncLockedError
from engine.state import State, utcnow
from engine.warehouse import connected, dialect_for
from tests.conftest import Workspace
from tests.test_bad_input import ROWS

pytestmark = pytest.mark.each_warehouse
# Where the race cannot happen (the engine skips the read-back there), the tests are not run.
NOT_ON_WAREHOUSES = {
    "duckdb": "one process writes a database file at a time",
    "postgres": "LOCK TABLE serializes the runs taking the lock",
}


# How this run comes to insert its lock row: by a claim, the sync not being locked; or
# after taking over the lock of a run that is gone (a heartbeat a day old).
WAYS = ["claim", "take_over"]


@contextmanager
def racing_state(ws: Workspace, other_run: Callable[[int], int], way: str) -> Iterator[State]:
    """A State whose lock row is joined by another run's (id ``other_run(own id)``)."""
    dialect = dialect_for(ws.project(), "wh")
    with connected(dialect) as state:
        if dialect.capabilities.single_writer or dialect.exclusive_lock(state.locks) is not None:
            pytest.skip("the warehouse keeps two runs from both inserting a lock row")
        insert = state.sql.one("lock_insert", {"locks": state.locks})
        if way == "take_over":
            a_day_ago = utcnow() - dt.timedelta(days=1)
            gone = {"sync_id": "s", "sync_run_id": 1, "owner": "gone-host:1", "now": a_day_ago}
            dialect.execute(insert, gone)
        execute = dialect.execute

        def execute_racing(sql: str, params: dict[str, Any] | None = None) -> None:
            lock_row = bool(params) and {"owner", "sync_run_id", "now"} <= set(params or {})
            if not lock_row or (sql == insert) != (way == "take_over"):
                execute(sql, params)
                return
            other = {**(params or {}), "sync_run_id": other_run((params or {})["sync_run_id"])}
            other["owner"] = "another-host:1"
            if way == "take_over":  # the other run, having taken it over too, inserts first
                execute(insert, other)
                execute(sql, params)
            else:  # this run's claim, then the other's row
                execute(sql, params)
                execute(insert, other)

        dialect.execute = execute_racing  # type: ignore[method-assign]
        yield state


def lock_rows(ws: Workspace) -> list[tuple[Any, ...]]:
    return sorted(ws.query("SELECT sync_run_id, owner FROM hightouch_planner.lightning_locks"))


@pytest.mark.parametrize("way", WAYS)
def test_the_run_with_the_higher_id_withdraws(ws: Workspace, way: str) -> None:
    ws.users(ROWS)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    with (
        racing_state(ws, lambda own: own - 1, way) as state,
        pytest.raises(SyncLockedError) as lost,
    ):
        state.acquire("s")
    assert "already running" in str(lost.value) and "another-host:1" in str(lost.value)
    ((run_id, owner),) = lock_rows(ws)  # only the other run's row is left
    assert owner == "another-host:1"
    assert f"run {run_id}" in str(lost.value)


@pytest.mark.parametrize("way", WAYS)
def test_the_run_with_the_lower_id_keeps_the_lock(ws: Workspace, way: str) -> None:
    ws.users(ROWS)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    with racing_state(ws, lambda own: own + 1, way) as state:
        run_id = state.acquire("s")
    rows = lock_rows(ws)
    assert [r[0] for r in rows] == [run_id, run_id + 1]  # the other run withdraws its own
