"""Only Databricks' documented functions reach Databricks.

sqlglot keeps a function it does not know as an anonymous call, and Spark (where the SQL is
run locally) has functions Databricks SQL may not, so neither would notice a stray one. Here
every rendered Databricks statement (each template, the Python-built ones, the hash probe) is
parsed with sqlglot's Databricks dialect and each function name checked against an allow-list
taken from Databricks' alphabetical list of built-in functions
(https://docs.databricks.com/aws/en/sql/language-manual/sql-ref-functions-builtin-alpha).
A name outside it fails the test: add it only after finding it in that reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sqlglot
from sqlglot import exp

from dialects import make_dialect
from dialects.databricks_sql import update_as_merge
from tests.function_allow_list import unknown_functions as unknown_in
from tests.test_golden_sql import _render_all

# From the alphabetical list (the functions the engine uses, and a few near them).
DATABRICKS_FUNCTIONS = frozenset(
    {
        # aggregate
        "ANY_VALUE",
        "AVG",
        "COUNT",
        "COUNT_IF",
        "MAX",
        "MIN",
        "SUM",
        # conditional
        "COALESCE",
        "IF",
        "IFF",
        "IFNULL",
        "NULLIF",
        "NVL",
        # conversion (cast is a function in the list)
        "CAST",
        "TRY_CAST",
        # string
        "CONCAT",
        "CONCAT_WS",
        "LENGTH",
        "LOWER",
        "REPLACE",
        "SUBSTRING",
        "TRIM",
        "UPPER",
        # hash
        "XXHASH64",
        "MD5",
        "SHA2",
        # JSON, struct, map, array
        "TO_JSON",
        "FROM_JSON",
        "NAMED_STRUCT",
        "STRUCT",
        "MAP",
        "ARRAY",
        "EXPLODE",  # a table-valued generator function (array_expansion)
        # window
        "ROW_NUMBER",
        "RANK",
        "DENSE_RANK",
        # date and time, session
        "CURRENT_TIMESTAMP",
        "CURRENT_DATE",
        "CURRENT_USER",
        "DATE_FORMAT",
        # numeric
        "ABS",
        "ISNAN",
        "GREATEST",
        "LEAST",
    }
)
_READ = "databricks"  # sqlglot's own Databricks dialect, not the engine's


def unknown_functions(statements: Iterable[str]) -> dict[str, str]:
    """Function name -> the first statement calling it, for names outside the allow-list."""
    return unknown_in(statements, _READ, DATABRICKS_FUNCTIONS)


def _python_built(tmp_path: Path) -> list[str]:
    """Statements the engine builds in Python rather than from a template."""
    dialect = make_dialect("databricks", {}, tmp_path)
    value = exp.column("v", quoted=True)
    as_sql = dialect.sqlglot_dialect
    update = sqlglot.parse_one(
        "UPDATE t AS d SET a = f.a FROM (SELECT 1 AS k, 2 AS a) AS f WHERE d.k = f.k"
    )
    return [
        dialect.hash_probe,
        "SELECT current_user()",
        exp.select(dialect.log_json_value(value, "DOUBLE")).sql(as_sql),
        exp.select(dialect.row_hash([value, value], ["MAP<STRING,INT>", "BIGINT"])).sql(as_sql),
        exp.select(dialect.key_text(value)).sql(as_sql),
        update.sql(as_sql),
        update_as_merge(update).sql(as_sql),
    ]


def test_the_check_finds_a_function_databricks_does_not_document() -> None:
    assert unknown_functions(["SELECT hash_record_extended(a, 0) FROM t"]).keys() == {
        "HASH_RECORD_EXTENDED"
    }
    assert unknown_functions(["SELECT OBJECT_CONSTRUCT_KEEP_NULL('a', a)"]).keys() == {
        "OBJECT_CONSTRUCT_KEEP_NULL"
    }
    assert unknown_functions(["SELECT JSON_OBJECT('a', a) FROM t"]).keys() == {"JSON_OBJECT"}
    assert unknown_functions(["SELECT xxhash64(a, a IS NULL) FROM t"]) == {}


def test_every_rendered_statement_calls_only_databricks_functions(tmp_path: Path) -> None:
    rendered = _render_all("databricks", tmp_path)
    statements = [sql for text in rendered.values() for sql in text.split(";\n\n")]
    statements += _python_built(tmp_path)
    unknown = unknown_functions(statements)
    assert not unknown, "functions Databricks does not document: " + "; ".join(
        f"{name} in {sql[:300]!r}" for name, sql in unknown.items()
    )


def test_update_from_is_a_merge_and_json_keeps_null_keys(tmp_path: Path) -> None:
    statements = _python_built(tmp_path)
    assert statements[5].startswith("MERGE INTO t AS d USING (SELECT 1 AS k, 2 AS a) AS f")
    assert "WHEN MATCHED THEN UPDATE SET `d`.`a` = f.a" in statements[5]
    rendered = _render_all("databricks", tmp_path)
    assert "MAP('ignoreNullFields', 'false')" in rendered["changelog_insert"]
    assert " JSON" not in rendered["audit_tables"] and "`fields` STRING" in rendered["audit_tables"]
