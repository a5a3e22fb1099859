"""DuckDB values as JSON in SQL: the README's value formats, per column type, nested types too."""

from __future__ import annotations

from typing import Any

# DuckDB's integer types (a key of one is kept as an integer: DuckDBDialect.is_integer_type).
INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
# Types whose DuckDB JSON is what the Python encoder writes for the fetched value (a
# DECIMAL's positional text included); JSON is embedded as the value it holds.
# A JSON column is left to Python (as JsonText): DuckDB re-reads its numbers as doubles and
# accepts NaN, Infinity and trailing commas in it.
_JSON_AS_IS = INTEGER_TYPES | {"BOOLEAN", "VARCHAR", "DATE", "UUID"}
# In the sync logs a JSON value is kept, or logged as its text where it may hold NaN tokens.
_LOG_JSON = (
    "CASE WHEN regexp_matches(CAST(json(__v__) AS VARCHAR), 'NaN|Infinity') "
    "THEN to_json(CAST(__v__ AS VARCHAR)) ELSE __v__ END"
)
# Python's datetime.isoformat(): microseconds only when there are some (nanoseconds cut).
_JSON_TIMESTAMP = (
    "CASE WHEN microsecond(__v__) % 1000000 = 0 THEN strftime(__v__, '%Y-%m-%dT%H:%M:%S') "
    "ELSE strftime(__v__, '%Y-%m-%dT%H:%M:%S.%f') END"
)
# An instant: in UTC whatever the session's time zone.
_JSON_TIMESTAMPTZ = _JSON_TIMESTAMP.replace("__v__", "timezone('UTC', __v__)") + " || '+00:00'"
# orjson writes NaN and the infinities as null; FLOAT is widened as Python widens it.
_JSON_FLOAT = "CASE WHEN isfinite(__v__) THEN CAST(__v__ AS DOUBLE) END"
# P<months>M<days>DT<seconds>S, each part signed (engine.destinations.json_encoding).
_MICROS = (
    "(datepart('hour', __v__) * 3600000000 + datepart('minute', __v__) * 60000000 "
    "+ datepart('microseconds', __v__))"
)
_JSON_INTERVAL = (
    "'P' || CAST(datepart('year', __v__) * 12 + datepart('month', __v__) AS VARCHAR) || 'M' "
    "|| CAST(datepart('day', __v__) AS VARCHAR) || 'DT' "
    f"|| CASE WHEN {_MICROS} < 0 THEN '-' ELSE '' END "
    f"|| CAST(abs({_MICROS}) // 1000000 AS VARCHAR) "
    f"|| CASE WHEN {_MICROS} % 1000000 = 0 THEN '' "
    f"ELSE '.' || lpad(CAST(abs({_MICROS}) % 1000000 AS VARCHAR), 6, '0') END || 'S'"
)
_JSON_TEMPLATES = {
    "TIMESTAMP": _JSON_TIMESTAMP,
    "TIMESTAMP_S": _JSON_TIMESTAMP,
    "TIMESTAMP_MS": _JSON_TIMESTAMP,
    "TIMESTAMP_NS": _JSON_TIMESTAMP.replace("__v__", "CAST(__v__ AS TIMESTAMP)"),
    "TIMESTAMP WITH TIME ZONE": _JSON_TIMESTAMPTZ,
    "DOUBLE": _JSON_FLOAT,
    "FLOAT": _JSON_FLOAT,
    "INTERVAL": _JSON_INTERVAL,
    "BLOB": "lower(hex(__v__))",
}


def json_sql(kind: Any, value: str, depth: int, strict: bool) -> str | None:
    """DuckDB SQL writing ``value`` (SQL text) of ``kind`` (a DuckDBPyType) in the README's
    value formats, nested types included; None (``strict``) where a part of it has no SQL
    form here, else that part left as DuckDB writes it, its floats finite or null."""
    if kind.id in ("list", "array"):
        item = f"__x{depth}"
        inner = json_sql(dict(kind.children)["child"], item, depth + 1, strict)
        if inner is None or inner == item:
            return None if inner is None else value
        return f"list_transform({value}, lambda {item}: {inner})"
    if kind.id == "struct":
        fields = {
            name: json_sql(child, f"struct_extract({value}, {_text(name)})", depth, strict)
            for name, child in kind.children
        }
        if any(part is None for part in fields.values()):
            return None
        packed = ", ".join(f"{_identifier(name)} := {part}" for name, part in fields.items())
        return f"CASE WHEN {value} IS NULL THEN NULL ELSE struct_pack({packed}) END"
    if kind.id == "map":
        entry = f"__e{depth}"
        children = dict(kind.children)
        key = json_sql(children["key"], f"{entry}.key", depth + 1, strict)
        item = json_sql(children["value"], f"{entry}.value", depth + 1, strict)
        if key is None or item is None:
            return None
        if key == f"{entry}.key" and item == f"{entry}.value":
            return value
        return (
            f"map_from_entries(list_transform(map_entries({value}), lambda {entry}: "
            f"struct_pack(key := {key}, value := {item})))"
        )
    name = str(kind).upper()
    if name in _JSON_AS_IS or name.startswith("DECIMAL"):
        return value
    if name in _JSON_TEMPLATES:
        return "(" + _JSON_TEMPLATES[name].replace("__v__", value) + ")"
    if strict:
        return None
    return "(" + _LOG_JSON.replace("__v__", value) + ")" if name == "JSON" else value


def _text(name: str) -> str:
    """A SQL string literal."""
    return "'" + name.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
