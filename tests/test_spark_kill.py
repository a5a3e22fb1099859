"""Spark (and Databricks) have no multi-statement transactions: the engine orders its writes
so that a process killed between any two statements never leaves a run claimed as succeeded
and never loses a change. Here the run is killed right before each of its writes in turn, on
real Spark SQL (plain Spark's rewrites of DELETE/UPDATE/MERGE included, each statement of a
rewrite a kill point of its own). See tests/kill_after_statements.py."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace
from tests.killed_runs import killed_before_write

EACH_WAREHOUSE = ["spark"]  # a Spark test: the whole set under CI=true (see tests/conftest.py)
pytestmark = pytest.mark.each_warehouse

# Measured on Spark: the writes of the delta run of tests/killed_runs.py (statements that are
# not reads or session settings). The last case is not killed and checks the count is exact.
WRITES_PER_DELTA_RUN = 11


@pytest.mark.parametrize("kill_at", range(1, WRITES_PER_DELTA_RUN + 2))
def test_a_run_killed_before_any_write_claims_nothing_and_loses_nothing(
    ws: Workspace, kill_at: int
) -> None:
    killed_before_write(ws, kill_at, WRITES_PER_DELTA_RUN)
