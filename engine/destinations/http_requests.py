"""The requests of the ``http`` destination, per trigger (``added``, ``changed``,
``removed``): the settings, the model columns their templates read, and their rendering.

A request is a ``method``, a ``path`` and ``headers`` (Liquid templates over ``row`` and
``context``) and a ``body``: the mapped fields (no ``body`` key), one JSON column of the model
(``body: {column: payload}``) or a Liquid JSON template (``body: {template: ...}``, with
``rows`` in place of ``row`` when batching; trailing commas before ``]`` or ``}`` are
stripped). In a path every value a template reads is percent-encoded (every UTF-8 byte
outside ``A-Z a-z 0-9 - . _ ~``), so ``{{ row.email }}`` sends ``a%40b.com``; ``{row_id}``
is the key, encoded the same way. A template that fails for a row (it raises, hits a bound,
renders a header HTTP cannot carry or a body that is not JSON) fails that row, with the
template and the reason; in a batch, a body that fails fails the batch's rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.config import SyncConfig
from engine.destinations.base import DeltaRow, DestinationConfigError
from engine.destinations.http_checks import check_header, check_header_value
from engine.destinations.json_encoding import dumps
from engine.templates import (
    TemplateFailed,
    loop_columns,
    parse_error,
    parsed,
    render,
    row_columns,
)

OPS = ("added", "changed", "removed")


class RequestFailed(Exception):
    """A request template failed for a row or batch (the message is the rows' reason)."""


def _checked_template(source: str, what: str) -> str:
    problem = parse_error(source)
    if problem is not None:
        raise ValueError(f"{what} does not parse as a Liquid template: {problem}. Fix it.")
    return source


class BodySpec(BaseModel):
    """``body: {column: <model column>}`` or ``body: {template: <Liquid JSON>}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    column: str | None = None
    template: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> BodySpec:
        if (self.column is None) == (self.template is None):
            raise ValueError(
                "give exactly one of column or template. Fix: body: {column: <a JSON column>} "
                "or body: {template: '{\"email\": {{ row.email | json }}}'}; leave body out "
                "to send the mapped fields."
            )
        if self.template is not None:
            _checked_template(self.template, "body.template")
            if loop_columns(self.template) is None:
                raise ValueError(
                    "body.template reads a row whole, by a computed name, or rows other than "
                    "in {% for row in rows %}. Fix: name each column, as row.<column>."
                )
        return self


class RequestSpec(BaseModel):
    """One trigger's request (see module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "PUT"
    path: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: BodySpec | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _row_template(value, "path")

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            try:
                check_header(name, "x", f"headers.{name}")
            except DestinationConfigError as error:
                raise ValueError(str(error).split(": ", 1)[1]) from None
            _row_template(template, f"headers.{name}")
        return value

    def templates(self) -> list[tuple[str, str]]:
        """(part, template): the path, each header, and a body template."""
        parts = [("path", self.path), *((f"headers.{n}", t) for n, t in self.headers.items())]
        if self.body is not None and self.body.template is not None:
            parts.append(("body", self.body.template))
        return parts

    def columns(self) -> list[tuple[str, str]]:
        """(part, model column) its templates and body column read."""
        read = [
            (part, column)
            for part, template in self.templates()
            for column in (loop_columns(template) if part == "body" else row_columns(template))
            or []
        ]
        if self.body is not None and self.body.column is not None:
            read.append(("body.column", self.body.column))
        return read

    def reads_row(self) -> bool:
        """Whether the path or a header reads the row (then each row has its own URL)."""
        return any(row_columns(t) for part, t in self.templates() if part != "body")


def _row_template(source: str, what: str) -> str:
    _checked_template(source, what)
    if row_columns(source) is None:
        raise ValueError(
            f"{what} reads the row whole or by a computed name. Fix: name each column, as "
            "{{ row.<column> }}."
        )
    return source


class HttpSyncSettings(BaseModel):
    """The ``http:`` block of a sync."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    added: RequestSpec | None = None
    changed: RequestSpec | None = None
    removed: RequestSpec | None = None
    batch_size: int = Field(default=1, ge=1, le=10_000)
    concurrency: int = Field(default=8, ge=1, le=256)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    match_column: str | None = None

    def specs(self) -> dict[str, RequestSpec]:
        """The triggers given, by name."""
        return {op: spec for op in OPS if (spec := getattr(self, op)) is not None}


def spec_globals(source: str) -> set[str]:
    """The variables a template reads that it does not define itself."""
    return set(parsed(source).analyze(include_partials=False).globals)


def strip_trailing_commas(text: str) -> str:
    """``text`` without a comma that only whitespace separates from a ``]`` or ``}``
    (outside JSON strings), as a loop that writes ``},`` after every item leaves."""
    out: list[str] = []
    in_string = escaped = False
    pending: int | None = None  # index in out of a comma that may be trailing
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char in "]}" and pending is not None:
            del out[pending]
        if not char.isspace():
            pending = None
        if char == ",":
            pending = len(out)
        elif char == '"':
            in_string = True
        out.append(char)
    return "".join(out)


def _path_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, Decimal, dict, list)):
        return value
    return quote(str(value), safe="")


class RequestRenderer:
    """Renders one trigger's path, headers and body for a row or a batch."""

    def __init__(self, op: str, spec: RequestSpec, match_column: str | None):
        self.op = op
        self.spec = spec
        self.match_column = match_column

    def _fail(self, part: str, reason: str) -> RequestFailed:
        return RequestFailed(f"http.{self.op}.{part} template failed: {reason}")

    def row_values(self, row: DeltaRow) -> dict[str, Any]:
        """What ``row`` holds: the columns read (a removal: only its match column)."""
        if row.op_type == "removed":
            if self.match_column is None or row.match_value is None:
                return {}
            return {self.match_column: row.match_value}
        return row.model_row

    def _render(
        self,
        part: str,
        template: str,
        row: dict[str, Any],
        context: dict[str, Any],
        removed: bool = False,
        **more: Any,
    ) -> str:
        if removed:
            missing = [c for c in loop_columns(template) or [] if c not in row]
            if missing:
                raise self._fail(
                    part,
                    f"row.{missing[0]} is unknown for a removed row (it carries only its key, "
                    "as {row_id}, and its match column)",
                )
        try:
            return render(template, row, context, body=part == "body", **more)
        except TemplateFailed as error:
            raise self._fail(part, str(error)) from None

    def path(self, row: DeltaRow | None, context: dict[str, Any]) -> str:
        """The path (a batch: ``row`` is None; the path reads no row then)."""
        values = {} if row is None else self.row_values(row)
        encoded = {name: _path_value(value) for name, value in values.items()}
        removed = row is not None and row.op_type == "removed"
        path = self._render("path", self.spec.path, encoded, context, removed)
        if row is not None:
            path = path.replace("{row_id}", quote(row.row_id, safe=""))
        return path

    def headers(self, row: DeltaRow | None, context: dict[str, Any]) -> dict[str, str]:
        """The request's own headers, rendered (added to the destination's)."""
        values = {} if row is None else self.row_values(row)
        removed = row is not None and row.op_type == "removed"
        out: dict[str, str] = {}
        for name, template in self.spec.headers.items():
            part = f"headers.{name}"
            value = self._render(part, template, values, context, removed).strip()
            try:
                check_header_value(value, name)
            except DestinationConfigError as error:
                reason = str(error).split(": ", 1)[1].split(" Fix:")[0].removeprefix("the ")
                raise self._fail(part, f"the rendered {reason}") from None
            out[name] = value
        return out

    def body(self, rows: list[DeltaRow], context: dict[str, Any], batch: bool) -> bytes | None:
        """The body from a column or a template, or None (the mapped fields are sent)."""
        body = self.spec.body
        if body is None:
            return None
        if body.column is not None:
            values = [self._column_json(row, body.column) for row in rows]
            return b"[" + b",".join(values) + b"]" if batch else values[0]
        assert body.template is not None
        if batch:
            text = self._render(
                "body", body.template, {}, context, rows=[self.row_values(r) for r in rows]
            )
        else:
            removed = rows[0].op_type == "removed"
            values = self.row_values(rows[0])
            text = self._render("body", body.template, values, context, removed)
        text = strip_trailing_commas(text)
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise self._fail("body", f"it renders invalid JSON ({error})") from None
        return text.encode()

    def _column_json(self, row: DeltaRow, column: str) -> bytes:
        value = row.model_row.get(column)
        if value is None:
            raise RequestFailed(f"http.{self.op}.body.column: column {column!r} is NULL")
        if isinstance(value, (str, bytes)):
            try:
                orjson.loads(value)
            except orjson.JSONDecodeError as error:
                raise RequestFailed(
                    f"http.{self.op}.body.column: column {column!r} holds invalid JSON ({error})"
                ) from None
            return value.encode() if isinstance(value, str) else value
        return dumps(value)


