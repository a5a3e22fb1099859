"""Two runs of one sync inserting their lock rows in the same instant (engine/state.py).

PostgreSQL's LOCK TABLE keeps that from happening, and so does DuckDB's one writing process
per file (there the read-back is skipped and these tests are not run); Snowflake has no such
statement, so every run reads the lock rows back once its own is committed and the lowest
(run id, owner) keeps the lock. The race is made certain here: the other run's row is
inserted just before this run's own, inside its transaction, as a run that saw no lock
either would have done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from engine.state import State, SyncLockedError
from engine.warehouse import connected, dialect_for
from tests.conftest import Workspace
from tests.test_bad_input import ROWS

pytestmark = pytest.mark.each_warehouse
# Where the race cannot happen (the engine skips the read-back there), the tests are not run.
NOT_ON_WAREHOUSES = {
    "duckdb": "one process writes a database file at a time",
    "postgres": "LOCK TABLE serializes the runs taking the lock",
}


@contextmanager
def racing_state(ws: Workspace, other_run: Callable[[int], int]) -> Iterator[State]:
    """A State whose lock insert is preceded by another run's (id ``other_run(own id)``)."""
    dialect = dialect_for(ws.project(), "wh")
    with connected(dialect) as state:
        if dialect.capabilities.single_writer or dialect.exclusive_lock(state.locks) is not None:
            pytest.skip("the warehouse keeps two runs from both inserting a lock row")
        execute = dialect.execute

        def execute_racing(sql: str, params: dict[str, Any] | None = None) -> None:
            if params and {"owner", "sync_run_id", "now"} <= set(params):  # the lock insert
                other = {**params, "sync_run_id": other_run(params["sync_run_id"])}
                execute(sql, {**other, "owner": "another-host:1"})
            execute(sql, params)

        dialect.execute = execute_racing  # type: ignore[method-assign]
        yield state


def lock_rows(ws: Workspace) -> list[tuple[Any, ...]]:
    return sorted(ws.query("SELECT sync_run_id, owner FROM hightouch_planner.lightning_locks"))


def test_the_run_that_inserted_second_withdraws(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    with racing_state(ws, lambda own: own - 1) as state, pytest.raises(SyncLockedError) as lost:
        state.acquire("s")
    assert "already running" in str(lost.value) and "another-host:1" in str(lost.value)
    ((run_id, owner),) = lock_rows(ws)  # only the other run's row is left
    assert owner == "another-host:1"
    assert f"run {run_id}" in str(lost.value)


def test_the_run_that_inserted_first_keeps_the_lock(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    with racing_state(ws, lambda own: own + 1) as state:
        run_id = state.acquire("s")
    rows = lock_rows(ws)
    assert [r[0] for r in rows] == [run_id, run_id + 1]  # the other run withdraws its own
