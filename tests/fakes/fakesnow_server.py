"""The fakesnow Snowflake emulator's server, with its HASH fetchable.

Run with the Python of fakesnow's own virtualenv (it pins its own sqlglot and duckdb):
``python tests/fakes/fakesnow_server.py -s -p PORT --host 127.0.0.1``; the arguments are
fakesnow's own.

fakesnow hands Snowflake's ``HASH(...)`` to DuckDB's ``hash``, an unsigned 64-bit value; one
above 2^63 cannot be serialized back to the client (HTTP 500, then the connector retries).
Here it is shifted right by one bit (63 bits, always a valid signed BIGINT): still a hash of
the same values, so plans and diffs behave as on Snowflake.

A constraint a write breaks is answered as Snowflake answers it (an error for the statement,
code 100072), where fakesnow would answer HTTP 500 and the connector would retry.

Two catalog answers are made Snowflake's: ``INFORMATION_SCHEMA.VIEWS.VIEW_DEFINITION`` holds a
view's text as it was written (fakesnow keeps DuckDB's rewrite of it, where ``seq.NEXTVAL``
has become ``nextval('SEQ')``), and ``SHOW SEQUENCES`` answers the sequence's next value
(fakesnow answers its start value, whatever was drawn since). And Snowflake's system control
functions the tests put in views (``SYSTEM$CANCEL_ALL_QUERIES``, ``SYSTEM$WAIT``), which
DuckDB has not, become a NULL for DuckDB, so such a view can be created as on Snowflake (the
engine must refuse it before it runs). Nothing else is changed.
"""

from __future__ import annotations

import sys
from string import Template
from typing import Any

import duckdb
import snowflake.connector
import sqlglot
from fakesnow import cli, info_schema
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.transforms import show
from sqlglot import exp

_transform = FakeSnowflakeCursor._transform
_DONE = "lightning_signed_hash"


_NO_DUCKDB_FUNCTION = {"SYSTEM$CANCEL_ALL_QUERIES", "SYSTEM$WAIT"}


def _signed_hash(self: Any, expression: exp.Expr, params: Any) -> exp.Expr:
    for node in list(expression.find_all(exp.Anonymous)):
        if node.name.upper() in _NO_DUCKDB_FUNCTION:
            node.replace(exp.Null())
            continue
        if node.name.upper() == "HASH" and not node.meta.get(_DONE):
            inner = node.copy()
            inner.meta[_DONE] = True
            shifted = exp.BitwiseRightShift(this=inner, expression=exp.Literal.number(1))
            node.replace(exp.paren(shifted))
    return _transform(self, expression, params)


FakeSnowflakeCursor._transform = _signed_hash  # type: ignore[method-assign]

_execute = FakeSnowflakeCursor._execute


def _constraint_as_error(self: Any, transformed: exp.Expr, params: Any = None) -> None:
    try:
        _execute(self, transformed, params)
    except duckdb.ConstraintException as error:
        message = str(error.args[0]).split("\n")[0]
        raise snowflake.connector.errors.ProgrammingError(
            msg=message, errno=100072, sqlstate="22000"
        ) from error


FakeSnowflakeCursor._execute = _constraint_as_error  # type: ignore[method-assign]

_VIEW_TEXT = "_fs_global._fs_information_schema.lightning_view_text"
_global_sql = info_schema.fs_global_creation_sql
info_schema.fs_global_creation_sql = lambda: (  # type: ignore[assignment]
    f"{_global_sql()}; CREATE TABLE IF NOT EXISTS {_VIEW_TEXT} (catalog VARCHAR, "
    "schema VARCHAR, name VARCHAR, text VARCHAR, PRIMARY KEY (catalog, schema, name))"
)
info_schema.SQL_CREATE_INFORMATION_SCHEMA_VIEWS_VIEW = Template(
    info_schema.SQL_CREATE_INFORMATION_SCHEMA_VIEWS_VIEW.template.replace(
        "sql as VIEW_DEFINITION",
        f"coalesce((select t.text from {_VIEW_TEXT} as t where t.catalog = database_name "
        "and t.schema = schema_name and t.name = view_name), sql) as VIEW_DEFINITION",
    )
)
show.SQL_CREATE_VIEW_SHOW_SEQUENCES = show.SQL_CREATE_VIEW_SHOW_SEQUENCES.replace(
    "start_value as next_value", "coalesce(last_value + increment_by, start_value) as next_value"
)


def _name(identifier: Any, default: str | None) -> str | None:
    if not isinstance(identifier, exp.Identifier):
        return default
    return identifier.name if identifier.quoted else identifier.name.upper()


_execute_command = FakeSnowflakeCursor.execute


def _keep_view_text(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
    result = _execute_command(self, command, *args, **kwargs)
    try:
        created = sqlglot.parse_one(command, read="snowflake")
    except sqlglot.errors.ParseError:
        return result
    if isinstance(created, exp.Create) and str(created.args.get("kind")).upper() == "VIEW":
        table = created.this.this if isinstance(created.this, exp.Schema) else created.this
        where = [
            _name(table.args.get("catalog"), self._conn.database),
            _name(table.args.get("db"), self._conn.schema),
            _name(table.this, None),
        ]
        self._duck_conn.execute(
            f"INSERT OR REPLACE INTO {_VIEW_TEXT} VALUES (?, ?, ?, ?)", [*where, command]
        )
    return result


FakeSnowflakeCursor.execute = _keep_view_text  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
