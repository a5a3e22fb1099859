"""Property: whatever the mix of column types, every payload sent is strict JSON and holds
the model's values in the README's value formats ("Value formats").

Each example builds a model of a few random columns (types the warehouse writes as JSON
itself and types it leaves to Python, so rows take either path or both), fills it with edge
values (NaN, infinities, -0.0, 128-bit integers, 38-digit decimals, NULLs, unicode, control
characters and quotes, far dates, time zones), syncs it to a real HTTP server (one row per
request, and in batches) and to the file destination, and checks every body and line:
strict JSON (no NaN or Infinity tokens), and each field equal to the value the warehouse's
own client reads for that cell, written here independently of the engine's encoder. The
sync logs' ``fields`` must parse as strict JSON too.

Each warehouse has its own types (``Kind``): on Snowflake NUMBER of every width, FLOAT, the
three TIMESTAMPs, TIME, BINARY, VARIANT, ARRAY and OBJECT; the types its emulator cannot
hold are named in tests/test_snowflake.py.

On BigQuery (its emulator, from tests/test_bigquery.py, with two examples: each is three
full runs of a few dozen jobs): INT64, NUMERIC (38 digits, 9 after the point), BIGNUMERIC,
FLOAT64 with NaN and the infinities, BOOL, STRING, BYTES, DATE, DATETIME, TIMESTAMP, TIME,
JSON, ARRAY and STRUCT. BigQuery's JSON holds numbers as INT64, UINT64 or FLOAT64 only
(``PARSE_JSON`` refuses a number it cannot hold exactly), so its documents carry no wider
numbers; its arrays hold no NULL element and are written with a typed array parameter.
Where the emulator differs from BigQuery: it holds BIGNUMERIC as DuckDB's DECIMAL(38,18), so
BIGNUMERIC values stay in that range here (BigQuery's has 38 digits after the point and 76
in all); it reads a NULL array back as NULL where BigQuery reads ``[]`` (the expected values
are what the client reads, so both pass); and the sync logs' ``fields`` (a JSON column,
written by ``JSON_OBJECT``) hold a FLOAT64's NaN and infinities as bare tokens (DuckDB's
JSON), where BigQuery's documented JSON encoding writes the strings "NaN", "Infinity" and
"-Infinity": on BigQuery only those three tokens are let through when the logs are parsed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink

pytestmark = pytest.mark.each_warehouse

UTC = dt.UTC
MAX_DECIMAL_38_10 = Decimal("9" * 28 + "." + "9" * 10)


# -- the expected JSON, written independently of the engine ------------------------------
def _fraction(micros: int) -> str:
    return f".{micros:06d}" if micros else ""


def _clock(value: dt.time | dt.datetime) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}" + _fraction(value.microsecond)


def _day(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _offset(value: dt.time) -> str:
    offset = value.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def expect_timestamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        return _day(value.astimezone(UTC)) + "T" + _clock(value.astimezone(UTC)) + "+00:00"
    return _day(value) + "T" + _clock(value)


def expect_number(value: Any) -> Any:
    """An exact number (int, Decimal) as a Decimal; a float as itself; NaN and inf as None."""
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    number = Decimal(value)
    return number if number.is_finite() else None


def expect_json_text(text: str | None) -> Any:
    """The JSON value the text holds (NaN and infinities as null); text that is not JSON
    (DuckDB accepts trailing commas) as a string."""
    if text is None:
        return None
    try:
        value = json.loads(
            text, parse_float=Decimal, parse_int=Decimal, parse_constant=lambda _: math.nan
        )
    except ValueError:
        return text
    return _nan_as_null(value)


def _nan_as_null(value: Any) -> Any:
    if isinstance(value, float):
        return None
    if isinstance(value, dict):
        return {k: _nan_as_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_as_null(v) for v in value]
    return value


def expect_interval(parts: tuple[int, int, int] | None) -> str | None:
    if parts is None:
        return None
    months, days, micros = parts
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    return f"P{months}M{days}DT{sign}{whole}{_fraction(fraction)}S"


def _each(expect: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else [expect(item) for item in value]


def _or_null(expect: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else expect(value)


@dataclass(frozen=True)
class Kind:
    """A column type: its DDL per warehouse (None: not there), values, expected JSON."""

    name: str
    duckdb: str | None
    postgres: str | None
    values: st.SearchStrategy[Any]
    expect: Callable[[Any], Any]
    param: Callable[[Any], Any] = lambda value: value  # the insert's parameter
    from_generated: bool = False  # expect() reads the generated value, not the client's
    snowflake: str | None = None
    # Snowflake's insert: its parameter where it differs, and the SQL around the placeholder.
    snowflake_param: Callable[[Any], Any] | None = None
    snowflake_insert: str = "CAST({mark} AS {ddl})"
    bigquery: str | None = None
    # BigQuery's insert: its parameter(s) where they differ, and the SQL around them.
    bigquery_param: Callable[[Any], Any] | None = None
    bigquery_insert: str = "CAST({mark} AS {ddl})"
    spark: str | None = None  # Spark SQL's (and Databricks') type


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _snowflake_float_text(value: float) -> str:
    """A double as Snowflake reads it from text: its special values are 'NaN', 'inf' and
    '-inf' (https://docs.snowflake.com/en/sql-reference/data-types-numeric#special-values)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return _float_text(value)


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _interval_text(parts: tuple[int, int, int]) -> str:
    months, days, micros = parts
    return f"{months} months {days} days {micros} microseconds"


_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=12)
_tricky_text = st.one_of(
    _text, st.sampled_from(['"', "\\", '\\"\n\t', "\x01\x1f\x7f", "é🎉日本", "\u2028"])
)
_doubles = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]),
)
_decimals = st.one_of(
    st.decimals(
        min_value=MAX_DECIMAL_38_10.copy_negate(),
        max_value=MAX_DECIMAL_38_10,
        places=10,
        allow_nan=False,
    ),
    st.sampled_from([MAX_DECIMAL_38_10, MAX_DECIMAL_38_10.copy_negate(), Decimal("-0.0000000001")]),
)
_int128 = st.one_of(
    st.integers(-(2**127), 2**127 - 1),
    st.sampled_from([-(2**127), 2**127 - 1, 2**63, -(2**63) - 1]),
)
_stamps = st.one_of(
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    st.sampled_from([dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)]),
)
_zones = st.sampled_from(
    [dt.timezone(dt.timedelta(minutes=m)) for m in (0, 60, -300, 330, 840, -720)]
)
_aware = st.builds(
    lambda stamp, zone: stamp.replace(tzinfo=zone),
    st.datetimes(dt.datetime(2, 1, 1), dt.datetime(9998, 12, 31)),
    _zones,
)
_intervals = st.tuples(
    st.integers(-1200, 1200), st.integers(-1000, 1000), st.integers(-(10**12), 10**12)
)
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20
    ),
    _tricky_text,
)
_json_docs = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_tricky_text, inner, max_size=3)
    ),
    max_leaves=6,
)


