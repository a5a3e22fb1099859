"""PostgreSQL statements in psycopg's form, and several statements in one request.

The simple query protocol takes a string of statements separated by semicolons and runs them
in order, stopping at the first that fails, so the statements of a transaction whose results
nothing reads (and one read at the end) reach the server in one round trip. Such a string
cannot carry parameters, so theirs are bound on the client (psycopg's ``ClientCursor``
quotes each value as the literal of its type).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_PLACEHOLDER = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s")


def with_params(sql: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """The statement and the parameters it uses, in psycopg's form.

    With parameters, psycopg reads every ``%`` as the start of a placeholder, so a ``%`` of
    the SQL itself (``LIKE '%@x'`` in a model) is doubled; only ``%(name)s`` stays one.
    """
    if not params:
        return sql, None
    parts = _PLACEHOLDER.split(sql)  # text, name, text, name, ..., text
    used = set(parts[1::2])
    if not used:  # without parameters psycopg leaves every % as it is
        return sql, None
    escaped = [
        part.replace("%", "%%") if index % 2 == 0 else f"%({part})s"
        for index, part in enumerate(parts)
    ]
    return "".join(escaped), {k: v for k, v in params.items() if k in used}


def bound(con: Any, sql: str, params: dict[str, Any] | None) -> str:
    """The statement with its parameters written in as literals (to go with others in one
    request)."""
    query, values = with_params(sql, params)
    if values is None:
        return sql
    from psycopg import ClientCursor

    with ClientCursor(con) as cursor:
        return cursor.mogrify(query, values)


def send(con: Any, statements: Sequence[str]) -> Any:
    """Run the statements in one request; the cursor holds the last one's result."""
    cursor = con.execute(";\n".join(statements))
    while cursor.nextset():
        pass
    return cursor
