"""Only BigQuery's documented functions reach BigQuery.

The BigQuery emulator runs on DuckDB and accepts DuckDB-only functions (``hash()``,
``CONCAT_WS``, ...), and sqlglot keeps a function it does not know as an anonymous call, so
neither would notice one in the engine's SQL. Here every rendered BigQuery statement (each
template, the Python-built ones, the hash probe) is parsed and each function name checked
against an allow-list taken from BigQuery's function reference
(https://cloud.google.com/bigquery/docs/reference/standard-sql/functions-all). A name
outside it fails the test: add it only after finding it in that reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sqlglot
from sqlglot import exp

from dialects import make_dialect
from dialects.bigquery import BigQueryDialect
from tests.function_allow_list import unknown_functions as unknown_in
from tests.test_golden_sql import _render_all

# From https://cloud.google.com/bigquery/docs/reference/standard-sql/functions-all (the
# functions the engine uses, and a few near them); CAST is a conversion "function" there too.
BIGQUERY_FUNCTIONS = frozenset(
    {
        # aggregate (aggregate_functions)
        "ANY_VALUE",
        "ARRAY_AGG",
        "AVG",
        "COUNT",
        "COUNTIF",
        "LOGICAL_AND",
        "LOGICAL_OR",
        "MAX",
        "MIN",
        "STRING_AGG",
        "SUM",
        # conditional expressions (conditional_expressions)
        "COALESCE",
        "IF",
        "IFNULL",
        "NULLIF",
        # conversion (conversion_functions)
        "CAST",
        "SAFE_CAST",
        # string (string_functions)
        "CONCAT",
        "LENGTH",
        "LOWER",
        "REPLACE",
        "STARTS_WITH",
        "SUBSTR",
        "TRIM",
        "UPPER",
        "FORMAT",
        "REGEXP_CONTAINS",
        "TO_HEX",
        # hash (hash_functions)
        "FARM_FINGERPRINT",
        "MD5",
        "SHA256",
        # JSON (json_functions)
        "JSON_OBJECT",
        "TO_JSON",
        "TO_JSON_STRING",
        "PARSE_JSON",
        "JSON_VALUE",
        "JSON_QUERY",
        "JSON_QUERY_ARRAY",
        "JSON_TYPE",
        # numbering (numbering_functions) and navigation (navigation_functions)
        "ROW_NUMBER",
        "RANK",
        "DENSE_RANK",
        "FIRST_VALUE",
        "LAST_VALUE",
        "LAG",
        "LEAD",
        # date and time (timestamp_functions, datetime_functions)
        "CURRENT_TIMESTAMP",
        "CURRENT_DATETIME",
        "CURRENT_DATE",
        "DATETIME",
        "TIMESTAMP",
        "FORMAT_DATETIME",
        "FORMAT_TIMESTAMP",
        "UNIX_MICROS",
        "EXTRACT",
        # mathematical (mathematical_functions)
        "ABS",
        "GREATEST",
        "LEAST",
        "MOD",
        "IS_NAN",
        "IS_INF",
        # array (array_functions); STRUCT is a constructor (data-types#constructing_a_struct)
        "ARRAY_LENGTH",
        "GENERATE_ARRAY",
        "STRUCT",
        # the UNNEST operator (query-syntax#unnest_operator): array_expansion
        "UNNEST",
    }
)


def unknown_functions(statements: Iterable[str]) -> dict[str, str]:
    """Function name -> the first statement calling it, for names outside the allow-list."""
    return unknown_in(statements, BigQueryDialect.sqlglot_dialect, BIGQUERY_FUNCTIONS)


def _python_built(tmp_path: Path) -> list[str]:
    """Statements the engine builds in Python rather than from a template."""
    dialect = make_dialect("bigquery", {"project": "p", "location": "US"}, tmp_path)
    return [dialect.hash_probe]


def test_the_check_finds_a_duckdb_only_function() -> None:
    assert unknown_functions(["SELECT hash(a, b) FROM t"]) == {"HASH": "SELECT hash(a, b) FROM t"}
    assert unknown_functions(["SELECT CONCAT_WS(',', a) FROM t"]).keys() == {"CONCAT_WS"}
    assert unknown_functions(["SELECT FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(a)))"]) == {}


def test_every_rendered_statement_calls_only_bigquery_functions(tmp_path: Path) -> None:
    rendered = _render_all("bigquery", tmp_path)
    statements = [sql for text in rendered.values() for sql in text.split(";\n\n")]
    statements += _python_built(tmp_path)
    unknown = unknown_functions(statements)
    assert not unknown, "functions BigQuery does not document: " + "; ".join(
        f"{name} in {sql[:300]!r}" for name, sql in unknown.items()
    )


def test_engine_timestamps_are_datetime_in_columns_and_parameters(tmp_path: Path) -> None:
    """sqlglot writes DuckDB's TIMESTAMP as DATETIME but ``current_timestamp`` as a TIMESTAMP:
    the engine's time columns are DATETIME and are only ever given naive DATETIME
    parameters, never a TIMESTAMP value."""
    import datetime as dt

    from dialects.bigquery_sql import bigquery_type

    rendered = _render_all("bigquery", tmp_path)
    types = set()
    for text in rendered.values():
        for tree in sqlglot.parse(text, read=BigQueryDialect.sqlglot_dialect):
            for node in tree.find_all(exp.DataType) if tree is not None else ():
                types.add(node.sql(dialect=BigQueryDialect.sqlglot_dialect))
            for _node in tree.find_all(exp.CurrentTimestamp) if tree is not None else ():
                types.add("CURRENT_TIMESTAMP")
    assert "DATETIME" in types
    assert not {"TIMESTAMP", "CURRENT_TIMESTAMP"} & types, types
    assert bigquery_type(dt.datetime(2024, 1, 2, 3, 4, 5)) == "DATETIME"
    assert bigquery_type(dt.datetime(2024, 1, 2, tzinfo=dt.UTC)) == "TIMESTAMP"