def check_trigger_use(settings: HttpSyncSettings, sync: SyncConfig, sync_name: str) -> None:
    """Refuse what a removal cannot send: the engine keeps only a removed row's key and
    match column, so its request reads nothing else; a cleared removal sends the mapped
    fields as null, which a body column or template cannot."""
    where = f"syncs.{sync_name}.http"
    if settings.batch_size > 1:
        _check_batch_requests(settings, where)
    removal_ops = []
    if sync.mode == "mirror" and sync.delete_behavior == "delete":
        removal_ops.append("removed")
    if sync.mode == "mirror" and sync.delete_behavior == "clear":
        removal_ops.append("changed")
        changed = settings.changed
        if changed is not None and changed.body is not None:
            raise DestinationConfigError(
                f"{where}.changed.body: delete_behavior clear sends a removed row through the "
                "changed request with every mapped field null, which a body column or template "
                "cannot express. Fix: use delete_behavior: delete with a removed request, or "
                "send the mapped fields (no body)."
            )
    for op in removal_ops:
        spec = settings.specs().get(op)
        if spec is None:
            continue
        if op == "removed" and spec.body is not None and spec.body.column is not None:
            raise DestinationConfigError(
                f"{where}.removed.body.column: a removed row has no model values. Fix: use a "
                "body template reading only the match column, or no body."
            )
        if op != "removed":
            continue
        for part, column in spec.columns():
            if column != settings.match_column:
                raise DestinationConfigError(
                    f"{where}.removed.{part}: reads row.{column}, but a removed row carries "
                    "only its key ({row_id} in the path) and the match column. Fix: address "
                    f"the record by {{row_id}}, or set http.match_column: {column} (a unique "
                    "column)."
                )


