"""Secrets never leave the process: which values are secret, and one function that hides them.

Secret values are found when the project file is loaded (:func:`find_secrets`, plus the
values :mod:`engine.config` substituted from ``${ENV}``), in the ``sources``,
``destinations`` and ``syncs`` sections:

- every value substituted from ``${ENV}``;
- the user and the password of a URL (``https://user:password@host``), and the value of
  ``password=...`` (any name below) in a query string or a ``key=value`` connection string;
- the value of a setting, header or URL query parameter whose name says it carries a
  credential (:func:`is_auth_name`: ``Authorization``, ``X-Api-Key``, ``access_token``,
  ``password``, ``cookie``, ``key``, ...); for ``Bearer x`` or ``Basic x`` also the credential
  alone, and what a ``Basic`` credential decodes to;
- a header marked secret in the project file: ``X-Custom: {value: "...", secret: true}``.

:meth:`Redactor.redact` replaces each of them with :data:`MARKER` in any text, also as it
appears when a server echoes a request back: percent-encoded (either hex case, whole or in
part, twice), ``+`` for a space, JSON- or HTML-escaped, base64 (as in a ``Basic`` header,
also of ``user:password``), and cut short at the end of a truncated text. Values shorter
than :data:`MIN_SECRET_LENGTH` characters are not hidden: they would mask unrelated text and
hide nothing worth hiding. The engine applies it wherever text leaves the process or is
stored: failure reasons, run errors, raised exceptions and everything the CLI prints.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MARKER = "[REDACTED]"
MIN_SECRET_LENGTH = 4
MIN_CLUE_LENGTH = 3

#: Header, parameter and setting names that carry a credential, besides those matched by
#: :data:`_AUTH_WORDS` (compared lower-case, ``-`` read as ``_``).
AUTH_NAMES = frozenset({"authorization", "proxy_authorization", "key", "sig", "code"})
_AUTH_WORDS = re.compile(
    r"token|secret|passw|passphrase|pwd|api_?key|auth(?!or)|cookie|session|credential"
    r"|signature|private_?key|access_?key"
)
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_AUTH_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_-]*)\s+(\S+)\s*$")
_KEY_VALUE = re.compile(r"""(?:^|[\s;&?])([A-Za-z_][\w-]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s;&]+)""")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_USERINFO = re.compile(r"(://)[^/?#]*@")
_RAW_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)@")
_CLOSING = {")": "(", "]": "["}


def _before_truncation_notes(text: str) -> int:
    """Where a truncated text's own end is: before what may follow a cut, notes such as
    "(after 3 attempts)" and then an ellipsis."""
    end = len(text.rstrip())
    while end and text[end - 1] in _CLOSING:
        start = text.rfind(_CLOSING[text[end - 1]], 0, end - 1)
        if start == -1:
            break
        end = len(text[:start].rstrip())
    for ellipsis in ("...", "\u2026"):
        if text.startswith(ellipsis, end - len(ellipsis)):
            return end - len(ellipsis)
    return end


def is_auth_name(name: str) -> bool:
    """Whether a header, parameter or setting of this name carries a credential."""
    normalized = name.strip().lower().replace("-", "_")
    return normalized in AUTH_NAMES or bool(_AUTH_WORDS.search(normalized))


def mask_userinfo(url: str) -> str:
    """A URL with its ``user:password@`` part replaced by the marker (for messages)."""
    return _USERINFO.sub(rf"\1{MARKER}@", url)


def _credential_parts(value: str) -> set[str]:
    """A credential header value, and its parts: ``Bearer x`` -> x; ``Basic b64`` -> the
    decoded ``user:password``, user and password."""
    found = {value}
    match = _AUTH_SCHEME.match(value)
    if match:
        scheme, credential = match.groups()
        found.add(credential)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            if decoded:
                user, _, password = decoded.partition(":")
                found |= {decoded, user, password}
    return found


def secrets_in_text(text: str) -> set[str]:
    """Credentials inside a setting's text: URL userinfo and auth query parameters, and
    ``password=...`` pairs of a connection string."""
    found: set[str] = set()
    for url in _URL.findall(text):
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is not None:
            user, password = parts.username, parts.password
            if user or password:
                for raw in (user or "", password or ""):
                    found |= {raw, unquote(raw)}
                found.add(f"{unquote(user or '')}:{unquote(password or '')}")
            for name, value in parse_qsl(parts.query, keep_blank_values=True):
                if is_auth_name(name):
                    found.add(value)
    # Userinfo as written, also where it breaks the URL syntax (an unencoded "@" or space).
    for userinfo in _RAW_USERINFO.findall(text):
        user, _, password = userinfo.partition(":")
        found |= {user, password, unquote(user), unquote(password)}
    for name, value in _KEY_VALUE.findall(text):
        if is_auth_name(name):
            found |= {value, value.strip("'"), unquote(value)}
    return found


def find_secrets(settings: Any, name: str = "") -> set[str]:
    """The secret values in a tree of settings (see module doc)."""
    found: set[str] = set()
    if isinstance(settings, dict):
        if settings.get("secret") is True and isinstance(settings.get("value"), str):
            found |= _credential_parts(settings["value"])
        for key, value in settings.items():
            found |= find_secrets(value, str(key))
    elif isinstance(settings, list):
        for item in settings:
            found |= find_secrets(item, name)
    elif isinstance(settings, (str, int, float)) and not isinstance(settings, bool):
        text = str(settings)
        if name and is_auth_name(name):
            found |= _credential_parts(text)
        found |= secrets_in_text(text)
    return found


def _hex_pattern(digits: str) -> str:
    """Hex digits in either case."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in digits)


