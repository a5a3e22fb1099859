"""The delivery payload built by the warehouse is the one Python would have built.

For every type the DuckDB dialect turns into JSON itself (``Dialect.json_value``), a value
fetched into Python and encoded by the engine's encoder must give the same JSON: same
strings (timestamps in ISO 8601, byte for byte), same numbers, NaN and infinities as null.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from dialects.duckdb import DuckDBDialect
from engine.destinations.json_encoding import dumps
from tests.conftest import Workspace


@pytest.fixture(scope="module")
def dialect(tmp_path_factory: pytest.TempPathFactory) -> DuckDBDialect:
    folder: Path = tmp_path_factory.mktemp("payload")
    wh = DuckDBDialect({"path": str(folder / "wh.duckdb")}, folder)
    wh.connect()
    return wh


def _both(dialect: DuckDBDialect, type_name: str, values: list[Any]) -> list[tuple[str, bytes]]:
    """(SQL-built JSON, Python-built JSON) of ``{"v": value}`` for each value."""
    column = exp.column("v", quoted=True)
    value = dialect.json_value(column, type_name)
    assert value is not None, f"{type_name} is expected to be built in SQL"
    payload = exp.cast(
        exp.JSONObject(
            expressions=[exp.JSONKeyValue(this=exp.Literal.string("v"), expression=value)]
        ),
        exp.DataType.build("text"),
    ).sql("duckdb")
    con = dialect.con
    con.execute(f'CREATE OR REPLACE TEMP TABLE t ("i" INTEGER, "v" {type_name})')
    if values:  # (executemany refuses an empty list)
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    rows = con.execute(f'SELECT {payload}, "v" FROM t ORDER BY "i"').fetchall()
    return [(built, dumps({"v": fetched})) for built, fetched in rows]


def _assert_same(pairs: list[tuple[str, bytes]]) -> None:
    for built, python in pairs:
        assert orjson.loads(built) == orjson.loads(python), (built, python)


def test_strings_decode_to_the_same_text(dialect: DuckDBDialect) -> None:
    # Escapes may differ in spelling (\\u000B against \\u000b), never in meaning.
    values = [
        "",
        "plain",
        'quote " and \\ backslash',
        "tab\tnew\nline\x01\x1f",
        "é ü 日本 🎉",
        None,
    ]
    _assert_same(_both(dialect, "VARCHAR", values))


def test_timestamps_are_iso_8601_as_python_writes_them(dialect: DuckDBDialect) -> None:
    values = [
        dt.datetime(2024, 1, 2, 3, 4, 5),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        dt.datetime(2024, 1, 2, 3, 4, 5, 1),
        dt.datetime(1970, 1, 1),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
        dt.datetime(99, 1, 1, 0, 0, 7),
        None,
    ]
    for built, python in _both(dialect, "TIMESTAMP", values):
        assert built.encode() == python


def test_numbers_booleans_and_dates(dialect: DuckDBDialect) -> None:
    _assert_same(_both(dialect, "BIGINT", [0, -1, 2**63 - 1, -(2**63), None]))
    _assert_same(_both(dialect, "UBIGINT", [0, 2**64 - 1]))
    _assert_same(_both(dialect, "HUGEINT", [2**100, -(2**100)]))
    _assert_same(_both(dialect, "BOOLEAN", [True, False, None]))
    _assert_same(_both(dialect, "DATE", [dt.date(2024, 2, 29), dt.date(1, 1, 1), None]))
    _assert_same(
        _both(dialect, "DECIMAL(12,2)", [decimal.Decimal("12.50"), decimal.Decimal("-0.01"), None])
    )


def test_non_finite_floats_are_null(dialect: DuckDBDialect) -> None:
    values = [math.nan, math.inf, -math.inf, 0.1, -0.0, 1e16, 5e-324, None]
    for type_name in ("DOUBLE", "FLOAT"):
        _assert_same(_both(dialect, type_name, values))
    built = [orjson.loads(b)["v"] for b, _ in _both(dialect, "DOUBLE", values[:3])]
    assert built == [None, None, None]


def test_unhandled_types_are_left_to_python(dialect: DuckDBDialect) -> None:
    column = exp.column("v", quoted=True)
    for type_name in (
        "TIME",
        "JSON",
        "TIME WITH TIME ZONE",
        "ENUM('a', 'b')",
        "TIME[]",
        "STRUCT(a TIME, b DOUBLE)",
        "MAP(VARCHAR, TIME)",
    ):
        assert dialect.json_value(column, type_name) is None, type_name


def test_more_types_encode_the_same(dialect: DuckDBDialect) -> None:
    _assert_same(_both(dialect, "HUGEINT", [2**127 - 1, -(2**127), None]))
    _assert_same(_both(dialect, "UHUGEINT", [2**128 - 1, 0]))
    _assert_same(_both(dialect, "BLOB", [b"", b'\x00\xff"', None]))
    _assert_same(_both(dialect, "UUID", [uuid.UUID(int=2**128 - 1), None]))
    stamps = [
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=dt.UTC),
        None,
    ]
    for built, python in _both(dialect, "TIMESTAMPTZ", stamps):
        assert built.encode() == python
    assert _both(dialect, "TIMESTAMPTZ", stamps[:1])[0][0] == '{"v":"2024-01-01T22:04:05+00:00"}'


def test_nested_values_encode_the_same_with_every_digit(dialect: DuckDBDialect) -> None:
    big = decimal.Decimal("9" * 28 + ".123456789")
    _assert_exactly_same(_both(dialect, "DOUBLE[]", [[math.nan, 1.5, -math.inf, None], None]))
    _assert_exactly_same(_both(dialect, "DECIMAL(38,10)[]", [[big, None]]))
    _assert_exactly_same(
        _both(
            dialect,
            "STRUCT(d DECIMAL(38,10), f DOUBLE, t TIMESTAMP)",
            [{"d": big, "f": math.nan, "t": dt.datetime(2024, 1, 2, 3, 4, 5, 6)}, None],
        )
    )
    _assert_exactly_same(_both(dialect, "MAP(INTEGER, VARCHAR)", [{1: "a", -2: None}, None]))


def _assert_exactly_same(pairs: list[tuple[str, bytes]]) -> None:
    """Equal when every number is read exactly (no float rounding)."""
    for built, python in pairs:
        exact = {"parse_float": decimal.Decimal, "parse_int": decimal.Decimal}
        assert json.loads(built, **exact) == json.loads(python, **exact), (built, python)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=20),
    st.lists(st.text(), min_size=1, max_size=20),
    st.lists(
        st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
        min_size=1,
        max_size=20,
    ),
)
def test_any_value_encodes_the_same(
    dialect: DuckDBDialect, floats: list[float], texts: list[str], stamps: list[dt.datetime]
) -> None:
    _assert_same(_both(dialect, "DOUBLE", floats))
    _assert_same(_both(dialect, "VARCHAR", [t for t in texts if "\x00" not in t]))
    for built, python in _both(dialect, "TIMESTAMP", stamps):
        assert built.encode() == python


def test_payloads_from_sql_and_from_python_reach_the_file_alike(ws: Workspace) -> None:
    """End to end: one sync whose payload the warehouse builds, one (a TIME is mapped) whose
    payload Python completes; the mapped values written are the same."""
    ws.sql(
        """CREATE TABLE users AS SELECT * FROM (VALUES
            (1, 'a@x.io', TIMESTAMP '2024-01-02 03:04:05', 'nan'::DOUBLE, 1.50::DECIMAL(8,2),
             DATE '2024-02-29', TRUE, TIME '01:02:03'),
            (2, 'tab\there "q"', TIMESTAMP '2024-01-02 03:04:05.25', 2.5, NULL, NULL, NULL, NULL)
        ) AS t(id, email, seen, score, balance, born, active, raw)"""
    )
    typed = ["email", "seen", "score", "balance", "born", "active"]
    config = {
        "sources": {"wh": {"type": "duckdb", "path": "warehouse.duckdb"}},
        "models": {"users": {"source": "wh", "primary_key": "id", "sql": "select * from users"}},
        "destinations": {"dest": {"type": "file", "path": "out"}},
        "syncs": {
            name: {
                "model": "users",
                "destination": "dest",
                "mode": "upsert",
                "mappings": [{"from": c, "to": f'{c} "x"'} for c in columns],
            }
            for name, columns in (("in_sql", typed), ("in_python", [*typed, "raw"]))
        },
    }
    ws.write_project(config)
    written = {}
    for name in ("in_sql", "in_python"):
        result = ws.cli("run", name, "--json")
        assert result.exit_code == 0, result.stdout + result.stderr
        run_dir = ws.root / "out" / name / str(result.json()["sync_run_id"])
        lines = (run_dir / "added.jsonl").read_bytes().splitlines()
        written[name] = [orjson.loads(line) for line in lines]
    for row in written["in_python"]:
        row["fields"].pop('raw "x"')
    assert written["in_sql"] == written["in_python"]
    first = written["in_sql"][0]["fields"]
    assert first == {
        'email "x"': "a@x.io",
        'seen "x"': "2024-01-02T03:04:05",
        'score "x"': None,
        'balance "x"': 1.5,
        'born "x"': "2024-02-29",
        'active "x"': True,
    }
    assert written["in_sql"][1]["fields"]['seen "x"'] == "2024-01-02T03:04:05.250000"


def _strict(text: bytes) -> Any:
    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    exact = {"parse_float": decimal.Decimal, "parse_int": decimal.Decimal}
    return json.loads(text, parse_constant=refuse, **exact)


def test_python_encoder_is_strict_and_exact_whatever_the_mix() -> None:
    """A 128-bit integer beside a NaN (once sent through a fallback writing NaN), decimals
    with 38 digits (once rounded through a float), and NaN decimals."""
    big = decimal.Decimal("1234567890123456789012345678.9012345678")
    payload = {
        "huge": 2**127 - 1,
        "nan": math.nan,
        "inf": -math.inf,
        "dec": big,
        "zero": decimal.Decimal("0E-10"),
        "dec_nan": decimal.Decimal("NaN"),
        "list": [2**100, math.nan, big],
        "map": {1: "a", dt.date(2024, 1, 2): 2**64},
    }
    assert _strict(dumps(payload)) == {
        "huge": 2**127 - 1,
        "nan": None,
        "inf": None,
        "dec": big,
        "zero": decimal.Decimal("0"),
        "dec_nan": None,
        "list": [2**100, None, big],
        "map": {"1": "a", "2024-01-02": 2**64},
    }
    assert b'"dec":1234567890123456789012345678.9012345678' in dumps(payload)


def test_python_encoder_time_formats() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    payload = {
        "aware": dt.datetime(2024, 1, 2, 0, 30, tzinfo=berlin),
        "naive": dt.datetime(2024, 1, 2, 3, 4, 5, 60),
        "time_tz": dt.time(3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
        "interval": dt.timedelta(days=-1, seconds=86399, microseconds=5),
        "bytes": b"\x00\xff",
        "id": uuid.UUID(int=1),
    }
    assert orjson.loads(dumps(payload)) == {
        "aware": "2024-01-01T23:30:00+00:00",
        "naive": "2024-01-02T03:04:05.000060",
        "time_tz": "03:04:05-05:30",
        "interval": "P0M0DT-0.999995S",
        "bytes": "00ff",
        "id": "00000000-0000-0000-0000-000000000001",
    }