def _check_batch_requests(settings: HttpSyncSettings, where: str) -> None:
    """A batch goes to one URL with one set of headers, and its body holds ``rows``."""
    for op, spec in settings.specs().items():
        if "{row_id}" in spec.path or spec.reads_row():
            raise DestinationConfigError(
                f"{where}.{op}: the path or a header reads the row ({{row_id}} or "
                f"row.<column>) but batch_size is {settings.batch_size}: a batch goes to one "
                "URL. Fix: address rows in the body, or set batch_size: 1."
            )
        body = spec.body
        if body is not None and body.template is not None and "row" in spec_globals(body.template):
            raise DestinationConfigError(
                f"{where}.{op}.body.template: reads row, but with batch_size "
                f"{settings.batch_size} a body holds a batch of rows. Fix: loop over them, "
                "{% for row in rows %}...{% endfor %}."
            )


def templated_requests(settings: HttpSyncSettings) -> dict[str, Any]:
    """The requests' templates and bodies (they shape what every row sends: a change
    re-sends every row); empty when no request is templated, as before templates."""
    requests = {
        op: spec.model_dump(exclude_defaults=True, exclude_none=True)
        for op, spec in settings.specs().items()
        if spec.headers or spec.body is not None or "{{" in spec.path or "{%" in spec.path
    }
    return {"requests": requests} if requests else {}
