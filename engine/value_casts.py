"""Values as a mapping's ``cast`` converts them (``string``, ``number``, ``boolean``,
``timestamp``), and how a value is set at a nested field (``address.city``)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation
from typing import Any


def put(out: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``out[a][b]...`` = ``value`` for the dotted field ``path`` (split), making the
    objects on the way."""
    for part in path[:-1]:
        out = out.setdefault(part, {})
    out[path[-1]] = value


def cast(value: Any, to: str) -> Any:
    """``value`` as a string, number, boolean or timestamp (ISO 8601); ValueError if it
    does not convert."""
    if to == "string":
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        return str(value).lower() if isinstance(value, bool) else str(value)
    if to == "number":
        return _number(value)
    if to == "boolean":
        return _boolean(value)
    return _timestamp(value)


def _bad(value: Any, to: str) -> ValueError:
    shown = repr(value if len(repr(value)) <= 60 else f"{str(value)[:57]}...")
    return ValueError(f"cannot cast {shown} to {to}")


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise _bad(value, "number")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        number = float(value)
    else:
        try:
            exact = Decimal(str(value).strip())
        except InvalidOperation:
            raise _bad(value, "number") from None
        if exact.is_finite() and exact == exact.to_integral_value() and "e" not in str(exact):
            return int(exact)
        number = float(exact)
    if not math.isfinite(number):
        raise _bad(value, "number")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise _bad(value, "boolean")


def _timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day).isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise _bad(value, "timestamp") from None
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise _bad(value, "timestamp") from None
    raise _bad(value, "timestamp")
