"""The JSON the engine sends: compact UTF-8 bytes for what warehouses return.

Every destination and the delivery runner encode with :func:`dumps`, and a payload the
warehouse builds (``Dialect.json_value``) follows the same rules (README, "Value formats"):

- integers of any size (128-bit included) and decimals are JSON numbers with every digit
  (a decimal as its positional text: ``12.50``, never a float); NaN and the infinities,
  float or decimal, are ``null``;
- a timestamp is ISO 8601, ``YYYY-MM-DDTHH:MM:SS`` plus ``.ffffff`` when it has a fraction,
  and one with a time zone is written in UTC with ``+00:00``; dates and times likewise;
- an interval is ``P<months>M<days>DT<seconds>S`` (each part signed, seconds with six
  fraction digits when they have a fraction);
- UUIDs are strings, bytes are lowercase hex, lists are arrays, and a map's keys are text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any

import orjson

from dialects.base import JsonText

# Dates, times and timestamps go through json_default (orjson would keep a time zone's own
# offset and refuse a time with a zone), and so do subclasses of str (JsonText), int, dict
# and list.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_MICROS_PER_DAY = 86_400_000_000
_INT64 = range(-(2**63), 2**64)  # what orjson writes itself (up to unsigned 64 bits)


def timestamp_text(value: dt.datetime | dt.time) -> str:
    """ISO 8601; an aware timestamp in UTC (``+00:00``), an aware time with its offset."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.isoformat()


def interval_text(months: int, days: int, micros: int) -> str:
    """``P<months>M<days>DT<seconds>S``: months and days kept apart (neither has a fixed
    length), seconds with six fraction digits when there is a fraction."""
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    seconds = f"{sign}{whole}" + (f".{fraction:06d}" if fraction else "")
    return f"P{months}M{days}DT{seconds}S"


def decimal_json(value: decimal.Decimal) -> orjson.Fragment | None:
    """A decimal as an exact JSON number (positional, as warehouses print it), NaN as null."""
    if not value.is_finite():
        return None
    return orjson.Fragment(format(value, "f"))


def json_text_value(text: str) -> Any:
    """The value a warehouse's JSON text holds, numbers exact and NaN or infinities as
    null; text that is not JSON (trailing commas) is sent as a string."""
    try:
        return _prepared(json.loads(text, parse_float=_exact_float, parse_constant=_no_constant))
    except ValueError:
        return str(text)


def _exact_float(text: str) -> Any:
    number = decimal.Decimal(text)
    return decimal_json(number) if number.is_finite() else None


def _no_constant(_token: str) -> None:
    return None


def json_default(value: Any) -> Any:
    """JSON for the values warehouses return that orjson does not write itself."""
    if isinstance(value, JsonText):
        return json_text_value(value)
    for base in (str, int, dict, list):
        if isinstance(value, base):
            return base(value)
    if isinstance(value, dt.datetime | dt.time):
        return timestamp_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return decimal_json(value)
    if isinstance(value, dt.timedelta):
        total = value // dt.timedelta(microseconds=1)
        days = int(total / _MICROS_PER_DAY)  # toward zero, so both parts share a sign
        return interval_text(0, days, total - days * _MICROS_PER_DAY)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset):
        return sorted(value, key=_key_text)
    if isinstance(value, tuple):
        return list(value)
    if all(hasattr(value, part) for part in ("months", "days", "nanoseconds")):
        return interval_text(value.months, value.days, value.nanoseconds // 1000)
    if type(value).__str__ is not object.__str__:  # an address, a range: its text
        return str(value)
    raise TypeError(
        f"cannot send a value of type {type(value).__name__} as JSON. Fix: cast the column "
        "to text (or a standard type) in the model."
    )


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes for a request body (orjson, strict JSON: never NaN or Infinity)."""
    try:
        return orjson.dumps(payload, default=json_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits and maps with keys that are not text: prepared, then
        # written by orjson all the same.
        return orjson.dumps(_prepared(payload), default=json_default, option=_OPTIONS)


def _prepared(value: Any) -> Any:
    """``value`` with integers beyond 64 bits as exact numbers and every map key as text."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if isinstance(value, int):
        return value if value in _INT64 else orjson.Fragment(str(value))
    if isinstance(value, dict):
        return {_key_text(k): _prepared(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepared(item) for item in value]
    if isinstance(value, set | frozenset):
        return [_prepared(item) for item in sorted(value, key=_key_text)]
    return value


def _key_text(key: Any) -> str:
    """A map key as text: a string as is, anything else as its JSON (a date unquoted)."""
    if isinstance(key, str):
        return key
    text = dumps(key).decode()
    return str(orjson.loads(text)) if text.startswith('"') else text
