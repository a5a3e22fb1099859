"""Rows to Contentstack requests, the documented limits, and the APIs' errors as reasons.

Pure functions used by :mod:`engine.destinations.contentstack`: a row becomes a
:class:`Prepared` request (path, JSON body, extra headers) or a reason it cannot be sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, NamedTuple
from urllib.parse import quote

from dialects.base import JsonText
from engine.destinations.base import DeltaRow
from engine.destinations.contentstack_settings import AUDIENCES_FIELD, ContentstackSyncSettings
from engine.destinations.http_client import Sent, Unreachable, body_text, status_line
from engine.destinations.json_encoding import dumps

#: Data & Insights limits (contentstack.com/docs/data-and-insights-lytics/limitations).
IDENTIFIER_LIMIT_BYTES = 256
RECORD_LIMIT_BYTES = 4 * 1024
ATTRIBUTE_VALUES_LIMIT = 1000
EDGE_PATH = "/user-attributes"
USER_UID_HEADER = "x-cs-personalize-user-uid"
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")


class Prepared(NamedTuple):
    """One row's request: path (relative to the API base), JSON body, extra headers."""

    path: str
    body: bytes
    headers: dict[str, str]


def hash_email(value: str) -> str:
    """The ``email_sha256`` identifier: SHA-256 (lower-case hex) of the trimmed, lower-cased
    email; a value that already is 64 hex digits is returned lower-cased."""
    text = value.strip()
    if _SHA256_HEX.match(text):
        return text.lower()
    return hashlib.sha256(text.lower().encode()).hexdigest()


def count_values(attributes: dict[str, Any]) -> int:
    """Attribute values as the profile limit counts them (one per list or map element)."""
    return sum(max(len(v), 1) if isinstance(v, list | dict) else 1 for v in attributes.values())


def match_value(row: DeltaRow, settings: ContentstackSyncSettings) -> str | None:
    """The row's match column as text, or None when it is NULL or blank."""
    value = row.model_row.get(settings.match.from_)
    if value is None or not str(value).strip():
        return None
    return str(value)


def audiences(row: DeltaRow, settings: ContentstackSyncSettings) -> list[str] | str | None:
    """The row's audience IDs (None: send none), or a reason the column is unusable.

    A column may hold a list, a JSON array as text, or comma-separated text; duplicates are
    dropped, order kept.
    """
    spec = settings.audiences
    if spec is None or isinstance(spec, list):
        return spec
    value = row.model_row.get(spec.from_)
    if value is None:
        return None
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text) if text.strip() else []
        except ValueError:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or any(isinstance(v, dict | list) for v in value):
        return (
            f"audiences column {spec.from_!r} holds {type(value).__name__} "
            f"{str(value)[:80]!r}, not a list of audience IDs"
        )
    return list(dict.fromkeys(str(v) for v in value if v is not None))


def prepare_user(row: DeltaRow, settings: ContentstackSyncSettings) -> Prepared | str:
    """The Data Activation Layer request for a row, or why it is not sent."""
    key = settings.match.to
    value = match_value(row, settings)
    if value is None:
        return (
            f"match column {settings.match.from_!r} is empty: the row cannot be addressed by {key}"
        )
    if key == "email":
        value = value.strip().lower()
    elif key == "email_sha256":
        value = hash_email(value)
    body = dict(row.fields)
    listed = audiences(row, settings)
    if isinstance(listed, str):
        return listed
    if listed is not None:
        body[AUDIENCES_FIELD] = listed
    problems = []
    size = len(value.encode())
    if size > IDENTIFIER_LIMIT_BYTES:
        problems.append(
            f"the identifier ({key}) is {size} bytes, over Contentstack's limit of "
            f"{IDENTIFIER_LIMIT_BYTES} bytes per identifier value"
        )
    values = count_values(body)
    if values > ATTRIBUTE_VALUES_LIMIT:
        problems.append(
            f"the record has {values:,} attribute values, over the limit of "
            f"{ATTRIBUTE_VALUES_LIMIT:,} per profile"
        )
    try:
        payload = dumps(body)
    except (TypeError, ValueError) as error:
        return f"a mapped value cannot be sent as JSON: {error}"
    if len(payload) > RECORD_LIMIT_BYTES:
        problems.append(
            f"the record is {len(payload):,} bytes of JSON, over the limit of 4 KB "
            f"({RECORD_LIMIT_BYTES:,} bytes) per input record"
        )
    if problems:
        return "not sent: " + "; ".join(problems)
    return Prepared(f"/v2/attributes/user/{key}/{quote(value, safe='')}", payload, {})


def prepare_edge(row: DeltaRow, settings: ContentstackSyncSettings) -> Prepared | str:
    """The Personalize Edge request for a row, or why it is not sent."""
    column = settings.match.from_
    uid = match_value(row, settings)
    if uid is None:
        return f"match column {column!r} is empty: the row has no Personalize user UID"
    uid = uid.strip()
    if not _HEADER_SAFE.match(uid):
        return (
            f"the user UID in {column!r} ({uid[:80]!r}) has characters an HTTP header "
            "cannot carry (spaces, control or non-ASCII characters)"
        )
    nested = sorted(k for k, v in row.fields.items() if _nested(v))
    if nested:
        return (
            "not sent: Personalize user attributes are flat; these mapped values are lists "
            f"or objects: {', '.join(nested)}"
        )
    try:
        payload = dumps(row.fields)
    except (TypeError, ValueError) as error:
        return f"a mapped value cannot be sent as JSON: {error}"
    return Prepared(EDGE_PATH, payload, {USER_UID_HEADER: uid})


def _nested(value: Any) -> bool:
    """A list or object, also one a JSON column holds."""
    if isinstance(value, JsonText):
        return value.lstrip()[:1] in ("[", "{")
    return isinstance(value, dict | list | tuple)


def api_reason(result: Sent | Unreachable, limit: int = 500) -> str:
    """A failure_reason with the API's error code and message (any of the three shapes)."""
    if isinstance(result, Unreachable):
        return f"request failed after {result.attempts} attempt(s): {result.error}"
    suffix = f" (after {result.attempts} attempts)" if result.attempts > 1 else ""
    try:
        body = json.loads(result.body)
    except ValueError:  # not JSON, or cut at the kept length
        body = None
    parts: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):  # Data & Insights: [{"code", "message"}]
            parts = [
                ": ".join(str(e[k]) for k in ("code", "message") if e.get(k))
                for e in errors
                if isinstance(e, dict)
            ]
        message = body.get("error_message") or body.get("message")
        if message:  # Personalize: {"error_message", "error_code", "errors": {field: [...]}}
            code = body.get("code") or body.get("error_code")
            parts.append(f"{code}: {message}" if code else str(message))
            if isinstance(errors, dict):
                for field, problems in errors.items():
                    for problem in problems if isinstance(problems, list) else [problems]:
                        if isinstance(problem, dict):
                            text = f"{problem.get('message')} ({problem.get('code')})"
                        else:
                            text = str(problem)
                        parts.append(f"{field}: {text}")
    if not parts:
        text = body_text(result, limit)
        parts = [text] if text else []
    detail = "; ".join(p for p in parts if p)
    head = status_line(result)
    return f"{head}: {detail}{suffix}" if detail else f"{head}{suffix}"