def _json_param(doc: Any) -> str:
    """JSON text with decimals as exact numbers."""
    if isinstance(doc, Decimal):
        return format(doc, "f")
    if isinstance(doc, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json_param(v)}" for k, v in doc.items()) + "}"
    if isinstance(doc, list):
        return "[" + ",".join(_json_param(item) for item in doc) + "]"
    return json.dumps(doc)


_MAX_INT38 = 10**38 - 1  # Snowflake's NUMBER(38,0)
_MAX_NUMERIC = Decimal("9" * 29 + "." + "9" * 9)  # BigQuery's NUMERIC
# BigQuery's BIGNUMERIC holds 76 digits, 38 after the point; its emulator holds it as DuckDB's
# DECIMAL(38,18): 20 digits before the point, 18 after.
_MAX_BIGNUMERIC = Decimal("9" * 20 + "." + "9" * 18)
_INT64 = st.integers(-(2**63), 2**63 - 1)
# BigQuery's JSON: numbers it holds exactly (INT64), text, booleans, nulls, nested.
_bigquery_json_docs = st.recursive(
    st.one_of(st.none(), st.booleans(), _INT64, _tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_tricky_text, inner, max_size=3)
    ),
    max_leaves=6,
)


_numerics = st.decimals(
    min_value=_MAX_NUMERIC.copy_negate(), max_value=_MAX_NUMERIC, places=9, allow_nan=False
)


def _typed_array(kind: str) -> Callable[[Any], Any]:
    def param(values: list[Any]) -> Any:
        from google.cloud import bigquery

        return bigquery.ArrayQueryParameter(None, kind, values)

    return param


def _bigquery_json(value: Any) -> Any:
    """The JSON value BigQuery's client read (it parses JSON columns), as the payload holds it."""
    return None if value is None else expect_json_text(json.dumps(value))


