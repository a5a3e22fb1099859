"""Databricks (``type: databricks``), through the official ``databricks-sql-connector``.

Settings: ``server_hostname`` and ``http_path`` (a SQL warehouse's Connection details),
``access_token`` (a personal access token) or OAuth machine-to-machine (``client_id``,
``client_secret`` of a service principal), ``catalog`` (the Unity Catalog catalog the engine's
two schemas are created in) and ``schema`` (where the models' unqualified names resolve).

Choices (each from Databricks' documentation, and run on Spark SQL where Spark has it; see the
README's table of what is proven where):

- Tables are Delta tables (Databricks' default); ``fields`` and payloads are ``STRING`` holding
  JSON, built with ``to_json(struct(v AS `k`, ...), map('ignoreNullFields', 'false'))`` so that a
  key whose value is NULL is kept (:mod:`dialects.databricks_sql`).
- Row hash: ``xxhash64(...)`` of the mapped values, each followed by whether it is NULL
  (``xxhash64`` skips NULLs, so ``('a', NULL)`` and ``(NULL, 'a')`` would hash alike).
- Parameters are the connector's native named parameters (``:name``), bound by the server.
- No multi-statement transactions: ``Capabilities.transactions`` is False and the engine
  orders its writes so that the commit marker is written after the sync logs and before the
  run's ``sync_runs`` row; a process killed between two statements leaves an uncommitted run,
  whose delta the next run looks at again.
- No session temporary tables: the stage is a planner table, dropped with the run.
- Catalog lookups through Unity Catalog's ``information_schema`` of the current catalog; a
  query's columns through ``DESCRIBE QUERY``.
- The delta is read with ``fetchmany_arrow``: one batch of rows in Python at a time.
- Rejections are loaded with multi-row parameterized INSERTs of ``INSERT_ROWS`` rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from dialects import array_forms as arrays
from dialects.base import Dialect
from dialects.capabilities import Capabilities
from dialects.databricks_connect import (
    SETTINGS,
    classify,
    connect_arguments,
    connect_error,
    fix_for,
    missing_settings,
)
from dialects.databricks_sql import LightningDatabricks
from dialects.errors import ErrorKind, WarehouseError
from dialects.run_catalog import with_values

SQLGLOT_DIALECT = "lightningdatabricks"
INSERT_ROWS = 200  # rows per INSERT of the rejection loads (five parameters each)
_HASH_PROBE = (
    "SELECT xxhash64(42, 'lightning', CAST(1.5 AS DOUBLE), TRUE, NULL, "
    "CAST('2024-01-02 03:04:05.123456' AS TIMESTAMP_NTZ), CAST('2024-01-02' AS DATE), "
    "CAST(12.34 AS DECIMAL(10, 2)))"
)
_INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "LONG", "SHORT"})
_JSON_AS_IS = frozenset({"STRING", "BOOLEAN"})  # to_json writes these as the engine's encoder
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL"})
_UNHASHABLE = ("MAP", "VARIANT")  # xxhash64 refuses these: hashed as their JSON
# Unity Catalog's information_schema, of the current catalog.
_SCHEMAS = "SELECT schema_name FROM information_schema.schemata"
_TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"
_SCHEMA_TABLES = (
    "SELECT table_schema, table_name FROM information_schema.tables "
    "WHERE table_schema IN (:schema0, :schema1)"
)
_COLUMNS = (
    "SELECT column_name, full_data_type FROM information_schema.columns "
    "WHERE table_schema = :schema AND table_name = :name ORDER BY ordinal_position"
)
_SCHEMA_COLUMNS = (  # full_data_type: DECIMAL(10,2), ARRAY<STRING> (data_type: DECIMAL, ARRAY)
    "SELECT table_name, column_name, full_data_type AS data_type, numeric_precision, "
    "numeric_scale, ordinal_position FROM information_schema.columns "
    "WHERE table_schema = :schema AND LOWER(table_name) LIKE :pattern"
)
# Functions a model may not call: they reach other systems or cost money per row
# (https://docs.databricks.com/aws/en/sql/language-manual/sql-ref-functions-builtin-alpha).
SIDE_EFFECT_FUNCTIONS = {
    "http_request": "sends an HTTP request through a connection",
    "ai_*": "calls a model serving endpoint",
    "vector_search": "queries a vector search index",
    "secret": "reads a secret",
    "try_secret": "reads a secret",
    "remote_query": "runs SQL on an external database",
    "read_files": "reads files from cloud storage",
    "read_kafka": "reads a stream outside the warehouse",
    "read_kinesis": "reads a stream outside the warehouse",
    "read_pubsub": "reads a stream outside the warehouse",
    "read_pulsar": "reads a stream outside the warehouse",
    "reflect": "calls a Java method",
    "try_reflect": "calls a Java method",
    "java_method": "calls a Java method",
}


@lru_cache(maxsize=512)
def placeholder_names(sql: str) -> frozenset[str]:
    """The ``:name`` placeholders of a statement, found by parsing (never in a string)."""
    tree = sqlglot.parse_one(sql, read=SQLGLOT_DIALECT)
    return frozenset(node.name for node in tree.find_all(exp.Placeholder) if node.name)


def utc_naive(value: Any) -> Any:
    """An aware timestamp as naive UTC (the engine's own timestamps are naive UTC)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def value_tuples(
    rows: Sequence[Sequence[Any]], casts: Sequence[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """``(:r0_0, ...), (...)``: one tuple of named parameters per row (each cast to its
    column's type where ``casts`` names them), and those parameters."""
    params: dict[str, Any] = {}
    tuples = []
    for i, row in enumerate(rows):
        names = [f"r{i}_{j}" for j in range(len(row))]
        params.update(zip(names, row, strict=True))
        values = (
            (f"CAST(:{n} AS {kind})" for n, kind in zip(names, casts, strict=True))
            if casts is not None
            else (f":{n}" for n in names)
        )
        tuples.append("(" + ", ".join(values) + ")")
    return ", ".join(tuples), params


class DatabricksDialect(Dialect):
    """The Databricks dialect (``type: databricks``)."""

    name = "databricks"
    array_forms = arrays.DATABRICKS
    sqlglot_dialect = SQLGLOT_DIALECT
    hash_name = "xxhash64"
    hash_probe = _HASH_PROBE
    setting_names = SETTINGS
    side_effect_functions = SIDE_EFFECT_FUNCTIONS
    capabilities = Capabilities(
        transactions=False,
        temp_tables=False,
        merge=True,
        delete=True,
        identifier_case="lower",  # Unity Catalog keeps names in lower case
        read_only_sessions=False,
        snapshot_rereads=False,
    )

    # -- connection -------------------------------------------------------------------------
    def describe(self) -> str:
        host = self.settings.get("server_hostname") or "(no server_hostname)"
        return f"Databricks {host}, catalog {self.settings.get('catalog') or '(default)'}"

    def connect_arguments(self) -> dict[str, Any]:
        """What the connector's ``connect()`` gets (secrets included: never print it)."""
        return connect_arguments(self.settings, self.label)

    def _open(self) -> Any:
        """A DB-API connection of the connector (see ``SparkDialect`` for the local one)."""
        missing = missing_settings(self.settings)
        if missing:
            raise WarehouseError(
                f"The Databricks source lacks {', '.join(missing)}. Fix: copy server_hostname "
                "and http_path from the SQL warehouse's Connection details, and set "
                "access_token: ${DATABRICKS_TOKEN} (or client_id and client_secret).",
                ErrorKind.CONNECTION,
            )
        from databricks import sql

        return sql.connect(**self.connect_arguments())

    def connect(self, read_only: bool = False) -> None:
        """Databricks has no read-only session: ``lightning-sync sql`` relies on its parse
        check and on the principal's privileges."""
        try:
            self._con = self._open()
            for statement in self.setup_statements():
                self.execute(statement)
            self.statements_issued = 0  # the session's settings are not the run's
        except WarehouseError:
            raise
        except Exception as error:  # noqa: BLE001 - classified below
            self._con = None
            raise connect_error(error, self.settings, self.describe()) from error

    def setup_statements(self) -> list[str]:
        return []  # the session's zone and ANSI mode come with the connection

    # -- statements -------------------------------------------------------------------------
    def _run(self, cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
        self.count_statement()
        names = placeholder_names(sql) if params else frozenset()
        if not names:
            return cursor.execute(sql)
        return cursor.execute(sql, {name: params[name] for name in names})  # type: ignore[index]

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        cursor = self.con.cursor()
        try:
            self._run(cursor, sql, params)
        finally:
            cursor.close()

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self.con.cursor()
        try:
            self._run(cursor, sql, params)
            return [tuple(utc_naive(v) for v in row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def query(self, sql: str, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.con.cursor()
        try:
            self._run(cursor, sql, None)
            names = [str(column[0]) for column in cursor.description or []]
            return names, [tuple(row) for row in cursor.fetchmany(max_rows)]
        finally:
            cursor.close()

    def stream(
        self, sql: str, params: dict[str, Any] | None, batch_rows: int
    ) -> Iterator[dict[str, list[Any]]]:
        # Each cursor is an operation of its own, so the connection stays free for the
        # rejection loads while this read is open; fetchmany_arrow holds one batch.
        cursor = self.con.cursor()
        try:
            self._run(cursor, sql, params)
            while True:
                table = cursor.fetchmany_arrow(batch_rows)
                if table.num_rows == 0:
                    return
                yield table.to_pydict()
        finally:
            cursor.close()

    def bulk_insert(
        self, table: exp.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        target = exp.Schema(
            this=table.copy(), expressions=[exp.to_identifier(c, quoted=True) for c in columns]
        ).sql(self.sqlglot_dialect)
        # Each value cast to its column's type: ANSI store assignment refuses a string
        # parameter for a BIGINT key, for one.
        types = {name.lower(): kind for name, kind in self.table_columns(table)}
        casts = [types.get(c.lower(), "STRING") for c in columns]
        for start in range(0, len(rows), INSERT_ROWS):
            tuples, params = value_tuples(rows[start : start + INSERT_ROWS], casts)
            self.execute(f"INSERT INTO {target} VALUES {tuples}", params)

    def transaction(self) -> AbstractContextManager[None]:
        return nullcontext()  # no multi-statement transactions (see the module doc)

    def list_schemas(self) -> list[str]:
        return [str(row[0]) for row in self.fetchall(_SCHEMAS)]

    def list_tables(self, schema: str) -> list[str]:
        return [str(row[0]) for row in self.fetchall(_TABLES, {"schema": schema})]

    def schema_tables(self, schemas: Sequence[str]) -> dict[str, list[str]]:
        return self._tables_by_schema(_SCHEMA_TABLES, schemas)

    def schema_columns_query(self, schema: str, pattern: str) -> exp.Query | None:
        return with_values(_SCHEMA_COLUMNS, "databricks", schema=schema, pattern=pattern)

    def catalog_column(self, name: Any, kind: Any, precision: Any, scale: Any) -> tuple[str, str]:
        return str(name), str(kind).upper()  # as table_columns reads it

    def table_columns(self, table: exp.Table) -> list[tuple[str, str]]:
        rows = self.fetchall(_COLUMNS, {"schema": table.db, "name": table.name})
        return [(str(name), str(kind).upper()) for name, kind in rows]

    def view_definition(self, table: exp.Table) -> str | None:
        # Unity Catalog's information_schema.views holds a view's query as its owner wrote it
        # (https://docs.databricks.com/aws/en/sql/language-manual/information-schema/views),
        # in the named catalog's information_schema, or the current one's.
        catalog = table.args.get("catalog")
        views = exp.Table(
            this=exp.to_identifier("views"),
            db=exp.to_identifier("information_schema"),
            catalog=catalog.copy() if isinstance(catalog, exp.Identifier) else None,
        ).sql(self.sqlglot_dialect)
        rows = self.fetchall(
            f"SELECT view_definition FROM {views} WHERE table_name = :name "
            "AND table_schema = COALESCE(:schema, current_schema())",
            {"name": table.name.lower(), "schema": table.db.lower() or None},
        )
        return str(rows[0][0]) if rows and rows[0][0] else None

    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        # DESCRIBE QUERY compiles the query without running it.
        rows = self.fetchall(f"DESCRIBE QUERY {sql}")
        return [(str(row[0]), str(row[1]).upper()) for row in rows]

    def classify_error(self, error: BaseException) -> ErrorKind:
        return classify(error)

    def wrap(self, error: BaseException, context: str) -> WarehouseError:
        wrapped = super().wrap(error, context)
        fix = fix_for(error, self.settings)
        if fix is None:
            return wrapped
        return WarehouseError(f"{wrapped} Fix: {fix}.", wrapped.kind, error)

    def is_integer_type(self, type_name: str) -> bool:
        upper = type_name.upper().replace(" ", "")
        return upper in _INTEGER_TYPES or (upper.startswith("DECIMAL(") and upper.endswith(",0)"))

    # -- SQL fragments ----------------------------------------------------------------------
    def row_hash(self, values: Sequence[exp.Expr], types: Sequence[str]) -> exp.Expr:
        if not values:
            return exp.Literal.number(0)
        arguments: list[exp.Expr] = []
        for value, kind in zip(values, types, strict=False):
            hashed = value.copy()
            if kind.upper().startswith(_UNHASHABLE):
                hashed = exp.Anonymous(this="to_json", expressions=[hashed])
            arguments += [hashed, exp.Is(this=value.copy(), expression=exp.Null())]
        return exp.Anonymous(this="xxhash64", expressions=arguments)

    def key_text(self, value: exp.Expr) -> exp.Expr:
        return exp.cast(value, exp.DataType.build("string", dialect="spark"))

    def json_text(self, value: exp.Expr) -> exp.Expr:
        # to_json writes structs, arrays and maps only: the value's text is its one-element
        # array's, brackets cut (NULL inside an array is written null).
        array = exp.Anonymous(
            this="to_json", expressions=[exp.Anonymous(this="array", expressions=[value])]
        )
        inner = exp.Sub(this=exp.Length(this=array.copy()), expression=exp.Literal.number(2))
        return exp.Substring(this=array, start=exp.Literal.number(2), length=inner)

    def json_value(self, value: exp.Expr, type_name: str) -> exp.Expr | None:
        as_is = type_name.upper() in _JSON_AS_IS or self.is_integer_type(type_name)
        return value if as_is else None

    def log_json_value(self, value: exp.Expr, type_name: str) -> exp.Expr:
        # to_json writes NaN and the infinities as bare tokens, which are not JSON: null.
        if type_name.upper() not in _FLOAT_TYPES:
            return super().log_json_value(value, type_name)
        special = exp.or_(
            exp.Anonymous(this="isnan", expressions=[value.copy()]),
            exp.EQ(
                this=exp.func("abs", value.copy()),
                expression=exp.cast(exp.Literal.string("Infinity"), exp.DataType.build("double")),
            ),
        )
        return exp.Case(ifs=[exp.If(this=special, true=exp.Null())], default=value)

    def current_user(self) -> str:
        return str(self.fetchall("SELECT current_user()")[0][0])

    def grant_statements(self, user: str, schemas: Sequence[str]) -> list[str]:
        catalog = str(self.settings.get("catalog") or "<catalog>")
        who = f"`{user}`"
        statements = [
            "-- as a metastore admin or the catalog's owner, in the workspace's SQL editor:",
            f"GRANT USE CATALOG ON CATALOG `{catalog}` TO {who};",
        ]
        for schema in schemas:
            statements.append(f"CREATE SCHEMA IF NOT EXISTS `{catalog}`.`{schema}`;")
            statements.append(
                f"GRANT USE SCHEMA, CREATE TABLE, MODIFY, SELECT ON SCHEMA "
                f"`{catalog}`.`{schema}` TO {who};"
            )
        statements += [
            f"-- and read access to the models: GRANT USE SCHEMA, SELECT ON SCHEMA "
            f"`{catalog}`.<schema> TO {who};",
            "-- and on the SQL warehouse: Permissions > Can use, for the same principal.",
        ]
        return statements


__all__ = ["DatabricksDialect", "LightningDatabricks", "placeholder_names"]
