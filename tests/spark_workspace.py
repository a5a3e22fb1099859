"""The tests' workspace on the session's Spark Connect server (the ``spark`` source): the
warehouse tests' DuckDB SQL run on Spark through the engine's own ``spark`` dialect."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlglot

from dialects.databricks import utc_naive
from tests.conftest import Workspace

_INFO = "information_schema"
# Warehouse tests (by name, or by name and parameters) that need what Spark (and Databricks)
# does not have, with the reason: not run on Spark (deselected when the tests are collected,
# see tests/conftest.py).
CANNOT_RUN = {
    "test_the_exact_name_wins_and_case_twins_are_refused": (
        "Spark resolves column names case-insensitively: a model cannot return both "
        "'Email' and 'EMAIL'"
    ),
    "test_errors_by_sync_ranks_the_row_failure_above_an_abort": (
        "the test inlines dbt-hightouch's models, each with its own CTE named `final`, into "
        "one query; Spark SQL refuses duplicate CTE names (DUPLICATED_CTE_NAMES), where dbt "
        "builds each model apart"
    ),
    "test_another_machine_environment_plans_no_change": (
        "the test's table has an INTERVAL column, which Spark's Parquet tables cannot hold "
        "(UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE)"
    ),
    "test_one_row_per_element_and_a_removed_element_is_removed[spark-json]": (
        "Spark and Databricks hold JSON as text: the text kind of the same test covers them"
    ),
    "test_sql_runs_a_read_only_query_and_refuses_writes": (
        "the test writes with CREATE SEQUENCE / nextval, which Spark SQL (and Databricks) "
        "does not have"
    ),
}
# Test files whose warehouse tests another module runs on Spark: deselected here on Spark.
ON_SPARK_ELSEWHERE = {
    # Each example is three full runs (about 20 s on Spark): fewer examples there.
    "test_payload_property.py": "tests/test_spark_payload.py",
}


def _spark_range(table: sqlglot.exp.Table) -> sqlglot.exp.Expr:
    """DuckDB's ``range(a, b) t(i)`` as Spark's ``range(a, b)``, whose column is ``id``."""
    series = table.this
    alias = table.args.get("alias")
    column = alias.columns[0].name if alias is not None and alias.columns else "range"
    end = series.args["end"]
    if not series.args.get("is_end_exclusive"):
        end = sqlglot.exp.Add(this=end.copy(), expression=sqlglot.exp.Literal.number(1))
    call = sqlglot.exp.Anonymous(this="range", expressions=[series.args["start"].copy(), end])
    query = sqlglot.exp.select(sqlglot.exp.alias_("id", column)).from_(sqlglot.exp.Table(this=call))
    return query.subquery(alias.name if alias is not None else "r")


class SparkWorkspace(Workspace):
    """A workspace on the session's Spark Connect server (the ``spark`` source).

    Statements are written for DuckDB (``?`` placeholders), transpiled to the Databricks
    dialect's SQL and run through the engine's own ``spark`` dialect (which runs UPDATE and
    DELETE as rewrites). Every test shares the server's catalog, so the schemas and tables a
    test made are dropped when it ends.
    """

    kind = "spark"

    def __init__(self, root: Path, url: str):
        super().__init__(root)
        self.url = url
        self._dialect: Any = None

    def source(self) -> dict[str, Any]:
        return {"type": "spark", "remote": self.url}

    def dialect(self) -> Any:
        """The workspace's own connection: the engine's ``spark`` dialect."""
        if self._dialect is None:
            from dialects.spark import SparkDialect

            self._dialect = SparkDialect(self.source(), self.root)
            self._dialect.connect()
        return self._dialect

    def close(self) -> None:
        """Drop what the test made, and end the workspace's session."""
        dialect = self.dialect()
        for schema in dialect.list_schemas():
            if schema != "default":
                dialect.execute(f"DROP SCHEMA IF EXISTS `{schema}` CASCADE")
        for name in dialect.list_tables("default"):
            dialect.execute(f"DROP TABLE IF EXISTS default.`{name}`")
        dialect.close()
        self._dialect = None

    def _statements(self, statement: str, params: Any = None) -> list[tuple[str, Any]]:
        """Each statement in the engine's Databricks SQL, ``?`` placeholders named."""
        out: list[tuple[str, Any]] = []
        for tree in sqlglot.parse(statement, read="duckdb"):
            if tree is None:
                continue
            if isinstance(tree, sqlglot.exp.Create) and tree.args.get("replace"):
                # Spark's Parquet tables cannot be replaced: dropped, then created.
                target = tree.this.this if isinstance(tree.this, sqlglot.exp.Schema) else tree.this
                out.append((f"DROP TABLE IF EXISTS {target.sql('lightningdatabricks')}", None))
                tree.set("replace", False)
            for series in list(tree.find_all(sqlglot.exp.GenerateSeries)):
                if isinstance(series.parent, sqlglot.exp.Table):
                    series.parent.replace(_spark_range(series.parent))
            named = params
            if isinstance(params, list | tuple):
                for i, node in enumerate(tree.find_all(sqlglot.exp.Placeholder)):
                    node.set("this", f"p{i}")
                named = {f"p{i}": value for i, value in enumerate(params)}
            out.append((tree.sql("lightningdatabricks", identify=True), named))
        return out

    def _information_schema(self) -> None:
        """Plain Spark has no information_schema (Unity Catalog has): the tests' catalog
        queries read tables of the same name, filled from SHOW and DESCRIBE."""
        dialect = self.dialect()
        dialect.execute(f"DROP SCHEMA IF EXISTS {_INFO} CASCADE")
        schemas = dialect.list_schemas()
        tables: list[tuple[str, str, str]] = []
        columns: list[tuple[str, str, str, str, int]] = []
        for schema in schemas:
            views = {str(r[1]) for r in dialect.fetchall(f"SHOW VIEWS IN `{schema}`")}
            for name in dialect.list_tables(schema):
                tables.append((schema, name, "VIEW" if name in views else "BASE TABLE"))
                table = sqlglot.exp.table_(name, db=schema, quoted=True)
                for position, (column, kind) in enumerate(dialect.table_columns(table), 1):
                    columns.append((schema, name, column, kind, position))
        dialect.execute(f"CREATE SCHEMA {_INFO}")
        for name, header, rows in (
            ("schemata", "schema_name", [(s,) for s in schemas]),
            ("tables", "table_schema, table_name, table_type", tables),
            (
                "columns",
                "table_schema, table_name, column_name, data_type, ordinal_position",
                columns,
            ),
        ):
            literal = sqlglot.exp.convert
            values = (
                ", ".join(
                    "(" + ", ".join(literal(v).sql("lightningdatabricks") for v in row) + ")"
                    for row in rows
                )
                or "(" + ", ".join("NULL" for _ in header.split(",")) + ")"
            )
            keep = "TRUE" if rows else "FALSE"
            dialect.execute(
                f"CREATE TABLE {_INFO}.{name} AS SELECT *, 'spark_catalog' AS table_catalog, "
                f"CAST(NULL AS INT) AS numeric_scale FROM VALUES {values} AS v({header}) "
                f"WHERE {keep}"
            )

    def sql(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        for one, named in self._statements(statement, params):
            self.dialect().execute(one, named)

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        ((one, named),) = self._statements(statement, params)
        if _INFO in one:
            self._information_schema()
        return self.dialect().fetchall(one, named)

    def insert_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        tree = sqlglot.parse_one(statement, read="duckdb")
        values = tree.find(sqlglot.exp.Values)
        if values is None or not rows:
            for row in rows:
                self.sql(statement, list(row))
            return
        values.set("expressions", [values.expressions[0].copy() for _ in rows])
        self.sql(tree.sql("duckdb"), [v for row in rows for v in row])

    def records(self, statement: str, params: Any = None) -> list[dict[str, Any]]:
        ((one, named),) = self._statements(statement, params)
        if _INFO in one:
            self._information_schema()
        cursor = self.dialect().con.cursor()
        try:
            cursor.execute(one, named)
            names = [str(d[0]) for d in cursor.description or []]
            return [
                dict(zip(names, (utc_naive(v) for v in row), strict=True))
                for row in cursor.fetchall()
            ]
        finally:
            cursor.close()
