"""The payload the warehouse writes for a delivery, as few bytes as it can: the mapped values'
JSON texts joined by a separator, the field names written once, by Python.

A JSON object per row would repeat every field name in every row read out of the warehouse
(about 100 of the 250 bytes of a row of 8 fields). Here the warehouse sends
``v1 SEP v2 SEP ...`` (each ``v`` the value's JSON text, ``Dialect.json_text``; NULL as
``null``), and :class:`JoinedPayload` puts the names back in: ``{"name1":v1,"name2":v2}``,
the value texts untouched, byte for byte as the warehouse wrote them.

The separator is the control character U+001F: JSON writes every control character escaped
(``\\u001f``), so it never occurs inside a value's text, and a row splitting into any other
number of values than the object has fields is refused (:class:`JoinedPayloadError`), never
sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from dialects.base import Dialect
from engine.destinations.json_encoding import dumps

SEPARATOR = "\x1f"


class JoinedPayloadError(RuntimeError):
    """A row's joined values do not match the payload's fields (a value held the separator
    unescaped): nothing of the page is sent."""


def joined_values_sql(dialect: Dialect, values: Sequence[exp.Expr]) -> exp.Expr:
    """The query expression joining the payload's values (``Dialect.json_value`` forms, in
    field order) into one text: each value's JSON text (``null`` for NULL), separated by
    :data:`SEPARATOR`."""
    if not values:
        return exp.Literal.string("")
    parts: list[exp.Expr] = []
    for index, value in enumerate(values):
        if index:
            parts.append(exp.Literal.string(SEPARATOR))
        text = dialect.json_text(value)
        parts.append(exp.Coalesce(this=text, expressions=[exp.Literal.string("null")]))
    if len(parts) == 1:
        return parts[0]
    return exp.Concat(expressions=parts)


class JoinedPayload:
    """Turns the joined values of one sync's payload back into JSON objects."""

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        # '{"a":%s,"b":%s}' with any '%' of a name escaped: one formatting per row.
        members = [dumps(name).decode().replace("%", "%%") + ":%s" for name in self.names]
        self._template = "{" + ",".join(members) + "}"

    def objects(self, joined: Sequence[str]) -> list[bytes]:
        """The JSON object (UTF-8) of each row's joined values."""
        template, expected = self._template, len(self.names)
        if expected == 0:
            return [b"{}" for _ in joined]
        objects: list[bytes] = []
        for text in joined:
            values = text.split(SEPARATOR)
            if len(values) != expected:
                raise JoinedPayloadError(
                    f"the warehouse wrote {len(values)} values for a payload of {expected} "
                    f"fields ({', '.join(self.names)}): a value held the separator U+001F "
                    "unescaped. Nothing of this page was sent. Fix: report it with the "
                    "warehouse and the column types of these fields; meanwhile a non-plain "
                    "mapping of the column (a template or cast) is written by Python instead."
                )
            objects.append((template % tuple(values)).encode())
        return objects