def _char_pattern(char: str) -> str:
    """A character, or any of the forms an echo may turn it into."""
    forms = {re.escape(char), re.escape(json.dumps(char)[1:-1]), re.escape(html.escape(char))}
    encoded = char.encode()
    for prefix in ("%", "%25"):  # percent-encoded, also twice
        forms.add("".join(prefix + _hex_pattern(f"{byte:02x}") for byte in encoded))
    if 0x7F < ord(char) <= 0xFFFF:
        forms.add(r"\\u" + _hex_pattern(f"{ord(char):04x}"))
    if char == " ":
        forms.add(r"\+")
    if char == "/":
        forms.add(r"\\/")
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


def _base64_forms(value: str) -> set[str]:
    raw = value.encode()
    forms = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return forms | {form.rstrip("=") for form in forms}


class Redactor:
    """Replaces a run's secret values with :data:`MARKER` in any text (see module doc)."""

    def __init__(self, secrets: Iterable[str] = ()):
        values = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
        self.secrets = frozenset(values)
        patterns: list[tuple[int, str]] = []
        self._literal_forms: list[str] = []
        # Per secret, what any of its forms contains (its longest run of letters and digits,
        # which no encoding but percent-encoding and base64 changes), or None: a text that
        # holds none of them is left as it is without running the pattern over it.
        self._clues: list[tuple[str | None, frozenset[str]]] = []
        for value in values:
            run = max(_ALNUM_RUN.findall(value), key=len, default="")
            clue = run if len(run) >= MIN_CLUE_LENGTH else None
            self._clues.append((clue, frozenset(_base64_forms(value))))
            patterns.append((len(value), "".join(_char_pattern(c) for c in value)))
            literals = {value, quote(value, safe=""), quote(value), quote_plus(value)}
            literals |= {json.dumps(value)[1:-1]} | _base64_forms(value)
            for literal in literals:
                if len(literal) >= MIN_SECRET_LENGTH:
                    patterns.append((len(literal), re.escape(literal)))
            self._literal_forms += sorted(literals, key=len, reverse=True)
        patterns.sort(key=lambda item: item[0], reverse=True)  # the longest form first
        self._pattern = re.compile("|".join(p for _, p in patterns)) if patterns else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        """The text with every secret (in any form listed in the module doc) replaced."""
        if self._pattern is None or not text:
            return text
        if self._may_hold_a_secret(text):
            text = self._pattern.sub(MARKER, text)
        return self._redact_truncated_tail(text)

    def _may_hold_a_secret(self, text: str) -> bool:
        decoded = unquote(unquote(text)) if "%" in text else text
        for clue, encoded in self._clues:
            if clue is None or clue in text or clue in decoded:
                return True
            if any(form in text for form in encoded):
                return True
        return False

    def _redact_truncated_tail(self, text: str) -> str:
        """A secret cut short by a truncation at the end of the text (before an ellipsis)."""
        end = _before_truncation_notes(text)
        head = text[:end]
        last = head[-MIN_SECRET_LENGTH:]
        if len(last) < MIN_SECRET_LENGTH:
            return text
        for form in self._literal_forms:  # the longest first
            # Where the text's last characters occur in the form, the text may end with the
            # form's start up to there.
            at = form.find(last)
            while at != -1:
                size = at + MIN_SECRET_LENGTH
                if size < len(form) and head.endswith(form[:size]):
                    return head[:-size] + MARKER + text[end:]
                at = form.find(last, at + 1)
        return text

    def redact_any(self, value: Any) -> Any:
        """``redact`` applied to every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_any(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact_any(v) for v in value)
        return value

    def scrub(self, error: BaseException) -> BaseException:
        """Redact the text arguments of an exception and of the ones it was raised from (its
        message, for exceptions whose message is their arguments, as the engine's are)."""
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen and self:
            seen.add(id(current))
            try:
                current.args = tuple(self.redact_any(arg) for arg in current.args)
            except (AttributeError, TypeError):  # pragma: no cover - exotic exceptions
                pass
            current = current.__cause__ or current.__context__
        return error

    @contextmanager
    def scrubbing(self) -> Iterator[None]:
        """Any exception leaving the block has its secrets redacted (see :meth:`scrub`)."""
        try:
            yield
        except BaseException as error:
            self.scrub(error)
            raise


def no_secrets() -> Redactor:
    """A redactor that knows no secret (changes nothing)."""
    return Redactor()
