"""Plain Spark's catalog read and its rewrite of ``DELETE``, on real Spark SQL.

The run tables' columns come from one ``SHOW TABLE EXTENDED`` (its schema tree), where
``SHOW TABLES`` and a ``DESCRIBE`` per table would be a statement each; they must read as
``DESCRIBE TABLE`` reads them. A ``DELETE`` is a rewrite through a scratch table, which a
rewrite stopped half-way leaves behind for the next one to drop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlglot import exp

from dialects.spark import SparkDialect
from tests.conftest import Workspace

SCHEMA = "catalog_read"


@pytest.fixture
def spark(spark_ws: Workspace, tmp_path: Path) -> Iterator[SparkDialect]:
    dialect = SparkDialect({"remote": spark_ws.url}, tmp_path)
    dialect.connect()
    dialect.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    dialect.execute(f"CREATE SCHEMA {SCHEMA}")
    yield dialect
    dialect.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    dialect.close()


def _table(name: str) -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(SCHEMA, quoted=True)
    )


def test_the_tables_columns_read_in_one_statement_as_describe_reads_them(
    spark: SparkDialect,
) -> None:
    spark.execute(
        f"CREATE TABLE {SCHEMA}.s_1_plan (row_id BIGINT, a INT, b SMALLINT, c TINYINT, "
        "d DOUBLE, e FLOAT, f BOOLEAN, g DATE, h TIMESTAMP, i TIMESTAMP_NTZ, j BINARY, "
        "k DECIMAL(38,10), `a: b (nullable = true)` STRING, v VARCHAR(5))"
    )
    spark.execute(
        f"CREATE TABLE {SCHEMA}.s_1_delta (row_id STRING, a ARRAY<STRING>, "
        "m MAP<STRING, INT>, st STRUCT<x: INT, `y: z`: STRING>)"
    )
    spark.execute(f"CREATE TABLE {SCHEMA}.t_1_plan (row_id BIGINT)")  # another sync's
    before = spark.statements_issued or 0
    read = spark.schema_columns(SCHEMA, "s_%")
    assert read is not None
    assert spark.statements_issued == before + 2  # the delta's complex types: described
    described = {name: spark.table_columns(_table(name)) for name in ("s_1_plan", "s_1_delta")}
    assert sorted(read) == ["s_1_delta", "s_1_plan"]
    assert read["s_1_delta"] == described["s_1_delta"]
    # The schema tree spells CHAR(n) and VARCHAR(n) as string; every other type as DESCRIBE.
    assert read["s_1_plan"][:-1] == described["s_1_plan"][:-1]
    assert read["s_1_plan"][-1] == ("v", "STRING") and described["s_1_plan"][-1] == (
        "v",
        "VARCHAR(5)",
    )
    assert spark.schema_columns("no_such_schema", "s_%") == {}
    assert spark.schema_columns(SCHEMA, "s|t_%") is None  # not a plain pattern: read apart


def test_a_delete_is_three_statements_and_drops_a_scratch_table_left_behind(
    spark: SparkDialect,
) -> None:
    spark.execute(f"CREATE TABLE {SCHEMA}.t (a INT)")
    spark.execute(f"INSERT INTO {SCHEMA}.t VALUES (1), (2), (3)")
    before = spark.statements_issued or 0
    spark.execute(f"DELETE FROM {SCHEMA}.t WHERE a = 3")
    assert spark.statements_issued == before + 3  # scratch table, overwrite, drop
    # A rewrite stopped before its drop leaves the scratch table: the next one drops it first.
    spark.execute(f"CREATE TABLE {SCHEMA}.t__rewrite AS SELECT 99 AS a")
    before = spark.statements_issued or 0
    spark.execute(f"DELETE FROM {SCHEMA}.t WHERE a = 2")
    assert spark.statements_issued == before + 5
    assert spark.fetchall(f"SELECT a FROM {SCHEMA}.t") == [(1,)]
    assert spark.fetchall(f"SHOW TABLES IN {SCHEMA} LIKE 't__*'") == []
