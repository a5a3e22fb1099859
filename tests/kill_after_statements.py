"""``lightning-sync`` whose Snowflake, BigQuery or Spark dialect ends its own process, as
SIGKILL would, right before the statement numbered ``LIGHTNING_TEST_KILL_AT`` (Snowflake:
counting every statement the process sends; BigQuery: counting the jobs and API calls that
write; Spark: counting the statements that write, each statement of a rewrite included).
``python -m tests.kill_after_statements run --project FILE SYNC``.

On BigQuery and Spark only writes are counted: what a killed run leaves behind depends only on which
writes completed, so a kill before a read leaves the same state as a kill before the next
write, and one case per write covers a kill between any two jobs."""

from __future__ import annotations

import os
import re
from typing import Any

from dialects import REGISTRY
from dialects.bigquery import BigQueryDialect
from dialects.snowflake import SnowflakeDialect
from dialects.spark import SparkDialect

KILL_AT = int(os.environ.get("LIGHTNING_TEST_KILL_AT", "0"))
_sent = [0]


class KilledSnowflake(SnowflakeDialect):
    """Snowflake, killed before statement ``KILL_AT``."""

    def _run(self, cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
        _sent[0] += 1
        if _sent[0] == KILL_AT:
            os._exit(137)
        return super()._run(cursor, sql, params)


def _count_a_write() -> None:
    _sent[0] += 1
    if _sent[0] == KILL_AT:
        os._exit(137)


def _report_the_count() -> None:
    """The writes counted, into the file ``LIGHTNING_TEST_COUNT_WRITES`` names (if any)."""
    if os.environ.get("LIGHTNING_TEST_COUNT_WRITES"):
        with open(os.environ["LIGHTNING_TEST_COUNT_WRITES"], "w") as counted:
            counted.write(str(_sent[0]))


class KilledBigQuery(BigQueryDialect):
    """BigQuery, killed before write ``KILL_AT`` (a query job that is not a plain read, a load
    job, or a dataset made through the API). ``LIGHTNING_TEST_COUNT_WRITES`` names a file the
    number of writes is written to when the process ends normally."""

    def _job(self, sql: str, params: dict[str, Any] | None, dry_run: bool = False) -> Any:
        if not dry_run and not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            _count_a_write()
        return super()._job(sql, params, dry_run)

    def bulk_insert(self, table: Any, columns: Any, rows: Any) -> None:
        _count_a_write()
        super().bulk_insert(table, columns, rows)

    def _create_dataset(self, sql: str) -> None:
        _count_a_write()
        super()._create_dataset(sql)

    def close(self) -> None:
        super().close()
        _report_the_count()


_LEADING_COMMENTS = re.compile(r"^(\s*(/\*.*?\*/|--[^\n]*\n))*\s*", re.DOTALL)
_READS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "SET")


class KilledSpark(SparkDialect):
    """Spark, killed before write ``KILL_AT`` (any statement but a read or a session
    setting); ``LIGHTNING_TEST_COUNT_WRITES`` as for BigQuery."""

    def _run(self, cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
        if not _LEADING_COMMENTS.sub("", sql, count=1).upper().startswith(_READS):
            _count_a_write()
        return super()._run(cursor, sql, params)

    def close(self) -> None:
        super().close()
        _report_the_count()


if __name__ == "__main__":
    REGISTRY["snowflake"] = "tests.kill_after_statements:KilledSnowflake"
    REGISTRY["bigquery"] = "tests.kill_after_statements:KilledBigQuery"
    REGISTRY["spark"] = "tests.kill_after_statements:KilledSpark"
    from engine.cli import app

    app()
