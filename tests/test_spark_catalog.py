"""Plain Spark's catalog read and its rewrite of ``DELETE``, on real Spark SQL.

The run tables' columns come from one ``SHOW TABLE EXTENDED`` (its schema tree), where
``SHOW TABLES`` and a ``DESCRIBE`` per table would be a statement each; they must read as
``DESCRIBE TABLE`` reads them. A whole-table model's columns come with the view check's
``DESCRIBE TABLE EXTENDED`` and must be what ``DESCRIBE QUERY`` reads. A ``DELETE`` is a
rewrite: a small table's kept rows are read and written back, with every value as it was;
a larger one's go through a scratch table, which a rewrite stopped half-way leaves behind
for the next one to drop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from dialects.databricks import DatabricksDialect
from dialects.spark import SparkDialect
from engine.read_only import check_views
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


def test_a_small_tables_delete_is_two_statements_with_its_values_as_they_were(
    spark: SparkDialect,
) -> None:
    spark.execute(
        f"CREATE TABLE {SCHEMA}.locks (s STRING, n BIGINT, i INT, ntz TIMESTAMP_NTZ, "
        "ltz TIMESTAMP, b BOOLEAN, d DOUBLE)"
    )
    spark.execute(
        f"INSERT INTO {SCHEMA}.locks VALUES "
        "('it''s \\u00e9 \\n', 9223372036854775807, -2147483648, "
        "TIMESTAMP_NTZ'2026-01-02 03:04:05.123456', TIMESTAMP'2026-01-02 03:04:05.5', true, "
        "CAST('NaN' AS DOUBLE)), (NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
        "('gone', 1, 1, NULL, NULL, false, 1.5)"
    )
    before_rows = spark.fetchall(f"SELECT * FROM {SCHEMA}.locks WHERE s IS NULL OR s <> 'gone'")
    before = spark.statements_issued or 0
    spark.execute(f"DELETE FROM {SCHEMA}.locks WHERE s = :s", {"s": "gone"})
    assert spark.statements_issued == before + 2  # the kept rows read, then written back
    after = spark.fetchall(f"SELECT * FROM {SCHEMA}.locks")
    key = repr  # NaN is not equal to itself: compare the rows' texts
    assert sorted(map(key, after)) == sorted(map(key, before_rows))
    assert spark.table_columns(_table("locks"))[3:5] == [
        ("ntz", "TIMESTAMP_NTZ"),
        ("ltz", "TIMESTAMP"),
    ]
    before = spark.statements_issued or 0
    spark.execute(f"DELETE FROM {SCHEMA}.locks")
    assert spark.statements_issued == before + 2  # nothing kept: TRUNCATE TABLE
    assert spark.fetchall(f"SELECT COUNT(*) FROM {SCHEMA}.locks") == [(0,)]


def test_a_larger_tables_delete_goes_through_a_scratch_table_left_behind_or_not(
    spark: SparkDialect,
) -> None:
    spark.execute(f"CREATE TABLE {SCHEMA}.t AS SELECT CAST(id AS INT) AS a FROM range(200)")
    before = spark.statements_issued or 0
    spark.execute(f"DELETE FROM {SCHEMA}.t WHERE a >= 150")  # keeps 150 rows
    assert spark.statements_issued == before + 4  # the read, scratch table, overwrite, drop
    assert spark.fetchall(f"SELECT COUNT(*), MAX(a) FROM {SCHEMA}.t") == [(150, 149)]
    # A rewrite stopped before its drop leaves the scratch table: the next one drops it first.
    spark.execute(f"CREATE TABLE {SCHEMA}.t__rewrite AS SELECT 99 AS a")
    before = spark.statements_issued or 0
    spark.execute(f"DELETE FROM {SCHEMA}.t WHERE a = 2")
    assert spark.statements_issued == before + 6
    assert spark.fetchall(f"SELECT COUNT(*), MIN(a) FROM {SCHEMA}.t WHERE a < 3") == [(2, 0)]
    assert spark.fetchall(f"SHOW TABLES IN {SCHEMA} LIKE 't__*'") == []
    # A small table with a value a parameter would not carry as read (a DATE) does the same.
    spark.execute(f"CREATE TABLE {SCHEMA}.dates AS SELECT DATE'2026-01-01' AS d, 1 AS a")
    before = spark.statements_issued or 0
    spark.execute(f"UPDATE {SCHEMA}.dates SET a = 2")
    assert spark.statements_issued == before + 5  # the columns described, then as above
    assert spark.fetchall(f"SELECT CAST(d AS STRING), a FROM {SCHEMA}.dates") == [("2026-01-01", 2)]


def test_a_table_models_columns_come_with_the_view_check_as_describe_query_reads_them(
    spark: SparkDialect,
) -> None:
    spark.execute(
        f"CREATE TABLE {SCHEMA}.wide (a BIGINT, b DECIMAL(10,2), c TIMESTAMP, d TIMESTAMP_NTZ, "
        "e ARRAY<STRUCT<x: INT, y: STRING>>, f MAP<STRING, DOUBLE>, g BINARY, h DATE, "
        "`i j` INT, k STRING COLLATE UTF8_LCASE)"
    )
    spark.execute(
        f"CREATE TABLE {SCHEMA}.parts (a BIGINT, b STRING, dt STRING) PARTITIONED BY (dt)"
    )
    spark.execute(f"CREATE TABLE {SCHEMA}.chars (a BIGINT, b VARCHAR(5), c STRUCT<x: CHAR(2)>)")
    spark.execute(f"CREATE VIEW {SCHEMA}.wide_view AS SELECT a, b FROM {SCHEMA}.wide")

    def bind(sql: str) -> tuple[int, list[tuple[str, str]]]:
        """The statements and columns of binding a model (engine.model._describe's steps)."""
        before = spark.statements_issued or 0
        check_views(sqlglot.parse_one(sql, read="databricks"), spark)
        columns = spark.query_columns(sql)
        return (spark.statements_issued or 0) - before, columns

    for sql, statements in (
        (f"SELECT * FROM {SCHEMA}.wide", 1),  # a whole table: one DESCRIBE TABLE EXTENDED
        (f"SELECT * FROM `{SCHEMA}`.`parts`", 1),  # partition columns listed once, last
        (f"SELECT * FROM {SCHEMA}.chars", 2),  # DESCRIBE QUERY reads VARCHAR(5) as STRING
        (f"SELECT * FROM {SCHEMA}.wide_view", 3),  # a view: its table is checked too
        (f"SELECT a FROM {SCHEMA}.wide", 2),  # not the whole table
        (f"SELECT * FROM {SCHEMA}.wide WHERE a > 0", 2),
    ):
        counted, columns = bind(sql)
        assert (counted, columns) == (statements, DatabricksDialect.query_columns(spark, sql))
    assert bind(f"SELECT * FROM {SCHEMA}.chars")[1][1:] == [
        ("b", "STRING"),
        ("c", "STRUCT<X:STRING>"),
    ]
    # What the view check described answers only the query_columns call that follows it.
    check_views(sqlglot.parse_one(f"SELECT * FROM {SCHEMA}.wide", read="databricks"), spark)
    spark.query_columns(f"SELECT 1 AS a FROM {SCHEMA}.wide")
    before = spark.statements_issued or 0
    spark.query_columns(f"SELECT * FROM {SCHEMA}.wide")
    assert spark.statements_issued == before + 1
