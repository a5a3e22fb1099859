"""PostgreSQL values as JSON in SQL: the README's value formats, per column type."""

from __future__ import annotations

from sqlglot import exp

from dialects.base import substituted

# PostgreSQL's integer types (a key of one is kept as an integer: PostgresDialect.is_integer_type).
INTEGER_TYPES = frozenset({"smallint", "integer", "bigint", "int2", "int4", "int8"})
# Types whose JSON (json_build_object) is what the Python encoder writes for the fetched value
# (json and jsonb are embedded as the value they hold, their numbers exact).
_JSON_AS_IS = INTEGER_TYPES | frozenset(
    {"boolean", "bool", "text", "varchar", "character varying", "bpchar", "date", "uuid"}
    | {"json", "jsonb", "oid"}
)
# The README's value formats (engine.destinations.json_encoding), where PostgreSQL's own
# JSON differs: NaN and infinities as null (not "NaN"), six fraction digits, UTC instants,
# intervals in ISO 8601, bytes as hex.
_JSON_NOT_FINITE = (
    "CASE WHEN __v__ IN (CAST('NaN' AS {t}), CAST('Infinity' AS {t}), CAST('-Infinity' AS {t})) "
    "THEN NULL ELSE __v__ END"
)
_JSON_TIMESTAMP = (
    "TO_CHAR(__v__, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
    "EXTRACT(MICROSECONDS FROM __v__) % 1000000 = 0 THEN '' ELSE TO_CHAR(__v__, '.US') END"
)
_MICROS = (
    "(EXTRACT(HOUR FROM __v__) * 3600000000 + EXTRACT(MINUTE FROM __v__) * 60000000 "
    "+ EXTRACT(MICROSECONDS FROM __v__))"
)
_JSON_INTERVAL = (
    "'P' || CAST(EXTRACT(YEAR FROM __v__) * 12 + EXTRACT(MONTH FROM __v__) AS TEXT) || 'M' "
    "|| CAST(EXTRACT(DAY FROM __v__) AS TEXT) || 'DT' "
    f"|| CASE WHEN {_MICROS} < 0 THEN '-' ELSE '' END "
    f"|| CAST(DIV(ABS({_MICROS}), 1000000) AS TEXT) "
    f"|| CASE WHEN {_MICROS} % 1000000 = 0 THEN '' "
    f"ELSE '.' || LPAD(CAST(ABS({_MICROS}) % 1000000 AS TEXT), 6, '0') END || 'S'"
)
_JSON_AS_TEXT = "CASE WHEN __v__ IS NULL THEN NULL ELSE FORMAT('%s', __v__) END"
# Types psycopg hands over as exactly as PostgreSQL holds them, written by Python.
_JSON_IN_PYTHON = frozenset({"time", "timetz"})
_JSON_TEMPLATES = {
    "numeric": _JSON_NOT_FINITE.format(t="NUMERIC"),
    "float4": _JSON_NOT_FINITE.format(t="REAL"),
    "float8": _JSON_NOT_FINITE.format(t="DOUBLE PRECISION"),
    "timestamp": _JSON_TIMESTAMP,
    "timestamptz": _JSON_TIMESTAMP.replace("__v__", "(__v__ AT TIME ZONE 'UTC')") + " || '+00:00'",
    "interval": _JSON_INTERVAL,
    "bytea": "ENCODE(__v__, 'hex')",
}


def json_expression(value: exp.Expr, type_name: str) -> exp.Expr | None:
    """``value`` (of column type ``type_name``) as a value of a JSON object the server builds
    (``json_build_object``); None for a type Python writes (see ``Dialect.json_value``)."""
    kind = type_name.lower()
    if kind in _JSON_AS_IS:
        return value
    if kind in _JSON_TEMPLATES:
        return substituted(_JSON_TEMPLATES[kind], value, read="postgres")
    if kind in _JSON_IN_PYTHON or kind.endswith("[]"):
        return None
    # Any other type (xml, inet, ranges, enums, composites, extensions' types) as its
    # text, as its output function writes it (a cast to text may differ: inet's mask).
    return substituted(_JSON_AS_TEXT, value, read="postgres")
