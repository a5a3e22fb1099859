"""The fakesnow Snowflake emulator's server, made to answer as Snowflake where the tests
need it (each change below; nothing else is changed).

Run with the Python of fakesnow's own virtualenv (it pins its own sqlglot and duckdb):
``python tests/fakes/fakesnow_server.py -s -p PORT --host 127.0.0.1``; the arguments are
fakesnow's own.

fakesnow hands Snowflake's ``HASH(...)`` to DuckDB's ``hash``, an unsigned 64-bit value; one
above 2^63 cannot be serialized back to the client (HTTP 500, then the connector retries).
Here it is shifted right by one bit (63 bits, always a valid signed BIGINT): still a hash of
the same values, so plans and diffs behave as on Snowflake.

A constraint a write breaks is answered as Snowflake answers it (an error for the statement,
code 100072), where fakesnow would answer HTTP 500 and the connector would retry.

``ARRAY_CONSTRUCT(...) AS name`` is an ARRAY (JSON underneath), as it already is without the
alias; fakesnow left it a DuckDB list, whose type it cannot describe (HTTP 500).

A column declared ``NUMBER(38,0)`` holds 38 digits, as on Snowflake (a DuckDB DECIMAL(38,0));
fakesnow made it a BIGINT, which refuses integers beyond 64 bits. ``INT``, ``BIGINT`` and a
bare ``NUMBER`` stay BIGINT as fakesnow has them.

A NUMBER column whose values fit 64 bits is sent as Snowflake sends it: the unscaled
integers (``1250`` for ``12.50``) with the scale in the column's metadata, where fakesnow sent
DuckDB's 128-bit decimals (Snowflake's Arrow results carry a NUMBER as the narrowest integer
type that holds a chunk's values, which the connector's Arrow reader converts to doubles
unless told to read decimals).
"""

from __future__ import annotations

import sys
from typing import Any

import duckdb
import fakesnow.arrow
import fakesnow.transforms
import pyarrow as pa
import snowflake.connector
from fakesnow import cli
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import exp

_transform = FakeSnowflakeCursor._transform
_DONE = "lightning_signed_hash"


def _signed_hash(self: Any, expression: exp.Expr, params: Any) -> exp.Expr:
    for node in list(expression.find_all(exp.Anonymous)):
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

_array_construct = fakesnow.transforms.array_construct_etc


def _aliased_array_construct(expression: exp.Expr) -> exp.Expr:
    parent = expression.parent
    if (
        isinstance(expression, exp.Array)
        and isinstance(parent, exp.Alias)
        and isinstance(parent.parent, exp.Select)
    ):
        return exp.Anonymous(this="json_array", expressions=expression.expressions)
    return _array_construct(expression)


fakesnow.transforms.array_construct_etc = _aliased_array_construct

_integer_precision = fakesnow.transforms.integer_precision


def _number_38_kept(expression: exp.Expr) -> exp.Expr:
    if (
        isinstance(expression, exp.DataType)
        and expression.this == exp.DataType.Type.DECIMAL
        and [p.name for p in expression.expressions] == ["38", "0"]
    ):
        return expression
    return _integer_precision(expression)


fakesnow.transforms.integer_precision = _number_38_kept

_to_sf = fakesnow.arrow.to_sf
_INT64 = range(-(2**63), 2**63)


def _narrow_numbers(table: pa.Table, rowtype: Any) -> pa.Table:
    table = _to_sf(table, rowtype)
    for index, field in enumerate(table.schema):
        if not pa.types.is_decimal(field.type):
            continue
        unscaled = [
            None if v is None else int(v.scaleb(field.type.scale))
            for v in table.column(index).to_pylist()
        ]
        if all(v is None or v in _INT64 for v in unscaled):
            narrowed = field.with_type(pa.int64())  # keeps the scale in its metadata
            table = table.set_column(index, narrowed, pa.array(unscaled, pa.int64()))
    return table


# Before fakesnow.server is imported (by the CLI), which takes to_sf from fakesnow.arrow.
fakesnow.arrow.to_sf = _narrow_numbers

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
