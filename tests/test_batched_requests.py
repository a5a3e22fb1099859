"""Where the driver takes several statements in one request (PostgreSQL, DuckDB:
dialects/batched.py), a block's statements go together: those of a ``batch()`` in one
request, a transaction's writes with its BEGIN and COMMIT in one, a read with what came
before it. Their parameters are written in as literals, so the values must come back exactly
(quotes, ``%``, ``$``, timestamps, NULL); a failure inside the request leaves nothing of the
transaction and the connection usable; a block that raises sends nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlglot import exp

from dialects.base import Dialect
from engine.warehouse import dialect_for
from tests.conftest import Workspace

pytestmark = pytest.mark.each_warehouse
EACH_WAREHOUSE = ["duckdb", "postgres"]

VALUES = [
    (1, "it's 100% $x -- not a comment", dt.datetime(2026, 1, 2, 3, 4, 5, 123456)),
    (2, None, None),
    (3, 'quote " and \\ backslash; semicolon', dt.datetime(1999, 12, 31, 23, 59, 59)),
]


@pytest.fixture
def dialect(ws: Workspace) -> Iterator[Dialect]:
    ws.simple_project()
    connected = dialect_for(ws.project(), "wh")
    connected.connect()
    try:
        connected.execute("CREATE TABLE batched (n INT, label VARCHAR, sent_at TIMESTAMP)")
        yield connected
    finally:
        connected.close()


def _insert(dialect: Dialect, row: tuple[Any, ...]) -> None:
    places = [exp.Placeholder(this=name).sql(dialect.sqlglot_dialect) for name in "nla"]
    dialect.execute(
        f"INSERT INTO batched VALUES ({', '.join(places)})",
        dict(zip("nla", row, strict=True)),
    )


def _rows(dialect: Dialect) -> list[tuple[Any, ...]]:
    return dialect.fetchall("SELECT n, label, sent_at FROM batched ORDER BY n")


def test_a_batch_with_parameters_is_one_request_and_keeps_every_value(dialect: Dialect) -> None:
    before = dialect.statements_issued or 0
    with dialect.batch():
        for row in VALUES:
            _insert(dialect, row)
    assert dialect.statements_issued == before + 1
    assert _rows(dialect) == VALUES


def test_a_transaction_sends_its_writes_with_its_reads(dialect: Dialect) -> None:
    before = dialect.statements_issued or 0
    with dialect.transaction():
        _insert(dialect, VALUES[0])
        assert _rows(dialect) == VALUES[:1]  # BEGIN, the insert and this read: one request
        _insert(dialect, VALUES[1])
        _insert(dialect, VALUES[2])
    assert dialect.statements_issued == before + 2  # the two inserts and COMMIT: one more
    assert _rows(dialect) == VALUES


def test_a_failure_inside_the_request_leaves_nothing_of_the_transaction(
    dialect: Dialect,
) -> None:
    with pytest.raises(Exception, match="(?i)no_such_table|does not exist"), dialect.transaction():
        _insert(dialect, VALUES[0])
        dialect.execute("INSERT INTO no_such_table VALUES (1)")
        _insert(dialect, VALUES[1])
    assert _rows(dialect) == []  # rolled back, and the connection still answers
    with dialect.transaction():
        _insert(dialect, VALUES[2])
    assert _rows(dialect) == VALUES[2:]


def test_a_block_that_raises_sends_nothing(dialect: Dialect) -> None:
    before = dialect.statements_issued or 0
    with pytest.raises(KeyboardInterrupt), dialect.transaction():
        _insert(dialect, VALUES[0])
        raise KeyboardInterrupt
    with pytest.raises(RuntimeError), dialect.batch():
        _insert(dialect, VALUES[1])
        raise RuntimeError("stopped")
    assert _rows(dialect) == []
    # Nothing was sent for either block; the DuckDB ROLLBACK of no transaction is counted.
    assert (dialect.statements_issued or 0) - before <= 2
