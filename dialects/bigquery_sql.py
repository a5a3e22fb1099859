"""BigQuery SQL as the engine writes it: sqlglot's BigQuery dialect with two tweaks, and the
typed query parameters of a statement (see :mod:`dialects.bigquery`)."""

from __future__ import annotations

import datetime as dt
import decimal
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery


class LightningBigQuery(BigQuery):
    """sqlglot's BigQuery, writing

    - a JSON object cast to text as ``TO_JSON_STRING(...)`` (BigQuery casts no JSON to STRING:
      https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#to_json_string);
    - a ``CREATE TEMPORARY TABLE`` as ``CREATE TEMP TABLE`` (the spelling BigQuery documents for
      a session's temporary tables).
    """

    class Generator(BigQuery.Generator):  # type: ignore[name-defined,misc,valid-type]
        def cast_sql(self, expression: exp.Cast, safe_prefix: str | None = None) -> str:
            if isinstance(expression.this, exp.JSONObject) and expression.to.is_type("text"):
                return self.func("TO_JSON_STRING", expression.this)
            return str(super().cast_sql(expression, safe_prefix))

        def create_sql(self, expression: exp.Create) -> str:
            text = str(super().create_sql(expression))
            if text.startswith("CREATE TEMPORARY TABLE "):
                return "CREATE TEMP TABLE " + text[len("CREATE TEMPORARY TABLE ") :]
            return text


@lru_cache(maxsize=512)
def parameter_names(sql: str) -> tuple[str, ...]:
    """The ``@name`` parameters a statement uses, found by parsing (an ``@`` in a string or a
    comment is not one)."""
    tree = sqlglot.parse_one(sql, read=LightningBigQuery)
    names = [node.name for node in tree.find_all(exp.Parameter, exp.Placeholder) if node.name]
    return tuple(dict.fromkeys(names))


@lru_cache(maxsize=512)
def qualified_tables(sql: str, project: str) -> str:
    """The statement with every ``dataset.table`` named ``project.dataset.table``: a job run in
    a billing project reads an unqualified dataset in that project, not in the data project.
    A session's temporary tables and a query's own CTEs have no dataset and are left alone."""
    if sql.lstrip().upper().startswith("CALL "):  # a system procedure, not a table
        return sql
    tree = sqlglot.parse_one(sql, read=LightningBigQuery)
    for table in tree.find_all(exp.Table):
        if table.args.get("db") and not table.args.get("catalog"):
            table.set("catalog", exp.to_identifier(project))
    return tree.sql(LightningBigQuery)


def script_of(
    statements: list[tuple[str, dict[str, Any] | None]], atomic: bool = True
) -> tuple[str, dict[str, Any]]:
    """Statements as one multi-statement script (one job), each statement's parameters
    renamed ``@s<i>_<name>`` so that two statements may bind one name to different values;
    ``atomic``: inside one transaction (BigQuery runs it whole or rolls it back)."""
    parts: list[str] = []
    merged: dict[str, Any] = {}
    for i, (sql, params) in enumerate(statements):
        tree = sqlglot.parse_one(sql, read=LightningBigQuery)
        for node in tree.find_all(exp.Parameter, exp.Placeholder):
            if node.name and params is not None and node.name in params:
                renamed = f"s{i}_{node.name}"
                merged[renamed] = params[node.name]
                node.set("this", exp.var(renamed) if isinstance(node, exp.Parameter) else renamed)
        parts.append(tree.sql(dialect=LightningBigQuery))
    body = ";\n".join(["BEGIN TRANSACTION", *parts, "COMMIT TRANSACTION"] if atomic else parts)
    return body + ";", merged


def bigquery_type(value: Any) -> str:
    """The BigQuery type a Python value is bound as (a naive datetime is a DATETIME, an aware
    one a TIMESTAMP; NULL is bound as a STRING)."""
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "BIGNUMERIC"
    if isinstance(value, dt.datetime):
        return "DATETIME" if value.tzinfo is None else "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, bytes):
        return "BYTES"
    return "STRING"


def query_parameters(sql: str, params: dict[str, Any] | None) -> list[Any]:
    """Typed ``ScalarQueryParameter`` (or array) values for the parameters ``sql`` uses."""
    if not params or "@" not in sql:
        return []
    return [_parameter(name, params[name]) for name in parameter_names(sql)]


def positional_parameters(values: list[Any]) -> list[Any]:
    """Typed positional (``?``) parameters."""
    return [_parameter(None, value) for value in values]


def _parameter(name: str | None, value: Any) -> Any:
    from google.cloud import bigquery

    if isinstance(value, list | tuple):
        kinds = {bigquery_type(v) for v in value if v is not None} or {"STRING"}
        return bigquery.ArrayQueryParameter(name, kinds.pop(), list(value))
    return bigquery.ScalarQueryParameter(name, bigquery_type(value), value)


def column_type(field: Any) -> tuple[str, str]:
    """A table field's name and its type as the engine names types (``ARRAY<T>`` for a
    repeated field)."""
    kind = str(field.field_type).upper()
    kind = {"RECORD": "STRUCT", "FLOAT": "FLOAT64", "INTEGER": "INT64", "BOOLEAN": "BOOL"}.get(
        kind, kind
    )
    if field.mode == "REPEATED":
        kind = f"ARRAY<{kind}>"
    return str(field.name), kind


def label_value(text: str) -> str:
    """A label key or value as BigQuery allows it (lower case, digits, ``_`` and ``-``, at most
    63 characters)."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in text.lower())
    return cleaned[:63]
