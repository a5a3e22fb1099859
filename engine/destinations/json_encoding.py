"""The JSON the engine sends: compact UTF-8 bytes for what warehouses return.

Every destination and the delivery runner encode with :func:`dumps`, so a payload built in
Python matches one built by the warehouse (``Dialect.json_value``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

import orjson


def json_default(value: Any) -> Any:
    """JSON for the values warehouses return (timestamps, decimals, UUIDs, bytes)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot send a value of type {type(value).__name__} as JSON")


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes for a request body (orjson; stdlib json for what orjson refuses,
    such as integers beyond 64 bits)."""
    try:
        return orjson.dumps(payload, default=json_default)
    except orjson.JSONEncodeError:
        return json.dumps(payload, default=json_default, separators=(",", ":")).encode()
