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

``ARRAY_CONSTRUCT(...) AS name`` is an ARRAY (JSON underneath), as it already is without the
alias; fakesnow left it a DuckDB list, whose type it cannot describe (HTTP 500). Nothing else
is changed.
"""

from __future__ import annotations

import sys
from typing import Any

import duckdb
import snowflake.connector
import fakesnow.transforms
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

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