_MAX_18_4 = Decimal("99999999999999.9999")
_addresses = st.sampled_from(["1.2.3.4", "10.0.0.0/8", "::1", "2001:db8::/32"])
# JSON text DuckDB accepts but strict JSON does not.
_LENIENT_JSON = ["[1, NaN, -Infinity]", '{"a": 1.0000000000000000000001, "b": Infinity}', "[1,]"]


def _nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


KINDS = [
    Kind(
        "int64",
        "BIGINT",
        "bigint",
        st.integers(-(2**63), 2**63 - 1),
        expect_number,
        snowflake="BIGINT",
        bigquery="INT64",
        spark="BIGINT",
    ),
    Kind(
        "int38",
        None,
        None,
        st.integers(-_MAX_INT38, _MAX_INT38),
        expect_number,
        str,
        snowflake="NUMBER(38,0)",
    ),
    Kind("int128", "HUGEINT", "numeric(39,0)", _int128, expect_number, str),
    Kind("uint128", "UHUGEINT", None, st.integers(0, 2**128 - 1), expect_number, str),
    Kind(
        "dec38",
        "DECIMAL(38,10)",
        "numeric(38,10)",
        _decimals,
        expect_number,
        _decimal_text,
        snowflake="NUMBER(38,10)",
        spark="DECIMAL(38,10)",
    ),
    Kind(
        "bignumeric",
        None,
        None,
        st.decimals(
            min_value=_MAX_BIGNUMERIC.copy_negate(),
            max_value=_MAX_BIGNUMERIC,
            places=18,
            allow_nan=False,
        ),
        expect_number,
        _decimal_text,
        bigquery="BIGNUMERIC",
    ),
    Kind(
        "numeric9",
        None,
        None,
        _numerics,
        expect_number,
        _decimal_text,
        bigquery="NUMERIC",
    ),
    Kind(  # on Snowflake, a result chunk of such values is sent as scaled 64-bit integers
        "dec18",
        None,
        None,
        st.decimals(min_value=-_MAX_18_4, max_value=_MAX_18_4, places=4, allow_nan=False),
        expect_number,
        _decimal_text,
        snowflake="NUMBER(18,4)",
    ),
    Kind(
        "numeric",
        None,
        "numeric",
        st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False),
            st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")]),
        ),
        expect_number,
        _decimal_text,
    ),
    Kind(
        "double",
        "DOUBLE",
        "double precision",
        _doubles,
        expect_number,
        _float_text,
        snowflake="DOUBLE",
        snowflake_param=_snowflake_float_text,
        bigquery="FLOAT64",
        bigquery_param=_snowflake_float_text,  # BigQuery reads 'NaN', 'inf', '-inf' too
        spark="DOUBLE",
    ),
    Kind("real", "FLOAT", "real", st.floats(width=32), expect_number, _float_text),
    Kind(
        "bool",
        "BOOLEAN",
        "boolean",
        st.booleans(),
        lambda v: v,
        snowflake="BOOLEAN",
        bigquery="BOOL",
        spark="BOOLEAN",
    ),
    Kind(
        "text",
        "VARCHAR",
        "text",
        _tricky_text,
        lambda v: v,
        snowflake="VARCHAR",
        bigquery="STRING",
        spark="STRING",
    ),
    Kind(
        "date",
        "DATE",
        "date",
        st.dates(),
        _or_null(_day),
        lambda v: v.isoformat(),
        snowflake="DATE",
        bigquery="DATE",
        spark="DATE",
    ),
    Kind(
        "ts",
        "TIMESTAMP",
        "timestamp",
        _stamps,
        _or_null(expect_timestamp),
        str,
        snowflake="TIMESTAMP_NTZ",
        bigquery="DATETIME",
        spark="TIMESTAMP_NTZ",
    ),
    Kind(
        "tstz",
        "TIMESTAMPTZ",
        "timestamptz",
        _aware,
        _or_null(expect_timestamp),
        str,
        snowflake="TIMESTAMP_TZ",
        bigquery="TIMESTAMP",
        spark="TIMESTAMP",  # Spark's and Databricks' TIMESTAMP: an instant (session zone UTC)
    ),
    Kind(
        "tsltz",
        None,
        None,
        _aware,
        _or_null(expect_timestamp),
        str,
        snowflake="TIMESTAMP_LTZ",
    ),
    Kind(
        "time",
        "TIME",
        "time",
        st.times(),
        _or_null(_clock),
        str,
        snowflake="TIME",
        bigquery="TIME",
    ),
    Kind(
        "timetz",
        "TIMETZ",
        "timetz",
        st.builds(lambda t, z: t.replace(tzinfo=z), st.times(), _zones),
        _or_null(lambda v: _clock(v) + _offset(v)),
        lambda v: v.isoformat(),
    ),
    Kind("interval", "INTERVAL", "interval", _intervals, expect_interval, _interval_text, True),
    Kind("uuid", "UUID", "uuid", st.uuids(), _or_null(str), str),
    Kind(
        "blob",
        "BLOB",
        "bytea",
        st.binary(max_size=6),
        _or_null(lambda v: bytes(v).hex()),
        snowflake="BINARY",
        bigquery="BYTES",
        spark="BINARY",
    ),
    Kind(
        "json",
        "JSON",
        "jsonb",
        _json_docs,
        expect_json_text,
        _json_param,
        snowflake="VARIANT",
        snowflake_insert="PARSE_JSON({mark})",
    ),
    Kind(
        "array",
        None,
        None,
        st.lists(_json_docs, max_size=3),
        expect_json_text,
        _json_param,
        snowflake="ARRAY",
        snowflake_insert="CAST(PARSE_JSON({mark}) AS ARRAY)",
    ),
    Kind(
        "object",
        None,
        None,
        st.dictionaries(_tricky_text, _json_docs, max_size=3),
        expect_json_text,
        _json_param,
        snowflake="OBJECT",
        snowflake_insert="CAST(PARSE_JSON({mark}) AS OBJECT)",
    ),
    Kind(
        "json_bq",
        None,
        None,
        _bigquery_json_docs,
        _bigquery_json,
        _json_param,
        bigquery="JSON",
        bigquery_insert="PARSE_JSON({mark})",
    ),
    Kind(
        "int64s",
        None,
        None,
        st.lists(_INT64, max_size=3),
        _each(expect_number),
        bigquery="ARRAY<INT64>",
        bigquery_param=_typed_array("INT64"),
        bigquery_insert="{mark}",
    ),
    Kind(
        "strings",
        None,
        None,
        st.lists(_tricky_text, max_size=3),
        _each(lambda v: v),
        bigquery="ARRAY<STRING>",
        bigquery_param=_typed_array("STRING"),
        bigquery_insert="{mark}",
    ),
    Kind(
        "json_text",
        "JSON",
        None,
        st.sampled_from(_LENIENT_JSON),
        expect_json_text,
    ),
    Kind("inet", None, "inet", _addresses, _or_null(str)),
    Kind(
        "inets", None, "inet[]", st.lists(_nullable(_addresses), max_size=3), _each(_or_null(str))
    ),
    Kind(
        "doubles",
        "DOUBLE[]",
        "double precision[]",
        st.lists(_nullable(_doubles), max_size=3),
        _each(expect_number),
    ),
    Kind(
        "texts",
        "VARCHAR[]",
        "text[]",
        st.lists(_nullable(_tricky_text), max_size=3),
        _each(lambda v: v),
    ),
    Kind(
        "decs",
        "DECIMAL(38,10)[]",
        "numeric(38,10)[]",
        st.lists(_nullable(_decimals), max_size=3),
        _each(expect_number),
    ),
    Kind(
        "stamps",
        "TIMESTAMP[]",
        "timestamp[]",
        st.lists(_nullable(_stamps), max_size=3),
        _each(_or_null(expect_timestamp)),
    ),
    Kind(
        "struct",
        "STRUCT(d DECIMAL(38,10), f DOUBLE, t TIMESTAMP)",
        None,
        st.fixed_dictionaries({"d": _nullable(_decimals), "f": _doubles, "t": _stamps}),
        _or_null(
            lambda v: {
                "d": expect_number(v["d"]),
                "f": expect_number(v["f"]),
                "t": _or_null(expect_timestamp)(v["t"]),
            }
        ),
    ),
    Kind(
        "struct_bq",
        None,
        None,
        st.fixed_dictionaries({"d": _nullable(_numerics), "f": _doubles, "t": _stamps}),
        _or_null(
            lambda v: {
                "d": expect_number(v["d"]),
                "f": expect_number(v["f"]),
                "t": _or_null(expect_timestamp)(v["t"]),
            }
        ),
        bigquery="STRUCT<d NUMERIC, f FLOAT64, t DATETIME>",
        bigquery_param=lambda v: [
            None if v["d"] is None else _decimal_text(v["d"]),
            _snowflake_float_text(v["f"]),
            str(v["t"]),
        ],
        bigquery_insert=(
            "STRUCT(CAST({mark} AS NUMERIC) AS d, CAST({mark} AS FLOAT64) AS f, "
            "CAST({mark} AS DATETIME) AS t)"
        ),
    ),
    Kind(
        "map",
        "MAP(INTEGER, VARCHAR)",
        None,
        st.dictionaries(st.integers(-5, 5), _nullable(_tricky_text), max_size=3),
        _or_null(lambda v: {str(k): item for k, item in v.items()}),
        lambda v: (list(v), list(v.values())),
    ),
]


