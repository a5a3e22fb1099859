"""``lightning-sync`` whose Snowflake or BigQuery dialect ends its own process, as SIGKILL
would, right before the statement (BigQuery: the job) numbered ``LIGHTNING_TEST_KILL_AT``
(counting every statement the process sends). ``python -m tests.kill_after_statements run
--project FILE SYNC``."""

from __future__ import annotations

import os
from typing import Any

from dialects import REGISTRY
from dialects.bigquery import BigQueryDialect
from dialects.snowflake import SnowflakeDialect

KILL_AT = int(os.environ.get("LIGHTNING_TEST_KILL_AT", "0"))
_sent = [0]


class KilledSnowflake(SnowflakeDialect):
    """Snowflake, killed before statement ``KILL_AT``."""

    def _run(self, cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
        _sent[0] += 1
        if _sent[0] == KILL_AT:
            os._exit(137)
        return super()._run(cursor, sql, params)


class KilledBigQuery(BigQueryDialect):
    """BigQuery, killed before job ``KILL_AT`` (a query or a load job)."""

    def _job(self, sql: str, params: dict[str, Any] | None, dry_run: bool = False) -> Any:
        _sent[0] += 1
        if _sent[0] == KILL_AT:
            os._exit(137)
        return super()._job(sql, params, dry_run)

    def bulk_insert(self, table: Any, columns: Any, rows: Any) -> None:
        _sent[0] += 1
        if _sent[0] == KILL_AT:
            os._exit(137)
        super().bulk_insert(table, columns, rows)


if __name__ == "__main__":
    REGISTRY["snowflake"] = "tests.kill_after_statements:KilledSnowflake"
    REGISTRY["bigquery"] = "tests.kill_after_statements:KilledBigQuery"
    from engine.cli import app

    app()
