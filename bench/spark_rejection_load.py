"""How the Databricks dialect loads a run's rejections, measured on local Spark SQL.

``python -m bench.spark_rejection_load [--rows 20000] [--chunks 1,50,200,1000]`` starts a local
Spark Connect server (the tests' configuration, :mod:`tests.spark_server`), creates a
rejections table, and times ``DatabricksDialect.bulk_insert`` (multi-row INSERTs of
parameterized rows, ``INSERT_ROWS`` at a time) at each chunk size, one fresh table per size,
interleaved over ``--repeats`` rounds; a chunk of 1 is one INSERT per row (timed on at most
``--single-rows`` rows, reported per row). It prints rows/s per chunk size (median).

``COPY INTO`` from a Unity Catalog volume cannot run here (it needs Delta and a volume); see
the README's Databricks section for why the INSERTs were chosen.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlglot import exp

from dialects import databricks
from dialects.spark import SparkDialect
from tests import spark_server

COLUMNS = ["row_id", "op_type", "status", "failure_reason", "attempts"]


def _rows(n: int) -> list[tuple[str, str, str, str, int]]:
    return [
        (f"user-{i}", "added", "failed", f"HTTP 400: bad email for row {i}", 1) for i in range(n)
    ]


def _time_load(
    dialect: SparkDialect, chunk: int, rows: list[tuple[str, str, str, str, int]]
) -> float:
    table = exp.table_(f"rej_{chunk}", db="bench_rejections", quoted=True)
    dialect.execute(f"DROP TABLE IF EXISTS {table.sql(dialect.sqlglot_dialect)}")
    dialect.execute(
        f"CREATE TABLE {table.sql(dialect.sqlglot_dialect)} (row_id STRING, op_type STRING, "
        "status STRING, failure_reason STRING, attempts BIGINT)"
    )
    databricks.INSERT_ROWS = chunk
    started = time.perf_counter()
    dialect.bulk_insert(table, COLUMNS, rows)
    elapsed = time.perf_counter() - started
    (count,) = dialect.fetchall(f"SELECT COUNT(*) FROM {table.sql(dialect.sqlglot_dialect)}")[0]
    assert count == len(rows), (chunk, count)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--single-rows", type=int, default=200)
    parser.add_argument("--chunks", default="1,50,200,1000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    with tempfile.TemporaryDirectory() as work:
        server = spark_server.SparkConnectServer(Path(work))
        url = server.start()
        try:
            dialect = SparkDialect({"type": "spark", "remote": url}, Path(work))
            dialect.connect()
            dialect.execute("CREATE SCHEMA IF NOT EXISTS bench_rejections")
            _time_load(dialect, 200, _rows(1000))  # warm the JVM
            seconds: dict[int, list[float]] = {c: [] for c in chunks}
            for _ in range(args.repeats):
                for chunk in chunks:
                    n = args.single_rows if chunk == 1 else args.rows
                    seconds[chunk].append(_time_load(dialect, chunk, _rows(n)) / n)
            print(f"{'rows per INSERT':>16} {'rows/s (median)':>16} {'per 10k rows':>14}")
            for chunk in chunks:
                per_row = statistics.median(seconds[chunk])
                print(f"{chunk:>16} {1 / per_row:>16,.0f} {per_row * 10000:>13.1f}s")
            dialect.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