_OFFSET = dt.timezone(dt.timedelta(hours=5, minutes=30))
_WEST = dt.timezone(dt.timedelta(hours=-12))
_MAX_38 = MAX_DECIMAL_38_10
EDGES: dict[str, list[Any]] = {
    "int64": [-(2**63), 2**63 - 1, 0],
    "int38": [_MAX_INT38, -_MAX_INT38, 2**64, 0],
    "int128": [-(2**127), 2**127 - 1, 2**64],
    "uint128": [2**128 - 1, 0],
    "dec38": [_MAX_38, _MAX_38.copy_negate(), Decimal("-0.0000000001"), Decimal(0)],
    "bignumeric": [_MAX_BIGNUMERIC, _MAX_BIGNUMERIC.copy_negate(), Decimal("1e-18")],
    "struct_bq": [{"d": _MAX_NUMERIC, "f": math.nan, "t": dt.datetime(2024, 1, 2, 3, 4, 5, 6)}],
    "numeric9": [_MAX_NUMERIC, _MAX_NUMERIC.copy_negate(), Decimal("0.000000001"), Decimal(0)],
    "dec18": [_MAX_18_4, Decimal("-12345678901234.5678"), Decimal("12.5000"), Decimal(0)],
    "numeric": [
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("12345678901234567890.123456789012345678901234567890"),
    ],
    "double": [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1],
    "real": [math.nan, math.inf, -math.inf, -0.0, 0.1],
    "bool": [True, False],
    "text": ['"', "\\", "\x01\x1f\x7f", "é🎉日本", "\u2028", "", 'a "b" \\ c'],
    "date": [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(99, 1, 1)],
    "ts": [
        dt.datetime(1, 1, 1),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
        dt.datetime(2024, 1, 2, 3, 4, 5, 60),
    ],
    "tstz": [
        dt.datetime(2024, 1, 2, 0, 30, tzinfo=_OFFSET),
        dt.datetime(9998, 12, 31, 23, 0, tzinfo=_WEST),
        dt.datetime(2, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ],
    "tsltz": [
        dt.datetime(2024, 1, 2, 0, 30, tzinfo=_OFFSET),
        dt.datetime(2, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ],
    "time": [dt.time(0), dt.time(23, 59, 59, 999999), dt.time(3, 4, 5, 60)],
    "timetz": [dt.time(3, 4, 5, tzinfo=_OFFSET), dt.time(0, tzinfo=_WEST)],
    "interval": [(14, 3, 108_245_500_000), (-1, -2, -3_250_000), (0, 0, 0)],
    "uuid": [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)],
    "blob": [b"", b'\x00\xff"\\'],
    "json": [
        {"a": [1, Decimal("1.0000000000000000000001"), "x"], "b": {"c": None}},
        2**70,
        "text",
        [],
    ],
    "json_bq": [{"a": [1, 2**63 - 1, "x"], "b": {"c": None}}, -(2**63), "text", []],
    "int64s": [[-(2**63), 0, 2**63 - 1], []],
    "strings": [['"', "é\n", ""], []],
    "json_text": _LENIENT_JSON,
    "array": [[{"a": [1, Decimal("1.0000000000000000000001")]}, None, "x", 2**70], []],
    "object": [{"k": {"c": None}, 'q"\\': [Decimal("-0.000001")]}, {}],
    "inet": ["1.2.3.4", "2001:db8::/32"],
    "inets": [["::1", None, "10.0.0.0/8"]],
    "doubles": [[math.nan, math.inf, -0.0, None, 1.5], []],
    "texts": [['"', None, "é\n"], []],
    "decs": [[_MAX_38, None, _MAX_38.copy_negate()]],
    "stamps": [[dt.datetime(1, 1, 1), None, dt.datetime(2024, 1, 2, 3, 4, 5, 6)]],
    "struct": [{"d": _MAX_38, "f": math.nan, "t": dt.datetime(2024, 1, 2, 3, 4, 5, 6)}],
    "map": [{1: "a", -2: None}, {}],
}


# -- comparison ---------------------------------------------------------------------------
def _strict(text: bytes | str) -> Any:
    """JSON parsed strictly: NaN / Infinity tokens refused, every number exact."""

    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse, parse_float=Decimal, parse_int=Decimal)


