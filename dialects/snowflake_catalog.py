"""Snowflake's catalog: schemas, tables, columns and views, and the columns a query returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import sqlglot
from sqlglot import exp

from dialects.run_catalog import with_values

# Catalog queries, of the current database only (INFORMATION_SCHEMA is per database).
_COLUMNS = (
    "SELECT column_name, data_type, numeric_precision, numeric_scale "
    "FROM information_schema.columns WHERE table_schema = :schema AND table_name = :name "
    "AND table_catalog = CURRENT_DATABASE() ORDER BY ordinal_position"
)
_SCHEMA_COLUMNS = (
    "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale, "
    "ordinal_position FROM information_schema.columns WHERE table_schema = :schema "
    "AND LOWER(table_name) LIKE :pattern AND table_catalog = CURRENT_DATABASE()"
)
_TABLES = (
    "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = :schema AND table_catalog = CURRENT_DATABASE()"
)
_SCHEMA_TABLES = (
    "SELECT table_schema, table_name FROM information_schema.tables "
    "WHERE table_schema IN (:schema0, :schema1) AND table_catalog = CURRENT_DATABASE()"
)
_SCHEMAS = (
    "SELECT schema_name FROM information_schema.schemata WHERE catalog_name = CURRENT_DATABASE()"
)


class SnowflakeCatalog:
    """Schemas, tables, columns and views from the current database's INFORMATION_SCHEMA, and
    the columns a query returns from DESCRIBE (a part of ``SnowflakeDialect``)."""

    con: Any
    sqlglot_dialect: ClassVar[str]

    if TYPE_CHECKING:  # given by SnowflakeDialect (through Dialect)

        def fetchall(
            self, sql: str, params: dict[str, Any] | None = None
        ) -> list[tuple[Any, ...]]: ...

        def count_statement(self) -> None: ...

        def _tables_by_schema(self, sql: str, schemas: Sequence[str]) -> dict[str, list[str]]: ...

    def list_tables(self, schema: str) -> list[str]:
        return [str(row[0]) for row in self.fetchall(_TABLES, {"schema": schema})]

    def schema_tables(self, schemas: Sequence[str]) -> dict[str, list[str]]:
        return self._tables_by_schema(_SCHEMA_TABLES, schemas)

    def list_schemas(self) -> list[str]:
        return [str(row[0]) for row in self.fetchall(_SCHEMAS)]

    def table_columns(self, table: exp.Table) -> list[tuple[str, str]]:
        rows = self.fetchall(_COLUMNS, {"schema": table.db, "name": table.name})
        return [_column_type(*row) for row in rows]

    def schema_columns_query(self, schema: str, pattern: str) -> exp.Query | None:
        return with_values(_SCHEMA_COLUMNS, "snowflake", schema=schema, pattern=pattern)

    def catalog_column(self, name: Any, kind: Any, precision: Any, scale: Any) -> tuple[str, str]:
        return _column_type(name, kind, precision, scale)

    def view_definition(self, table: exp.Table) -> str | None:
        # INFORMATION_SCHEMA.VIEWS (per database) holds the view's text as it was created,
        # the whole CREATE VIEW statement (https://docs.snowflake.com/sql-reference/info-schema/views);
        # empty for a secure view the role does not own, which is then left to the role's
        # privileges. A name is looked up as Snowflake resolves it: unquoted, in upper case.
        def resolved(part: str) -> str | None:
            identifier = table.args.get(part)
            if not isinstance(identifier, exp.Identifier):
                return None
            return identifier.name if identifier.quoted else identifier.name.upper()

        views = exp.Table(
            this=exp.to_identifier("VIEWS"),
            db=exp.to_identifier("INFORMATION_SCHEMA"),
            catalog=exp.to_identifier(resolved("catalog"), quoted=True)
            if resolved("catalog")
            else None,
        ).sql(self.sqlglot_dialect)
        rows = self.fetchall(
            f"SELECT view_definition FROM {views} WHERE table_name = :name "
            "AND table_schema = COALESCE(:schema, CURRENT_SCHEMA()) "
            "AND table_catalog = COALESCE(:catalog, CURRENT_DATABASE())",
            {"name": resolved("this"), "schema": resolved("db"), "catalog": resolved("catalog")},
        )
        if not rows or not rows[0][0]:
            return None
        text = str(rows[0][0]).strip().rstrip(";")
        try:
            created = sqlglot.parse_one(text, read=self.sqlglot_dialect)
        except sqlglot.errors.ParseError:
            return text  # left to the caller, which leaves what it cannot parse to the warehouse
        query = created.expression if isinstance(created, exp.Create) else created
        return query.sql(self.sqlglot_dialect) if query is not None else None

    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        self.count_statement()
        # DESCRIBE compiles the query without running it, and reports its columns as the
        # query names them (duplicates included, which a wrapping SELECT * would rename).
        with self.con.cursor() as cursor:
            described = cursor.describe(sql)
        from snowflake.connector.constants import FIELD_ID_TO_NAME

        columns = []
        for column in described or []:
            kind = FIELD_ID_TO_NAME.get(column.type_code, str(column.type_code))
            if kind == "FIXED":
                kind = f"NUMBER({column.precision or 38},{column.scale or 0})"
            columns.append((column.name, kind))
        return columns


def _column_type(name: Any, kind: Any, size: Any, scale: Any) -> tuple[str, str]:
    """A column's (name, type) from information_schema, which names NUMBER without its
    scale: an integer is NUMBER(p,0)."""
    return str(name), f"NUMBER({size or 38},{scale or 0})" if kind == "NUMBER" else str(kind)
