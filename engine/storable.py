"""Text from outside the engine (a destination's answer, an exception's message) made
storable in any warehouse's text column, readable, and bounded.

A destination may answer anything: NUL bytes (PostgreSQL text cannot hold them), bytes that
are not UTF-8, terminal escape sequences, megabytes. Before such text is written to the
warehouse (``failure_reason`` in the rejections, changelog and snapshot, ``sync_runs.error``)
or printed, :func:`storable_text` rewrites it:

- bytes are decoded as UTF-8; each byte that is not part of valid UTF-8 becomes ``\\xNN``;
- control characters become escapes: ``\\x00``-``\\x1f`` (but tab and newline, kept as they
  are), ``\\x7f``-``\\x9f`` (DEL and the C1 controls), ``\\r`` as ``\\r``; a lone surrogate
  (not text in any encoding) becomes ``\\udXXX``;
- the result is cut to ``limit`` characters, ending in ``...`` when cut.

The escapes are for reading, not reversible: a backslash already in the text stays as is.
"""

from __future__ import annotations

import re

#: Characters no warehouse stores or no terminal shows as text (tab and newline excluded).
_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMED = {"\r": "\\r"}
ELLIPSIS = "..."


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def storable_text(value: str | bytes, limit: int) -> str:
    """``value`` with unstorable characters escaped, at most ``limit`` characters long."""
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    if len(text) > 4 * limit:  # escaping never shortens: drop what cannot be kept anyway
        text = text[: 4 * limit]
    text = _UNSTORABLE.sub(_escape, text)
    if len(text) > limit:
        text = text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS
    return text
