"""The check shared by the function allow-list tests: which functions a statement calls.

sqlglot keeps a function it does not know as an anonymous call, so every name a statement
calls can be listed, as the warehouse would read it, and held against the functions its
reference documents (tests/test_bigquery_functions.py, tests/test_databricks_functions.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlglot
from sqlglot import exp

_NAME = re.compile(r"^[A-Z_][A-Z0-9_.]*$")


def function_names(statement: str, read: str | type[sqlglot.Dialect]) -> set[str]:
    """The function names ``statement`` calls, as the ``read`` dialect reads them."""
    names = set()
    for tree in sqlglot.parse(statement, read=read):
        for node in tree.find_all(exp.Func) if tree is not None else ():
            if isinstance(node, exp.Exists) and isinstance(node.this, exp.Query):
                continue  # EXISTS (subquery): a predicate of the grammar, not a function
            if isinstance(node, exp.Anonymous):
                names.add(str(node.name).upper())
                continue
            head = node.sql(dialect=read).split("(", 1)[0].strip()
            if _NAME.match(head.upper()):
                names.add(head.upper())
    return names


def unknown_functions(
    statements: Iterable[str], read: str | type[sqlglot.Dialect], allowed: frozenset[str]
) -> dict[str, str]:
    """Function name -> the first statement calling it, for names outside ``allowed``."""
    found: dict[str, str] = {}
    for statement in statements:
        for name in function_names(statement, read) - allowed:
            found.setdefault(name, statement)
    return found
