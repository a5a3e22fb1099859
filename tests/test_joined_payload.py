"""The payload read out of the warehouse as its values joined (engine/joined_payload.py): the
object Python puts together is the values' JSON text untouched under the mapped names, and a
row whose values do not match the fields is refused, never sent.

The warehouse side (each dialect's ``json_text``) runs here on every warehouse over the values
most likely to break a split, and in whole runs in tests/test_payload_property.py (every type,
strings with control characters, U+001F included) and tests/test_spark_payload.py.
"""

from __future__ import annotations

import json

import orjson
import pytest
from sqlglot import exp

from engine.joined_payload import SEPARATOR, JoinedPayload, JoinedPayloadError, joined_values_sql
from tests.conftest import Workspace

HOSTILE_TEXTS = [
    "a\x1fb",
    "\x1f",
    '"',
    "\\",
    "\\u001f",
    "%s",
    "%%",
    "é🎉日本",
    "\u2028",
    "",
    "}{,:",
]


def test_values_are_kept_byte_for_byte_under_their_names() -> None:
    payload = JoinedPayload(["age", "na%me", 'q"uote', "é"])
    joined = SEPARATOR.join(["42", '"%s \\u001f"', "null", "1.50"])
    (built,) = payload.objects([joined])
    assert built == b'{"age":42,"na%me":"%s \\u001f","q\\"uote":null,"\xc3\xa9":1.50}'
    assert orjson.loads(built) == {"age": 42, "na%me": "%s \x1f", 'q"uote': None, "é": 1.5}


def test_no_fields_make_an_empty_object() -> None:
    assert JoinedPayload([]).objects(["", ""]) == [b"{}", b"{}"]


@pytest.mark.parametrize("joined", ["1", SEPARATOR.join(["1", "2", "3"])])
def test_a_row_of_another_number_of_values_is_refused(joined: str) -> None:
    with pytest.raises(JoinedPayloadError, match="2 fields .*U\\+001F"):
        JoinedPayload(["a", "b"]).objects([SEPARATOR.join(["1", "2"]), joined])


@pytest.mark.each_warehouse
def test_the_warehouse_escapes_every_value_it_joins(ws: Workspace) -> None:
    """Each dialect's ``json_text``, on the warehouse: texts holding the separator, quotes,
    backslashes, ``%`` and unicode, beside a NULL, a number and a boolean; one statement. Each
    text is compared with the same literal as the warehouse reads it (the BigQuery emulator
    reads the literal ``\\u001f`` as U+001F, real BigQuery as six characters)."""
    from engine.warehouse import connected, dialect_for

    ws.users([(1, "a@x", "A")])  # the source exists (BigQuery: its dataset)
    ws.simple_project()
    dialect = dialect_for(ws.project(), "wh")
    text_type = exp.DataType.build("text")
    columns: list[exp.Expr] = []
    for index, text in enumerate(HOSTILE_TEXTS):
        literal = exp.cast(exp.Literal.string(text), text_type)
        values = [literal, exp.cast(exp.Null(), text_type), exp.Literal.number(7), exp.true()]
        columns.append(exp.alias_(joined_values_sql(dialect, values), f"v{index}"))
        columns.append(exp.alias_(literal.copy(), f"t{index}"))
    with connected(dialect):
        (row,) = dialect.fetchall(exp.select(*columns).sql(dialect.sqlglot_dialect))
    joined, read = list(row[0::2]), list(row[1::2])
    built = JoinedPayload(["s", "n", "i", "b"]).objects(joined)
    for text, held, payload in zip(joined, read, built, strict=True):
        assert json.loads(payload) == {"s": held, "n": None, "i": 7, "b": True}, text
    if ws.kind != "bigquery":  # elsewhere the literal is read as written
        assert read == HOSTILE_TEXTS
