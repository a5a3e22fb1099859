"""The columns of a sync's run tables in one catalog query (``Dialect.schema_columns_query``),
read alone (``Dialect.schema_columns``) or folded into the lock read (lock_state.sql)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

# A query of the run tables' columns yields rows of these, in this order.
CATALOG_COLUMNS = (
    "table_name",
    "column_name",
    "data_type",
    "numeric_precision",
    "numeric_scale",
    "ordinal_position",
)

ColumnType = Callable[[Any, Any, Any, Any], tuple[str, str]]


def with_values(sql: str, read: str, **values: str) -> exp.Query:
    """``sql`` (in ``read``'s SQL) with each ``:name`` placeholder replaced by ``values[name]``
    as a string literal (sqlglot writes it escaped), so the query can be part of another."""

    def literal(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder) and node.name in values:
            return exp.Literal.string(values[node.name])
        return node

    query = sqlglot.parse_one(sql, read=read).transform(literal)
    assert isinstance(query, exp.Query)
    return query


def columns_by_table(
    rows: Iterable[Sequence[Any]], column_type: ColumnType
) -> dict[str, list[tuple[str, str]]]:
    """Rows of :data:`CATALOG_COLUMNS` as (name, type) of each table's columns, in order."""
    found: dict[str, list[tuple[str, str]]] = {}
    for table_name, name, kind, precision, scale, _ in sorted(
        rows, key=lambda row: (str(row[0]), int(row[5]))
    ):
        found.setdefault(str(table_name), []).append(column_type(name, kind, precision, scale))
    return found