def same(expected: Any, got: Any) -> bool:
    """``got`` (parsed strictly) holds ``expected`` (numbers by exact value, float zeros with
    their sign)."""
    if isinstance(expected, float):
        if not isinstance(got, Decimal) or float(got) != expected:
            return False
        return math.copysign(1, expected) == (-1 if got.is_signed() else 1)
    if isinstance(expected, Decimal):
        return isinstance(got, Decimal) and got == expected
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and expected.keys() == got.keys()
            and all(same(v, got[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(same(a, b) for a, b in zip(expected, got, strict=True))
        )
    if isinstance(expected, bool) or expected is None:
        return got is expected
    return type(got) is type(expected) and got == expected


# -- the warehouse ------------------------------------------------------------------------
@contextmanager
def native(ws: Workspace) -> Iterator[tuple[Any, str]]:
    """The warehouse's own client (JSON read as text) and its placeholder."""
    if ws.kind == "duckdb":
        with duckdb.connect(str(ws.warehouse)) as con:
            yield con, "?"
        return
    if ws.kind == "snowflake":
        yield _SnowflakeClient(ws.connection()), "?"  # type: ignore[attr-defined]
        return
    if ws.kind == "bigquery":
        yield _BigQueryClient(ws), "?"
        return
    if ws.kind == "spark":
        yield _SparkClient(ws), "?"
        return
    import psycopg
    from psycopg.types.string import TextLoader

    with psycopg.connect(ws.dsn, autocommit=True) as con:  # type: ignore[attr-defined]
        for name in ("json", "jsonb"):
            con.adapters.register_loader(name, TextLoader)
        con.execute("SET TIME ZONE 'UTC'")
        yield con, "%s"


class _SnowflakeClient:
    """The connector's connection with ``execute`` returning its cursor, as the others do."""

    def __init__(self, con: Any):
        self.con = con

    def execute(self, statement: str, params: Any = None) -> Any:
        return self.con.cursor().execute(statement, params)


class _BigQueryClient:
    """BigQuery's client with ``execute`` taking positional parameters (typed from the Python
    value, or given typed) and returning rows with ``fetchall``."""

    def __init__(self, ws: Any):
        self.ws = ws

    def execute(self, statement: str, params: Any = None) -> Any:
        from google.cloud import bigquery

        from dialects.bigquery_sql import positional_parameters

        typed = [
            p if isinstance(p, bigquery.ArrayQueryParameter) else positional_parameters([p])[0]
            for p in params or []
        ]
        config = bigquery.QueryJobConfig(
            default_dataset=f"{self.ws.project_id}.{self.ws.dataset}", query_parameters=typed
        )
        job = self.ws.client().query(statement, job_config=config, location=self.ws.location)
        return _Rows([tuple(row.values()) for row in job.result()])


class _SparkClient:
    """The workspace's Spark session (its connection's cursor), SQL as written (Spark's types
    and backticks) with ``?`` placeholders bound as named parameters; rows by ``fetchall``."""

    def __init__(self, ws: Any):
        self.dialect = ws.dialect()

    def execute(self, statement: str, params: Any = None) -> Any:
        parts = statement.split("?")
        named = "".join(
            part + (f":p{i}" if i < len(parts) - 1 else "") for i, part in enumerate(parts)
        )
        values = {f"p{i}": value for i, value in enumerate(params or [])}
        # The session's own cursor: an instant (TIMESTAMP) reads back with its zone.
        cursor = self.dialect.con.cursor()
        try:
            return _Rows(cursor.execute(named, values or None).fetchall())
        finally:
            cursor.close()


@dataclass
class _Rows:
    rows: list[tuple[Any, ...]]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


def _ddl(kind: Kind, ws: Workspace) -> str | None:
    return {
        "duckdb": kind.duckdb,
        "postgres": kind.postgres,
        "snowflake": kind.snowflake,
        "bigquery": kind.bigquery,
        "spark": kind.spark,
    }[ws.kind]


def _placed(kind: Kind, ws: Workspace, mark: str, value: Any) -> tuple[str, list[Any]]:
    """The insert's SQL for one cell and its parameters."""
    if ws.kind == "snowflake":
        param = (kind.snowflake_param or kind.param)(value)
        return kind.snowflake_insert.format(mark=mark, ddl=kind.snowflake), [param]
    if ws.kind == "bigquery":
        param = (kind.bigquery_param or kind.param)(value)
        placed = kind.bigquery_insert.format(mark=mark, ddl=kind.bigquery)
        return placed, list(param) if placed.count(mark) > 1 else [param]
    param = kind.param(value)
    if kind.name == "map":
        return f"map({mark}, {mark})", list(param)
    return f"CAST({mark} AS {_ddl(kind, ws)})", [param]


def fill_model(ws: Workspace, kinds: list[Kind], rows: list[list[Any]]) -> list[list[Any]]:
    """Replace table ``m`` (id plus one column per kind); return the rows as the client
    reads them back."""
    quote, key = {"bigquery": ("`", "id INT64"), "spark": ("`", "id BIGINT")}.get(
        ws.kind, ('"', "id BIGINT PRIMARY KEY")
    )
    columns = ", ".join(f"{quote}{k.name}{quote} {_ddl(k, ws)}" for k in kinds)
    with native(ws) as (con, mark):
        con.execute("DROP TABLE IF EXISTS m")
        con.execute(f"CREATE TABLE m ({key}, {columns})")
        for row_id, row in enumerate(rows):
            marks, params = [mark], [row_id]
            for kind, value in zip(kinds, row, strict=True):
                if value is None:
                    marks.append("NULL")
                    continue
                placed, values = _placed(kind, ws, mark, value)
                marks.append(placed)
                params.extend(values)
            # Snowflake takes no function call (PARSE_JSON) in VALUES: a SELECT everywhere.
            con.execute(f"INSERT INTO m SELECT {', '.join(marks)}", params)
        read = con.execute("SELECT * FROM m ORDER BY id").fetchall()
    return [list(r[1:]) for r in read]


def field_name(kind: Kind) -> str:
    """A destination field name that needs escaping in JSON."""
    return f'{kind.name} "q" \\ é'


def expected_rows(
    kinds: list[Kind], generated: list[list[Any]], read: list[list[Any]]
) -> dict[str, dict[str, Any]]:
    out = {}
    for row_id, (made, got) in enumerate(zip(generated, read, strict=True)):
        out[str(row_id)] = {
            field_name(k): k.expect(m if k.from_generated else g)
            for k, m, g in zip(kinds, made, got, strict=True)
        }
    return out


def _project(ws: Workspace, sink: HttpSink, kinds: list[Kind]) -> None:
    mappings = [{"from": k.name, "to": field_name(k)} for k in kinds]
    requests = {
        "added": {"method": "PUT", "path": "/m/{row_id}"},
        "changed": {"method": "PUT", "path": "/m/{row_id}"},
    }
    syncs = {
        "to_http": {"destination": "api", "http": requests},
        "to_http_batch": {
            "destination": "api",
            "http": {
                "added": {"method": "POST", "path": "/m"},
                "changed": {"method": "POST", "path": "/m"},
                "batch_size": 3,
            },
        },
        "to_file": {"destination": "files"},
    }
    ws.write_project(
        {
            "sources": {"wh": ws.source()},
            "models": {"m": {"source": "wh", "primary_key": "id", "sql": "select * from m"}},
            "destinations": {
                "api": {"type": "http", "base_url": sink.url, "max_attempts": 1},
                "files": {"type": "file", "path": "out"},
            },
            "syncs": {
                name: {"model": "m", "mode": "upsert", "mappings": mappings, **sync}
                for name, sync in syncs.items()
            },
        }
    )


def sent_bodies(ws: Workspace, sink: HttpSink) -> dict[str, dict[str, dict[str, Any]]]:
    """Per sync: row_id -> the fields it sent, each body parsed strictly."""
    sent: dict[str, dict[str, dict[str, Any]]] = {"to_http": {}, "to_http_batch": {}}
    for request in sink.requests:
        body = _strict(request.raw)
        if isinstance(body, list):
            for item in body:
                sent["to_http_batch"][item.pop("row_id")] = item
        else:
            sent["to_http"][request.path.rsplit("/", 1)[1]] = body
    return sent


def run(ws: Workspace, sync: str) -> int:
    result = ws.cli("run", sync, "--full-resync", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return int(result.json()["sync_run_id"])


def kinds_for(ws: Workspace) -> list[Kind]:
    return [k for k in KINDS if _ddl(k, ws) is not None]


@st.composite
def models(draw: st.DrawFn, available: list[Kind]) -> tuple[list[Kind], list[list[Any]]]:
    kinds = draw(st.lists(st.sampled_from(available), min_size=1, max_size=5, unique=True))
    rows = draw(
        st.lists(st.tuples(*[_nullable(k.values) for k in kinds]).map(list), min_size=1, max_size=4)
    )
    return kinds, rows


def check_sync_of(ws: Workspace, kinds: list[Kind], generated: list[list[Any]]) -> None:
    """Fill the model, sync it everywhere, compare every body and line with the model."""
    read = fill_model(ws, kinds, generated)
    expected = expected_rows(kinds, generated, read)
    with HttpSink(record_requests=True) as sink:
        _project(ws, sink, kinds)
        run_ids = [run(ws, "to_http"), run(ws, "to_http_batch")]
        sent = sent_bodies(ws, sink)
    run_ids.append(run(ws, "to_file"))
    lines = (ws.root / "out" / "to_file" / str(run_ids[-1]) / "added.jsonl").read_bytes()
    sent["to_file"] = {}
    for line in lines.splitlines():
        record = _strict(line)
        sent["to_file"][record["row_id"]] = record["fields"]
    for sync, bodies in sent.items():
        assert bodies.keys() == expected.keys(), sync
        for row_id, want in expected.items():
            got = bodies[row_id]
            assert got.keys() == want.keys(), (sync, row_id, got)
            wrong = {k: (v, got[k]) for k, v in want.items() if not same(v, got[k])}
            assert not wrong, f"{sync} row {row_id}: field: (expected, sent) {wrong}"
    with native(ws) as (con, _mark):
        as_text = {
            "snowflake": "TO_JSON(fields)",
            "bigquery": "TO_JSON_STRING(fields)",
            "spark": "fields",  # a STRING holding JSON
        }.get(ws.kind, "CAST(fields AS VARCHAR)")
        logged = con.execute(
            f"SELECT {as_text} FROM hightouch_audit.sync_changelog "
            f"WHERE sync_run_id IN ({', '.join(map(str, run_ids))})"
        ).fetchall()
    assert len(logged) == 3 * len(expected)
    for (text,) in logged:
        if ws.kind == "bigquery":  # the emulator's JSON (DuckDB's) holds NaN: see the module doc
            json.loads(text, parse_constant=lambda token: _NOT_FINITE[token])
        else:
            _strict(text)


# BigQuery's JSON writes a FLOAT64's NaN and infinities as these strings.
_NOT_FINITE = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}


def payload_property(examples: int) -> Callable[..., None]:
    """The property as a test of ``examples`` examples (``LIGHTNING_PAYLOAD_EXAMPLES`` sets
    another number)."""

    @settings(
        max_examples=int(os.environ.get("LIGHTNING_PAYLOAD_EXAMPLES", str(examples))),
        report_multiple_bugs=False,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_every_payload_is_strict_json_with_the_models_values(
        ws: Workspace, data: st.DataObject
    ) -> None:
        kinds, generated = data.draw(models(kinds_for(ws)))
        check_sync_of(ws, kinds, generated)

    return test_every_payload_is_strict_json_with_the_models_values  # type: ignore[no-any-return]


test_every_payload_is_strict_json_with_the_models_values = payload_property(12)


def test_every_type_and_edge_value_at_once(ws: Workspace) -> None:
    """Every column type of the warehouse in one model, each with its edge values (and a
    row of NULLs): the types the warehouse writes and those left to Python side by side."""
    kinds = kinds_for(ws)
    edges = [EDGES[k.name] for k in kinds]
    height = max(len(values) for values in edges)
    rows = [[values[i % len(values)] for values in edges] for i in range(height)]
    check_sync_of(ws, kinds, [*rows, [None] * len(kinds)])
