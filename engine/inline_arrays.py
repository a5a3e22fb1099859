"""Inline arrays: a destination field that is an array of objects, built from a model column
holding an array of objects (a native array of structs, a JSON array, or text holding one),
each element mapped by the mapping's ``fields`` (Hightouch's inline mapper).

The array has one object per element, in order. A field reading a property the element
lacks is left out of that object (as Hightouch does); a NULL property is sent as null unless
the field has ``skip_nulls``. A value that is not an array, an element that is not an
object, or a property that does not cast fails the row, with the element named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as AnyMapping
from collections.abc import Sequence
from typing import Any

from engine.mapping_config import ElementMapping
from engine.value_casts import cast, put

_MISSING = object()


def inline_array(
    value: Any, fields: Sequence[ElementMapping], context: dict[str, Any], where: str
) -> list[dict[str, Any]]:
    """The mapped array of ``value`` (not None); ``where`` names the value in errors, e.g.
    ``column 'items'``. ValueError (the row's reason) when it cannot be built."""
    out: list[dict[str, Any]] = []
    for position, element in enumerate(_elements(value, where)):
        at = f"{where}[{position}]"
        if not isinstance(element, AnyMapping):
            raise ValueError(f"{at} is {_type_name(element)}, not an object")
        mapped: dict[str, Any] = {}
        for field in fields:
            item = _field_value(field, element, context, at)
            if item is _MISSING:
                continue
            if field.cast is not None and item is not None:
                try:
                    item = cast(item, field.cast)
                except ValueError as error:
                    raise ValueError(f"{at}.{field.from_}: {error}") from None
            put(mapped, field.to.split("."), item)
        out.append(mapped)
    return out


def _field_value(
    field: ElementMapping, element: AnyMapping[str, Any], context: dict[str, Any], at: str
) -> Any:
    kind = field.kind
    if kind == "static":
        return field.static
    if kind == "variable":
        return context[str(field.variable)]
    read = _property(element, str(field.from_ if kind == "property" else field.array))
    if read is _MISSING or (read is None and field.skip_nulls):
        return _MISSING
    if kind == "array" and read is not None:
        return inline_array(read, field.fields or [], context, f"{at}.{field.array}")
    return read


def _property(element: AnyMapping[str, Any], path: str) -> Any:
    """``a.b`` of an element: _MISSING when a step is absent (or not an object)."""
    value: Any = element
    for part in path.split("."):
        if not isinstance(value, AnyMapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _elements(value: Any, where: str) -> Sequence[Any]:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):  # JSON, or text holding JSON
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{where} holds text that is not JSON") from None
    if isinstance(value, AnyMapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"{where} holds {_type_name(value)}, not an array of objects")
    return value


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, AnyMapping):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"
