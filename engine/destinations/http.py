"""The ``http`` destination: a generic JSON-over-HTTP endpoint.

Destination settings: ``base_url``, ``headers``, ``timeout_seconds``, ``max_attempts``. A
header is a name and a value, or ``{value: ..., secret: true}`` to have its value redacted
like a credential (see :mod:`engine.secrets`). A base URL or header the client cannot use is
refused when the sync is loaded (:mod:`engine.destinations.http_checks`); credentials in the
URL (``https://user:password@host``) are sent as ``Authorization: Basic``.
Sync settings (under ``http:``): ``added``/``changed``/``removed`` requests
(``{method, path, headers, body}``, see :mod:`engine.destinations.http_requests`),
``batch_size``, ``concurrency``, ``rate_limit_per_second``, ``match_column`` (a unique
column addressing records: a NULL or duplicated value fails its rows before sending).

Contract: with ``batch_size: 1`` added and changed rows send the mapped fields as one JSON
object; with a larger batch, a JSON array of objects each also carrying ``"row_id"`` (the
path may then not use ``{row_id}``). ``removed`` sends no body under ``delete`` (a batch
sends an array of ``{"row_id": ...}``); under ``clear`` it sends the ``changed`` request
with every mapped field null. ``{row_id}`` in a path is URL-encoded (every UTF-8 byte
outside ``A-Z a-z 0-9 - . _ ~`` as ``%XX``) and sent exactly so. Under mode ``update``
every row is sent as an update: added rows use the ``changed`` request (a row the endpoint
cannot match fails and is retried next run).

Failures: 429, 5xx, timeouts and connection errors are retried (see
:mod:`engine.destinations.http_client`); 401/403 end the run (rows not attempted are
aborted); any other 4xx fails the row with the status and body. A failed batch is halved
and each half resent until the failing rows are isolated, unless the failure cannot be
about its rows (a redirect, 405, or a 404 of a request that creates or replaces): every row
of the batch then fails with it, and the runner ends a run whose first rows all fail so.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.config import DestinationConfig, SyncConfig
from engine.destinations.base import (
    Capabilities,
    DeltaRow,
    Destination,
    DestinationAuthError,
    DestinationConfigError,
    FatalDestinationError,
    Outcome,
    RunContext,
)
from engine.destinations.http_checks import (
    check_base_url,
    check_credentials_once,
    check_headers,
)
from engine.destinations.http_client import (
    HttpSender,
    RetryPolicy,
    Sent,
    Unreachable,
    describe_failure,
    shared_cause,
)
from engine.destinations.http_requests import (
    HttpSyncSettings,
    RequestFailed,
    RequestRenderer,
    RequestSpec,
    check_trigger_use,
    templated_requests,
)
from engine.destinations.json_encoding import dumps
from engine.secrets import mask_userinfo

AUTH_STATUS = frozenset({401, 403})


class SecretHeader(BaseModel):
    """A header value written ``{value: ..., secret: true}`` (redacted like a credential)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str
    secret: bool = True


class HttpDestinationSettings(BaseModel):
    """The destination's own settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str
    headers: dict[str, str | SecretHeader] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=20)

    def header_values(self) -> dict[str, str]:
        """The headers as sent: name -> value."""
        return {
            name: value.value if isinstance(value, SecretHeader) else value
            for name, value in self.headers.items()
        }


def with_basic_auth(base_url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Credentials in the URL (``https://user:password@host``) as the ``Authorization: Basic``
    header they stand for, and the URL without them (the transport takes only the header)."""
    parts = urlsplit(base_url)
    if not (parts.username or parts.password):
        return base_url, headers
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    credential = base64.b64encode(f"{user}:{password}".encode()).decode()
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host)), {
        **headers,
        "Authorization": f"Basic {credential}",
    }


def _settings_error(error: ValidationError, where: str) -> DestinationConfigError:
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        parts.append(f"{where}.{loc}: {message}" if loc else f"{where}: {message}")
    return DestinationConfigError("; ".join(parts))


class HttpDestination(Destination):
    """Generic JSON-over-HTTP destination (see module doc)."""

    type_name = "http"
    capabilities = Capabilities(
        modes=frozenset({"insert", "update", "upsert", "mirror", "all"}),
        delete_behaviors=frozenset({"do_nothing", "clear", "delete"}),
        default_batch_size=1,
        max_batch_size=10_000,
        default_concurrency=8,
        json_payload=True,
    )

    def __init__(
        self, config: DestinationConfig, sync: SyncConfig, sync_name: str, project_dir: Path
    ):
        super().__init__(config, sync, sync_name, project_dir)
        try:
            self.settings = HttpDestinationSettings.model_validate(config.settings())
        except ValidationError as error:
            raise _settings_error(error, f"destinations.{sync.destination}") from None
        where = f"destinations.{sync.destination}"
        check_base_url(self.settings.base_url, f"{where}.base_url")
        check_headers(self.settings.header_values(), f"{where}.headers")
        check_credentials_once(
            self.settings.base_url, self.settings.header_values(), f"{where}.base_url"
        )
        try:
            self.sync_settings = HttpSyncSettings.model_validate(sync.extra_settings("http"))
        except ValidationError as error:
            raise _settings_error(error, f"syncs.{sync_name}.http") from error
        self._check_requests(sync_name)
        check_trigger_use(self.sync_settings, sync, sync_name)
        match = self.sync_settings.match_column
        self._renderers = {
            op: RequestRenderer(op, spec, match) for op, spec in self.sync_settings.specs().items()
        }
        self._sender: HttpSender | None = None
        self._context: RunContext | None = None

    def _check_requests(self, sync_name: str) -> None:
        needed = ["changed"] if self.sync.mode == "update" else ["added", "changed"]
        if self.sync.mode == "mirror" and self.sync.delete_behavior == "delete":
            needed.append("removed")
        for op in needed:
            if getattr(self.sync_settings, op) is None:
                raise DestinationConfigError(
                    f"syncs.{sync_name}.http.{op}: missing. Fix: add "
                    f'{op}: {{method: PUT, path: "/records/{{row_id}}"}} (a method and a path).'
                )
        if self.sync_settings.batch_size > 1:
            for index, mapping in enumerate(self.sync.mappings):
                if mapping.to == "row_id":
                    raise DestinationConfigError(
                        f"syncs.{sync_name}.mappings[{index}].to: 'row_id' is reserved when "
                        "http.batch_size > 1 (each item of a batch carries its key as row_id). "
                        "Fix: map it to another field name, or set batch_size: 1."
                    )

    def batch_size(self) -> int:
        return self.sync_settings.batch_size

    def match_column(self) -> str | None:
        return self.sync_settings.match_column

    def source_columns(self) -> list[tuple[str, str]]:
        where = f"syncs.{self.sync_name}.http"
        columns = [
            (f"{where}.{op}.{part}", column)
            for op, spec in self.sync_settings.specs().items()
            for part, column in spec.columns()
        ]
        if self.sync_settings.match_column is not None:
            columns.append((f"{where}.match_column", self.sync_settings.match_column))
        return columns

    def sent_settings(self) -> dict[str, Any]:
        return templated_requests(self.sync_settings)

    def changed_fields_problem(self) -> str | None:
        where = f"syncs.{self.sync_name}.http.changed"
        changed = self.sync_settings.changed
        if changed is None:
            return f"{where} is missing. Fix: add changed: {{method: PATCH, path: ...}}."
        if changed.method != "PATCH":
            return (
                f"{where}.method is {changed.method}, which replaces the record (fields left "
                f"out would be lost). Fix: set {where}.method: PATCH if the endpoint merges "
                "fields, or remove send."
            )
        if changed.body is not None:
            return (
                f"{where}.body sends a column or template, not the mapped fields. Fix: remove "
                "the changed request's body, or remove send."
            )
        return None

    def check_row(self, row: DeltaRow) -> str | None:
        if row.op_type == "removed" or self._context is None:
            return None
        match = self.sync_settings.match_column
        if match is not None and row.model_row.get(match) is None:
            return f"match column {match!r} is empty (NULL): the row cannot be addressed"
        op, spec, _ = self._request_for(row)
        if spec.body is None or spec.body.column is None:
            return None
        try:
            self._renderers[op].body([row], {}, batch=False)
        except RequestFailed as failed:
            return str(failed)
        return None

    def concurrency(self) -> int:
        return self.sync_settings.concurrency

    def rate_limit_per_second(self) -> float | None:
        return self.sync_settings.rate_limit_per_second

    async def open(self, context: RunContext) -> None:
        self._context = context
        base_url, headers = with_basic_auth(self.settings.base_url, self.settings.header_values())
        self._sender = HttpSender(
            base_url=base_url,
            headers=headers,
            concurrency=self.concurrency(),
            rate_limit_per_second=self.sync_settings.rate_limit_per_second,
            timeout_seconds=self.settings.timeout_seconds,
            retry=RetryPolicy(max_attempts=self.settings.max_attempts),
        )

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.close()
            self._sender = None

    # -- building requests ------------------------------------------------------------------
    def _request_for(self, row: DeltaRow) -> tuple[str, RequestSpec, bool]:
        """The trigger whose request a row's op sends, its spec, and whether it carries the
        mapped fields."""
        assert self._context is not None
        if row.op_type == "removed":
            clear = self._context.delete_behavior == "clear"
            op = "changed" if clear else "removed"
        else:
            as_added = row.op_type == "added" and self._context.mode != "update"
            op, clear = ("added" if as_added else "changed"), True
        spec = getattr(self.sync_settings, op)
        assert spec is not None
        return op, spec, clear

    def _context_for(self, op_type: str) -> dict[str, Any]:
        assert self._context is not None
        return {**self._context.variables, "operation": op_type}

    def _payload(self, row: DeltaRow) -> bytes:
        """The mapped fields as a JSON object (every one null for a cleared removal)."""
        assert self._context is not None
        if row.op_type == "removed":
            return dumps(self._context.cleared_fields())
        return row.payload if row.payload is not None else dumps(row.fields)

    def _item(self, row: DeltaRow, with_body: bool) -> bytes:
        """One element of a batch's array: the payload with ``"row_id"`` added."""
        row_id = orjson.dumps(row.row_id)  # always text
        if not with_body:
            return b'{"row_id":%s}' % row_id
        payload = self._payload(row)
        if payload == b"{}":
            return b'{"row_id":%s}' % row_id
        return b'%s,"row_id":%s}' % (payload[:-1], row_id)

    # -- delivery ---------------------------------------------------------------------------
    async def deliver(self, rows: list[DeltaRow]) -> list[Outcome]:
        # A batch holds one op (the runner streams the delta ordered by op).
        if len(rows) == 1 or self.sync_settings.batch_size == 1:
            results = [await self._send_one(row) for row in rows]
            return results
        return await self._send_batch(rows)

    async def _send_one(self, row: DeltaRow) -> Outcome:
        assert self._sender is not None
        op, spec, with_body = self._request_for(row)
        renderer, context = self._renderers[op], self._context_for(row.op_type)
        batched = self.sync_settings.batch_size > 1  # a row isolated from a batch: an array
        try:
            path = renderer.path(row, context)
            headers = renderer.headers(row, context)
            body = renderer.body([row], context, batch=batched)
        except RequestFailed as failed:
            return Outcome(row.row_id, False, str(failed))
        if body is None and batched:
            body = b"[" + self._item(row, with_body) + b"]"
        elif body is None:
            body = self._payload(row) if with_body else None
        result = await self._sender.send(spec.method, path, body, headers)
        return self._outcome(row, spec, path, result)

    async def _send_batch(self, rows: list[DeltaRow]) -> list[Outcome]:
        assert self._sender is not None
        op, spec, with_body = self._request_for(rows[0])
        renderer, context = self._renderers[op], self._context_for(rows[0].op_type)
        try:
            path = renderer.path(None, context)
            headers = renderer.headers(None, context)
            body = renderer.body(rows, context, batch=True)
        except RequestFailed as failed:
            return [Outcome(row.row_id, False, str(failed)) for row in rows]
        if body is None:
            body = b"[" + b",".join([self._item(row, with_body) for row in rows]) + b"]"
        result = await self._sender.send(spec.method, path, body, headers)
        if isinstance(result, Sent) and result.response.is_success:
            return [Outcome(row.row_id, True) for row in rows]
        self._raise_on_auth(result)
        cause = shared_cause(result, path, self._not_found_is_row(rows[0], spec))
        if cause is None and isinstance(result, Sent) and 400 <= result.response.status_code < 500:
            # A client error may come from one row: halve until the bad rows are isolated.
            middle = len(rows) // 2
            first = await self._send_batch_or_one(rows[:middle])
            try:
                second = await self._send_batch_or_one(rows[middle:])
            except FatalDestinationError as error:
                error.outcomes = first + error.outcomes  # the first half did arrive
                raise
            return first + second
        reason = describe_failure(result)
        return [Outcome(row.row_id, False, reason, cause) for row in rows]

    async def _send_batch_or_one(self, rows: list[DeltaRow]) -> list[Outcome]:
        if len(rows) == 1:
            return [await self._send_one(rows[0])]
        return await self._send_batch(rows)

    def _raise_on_auth(self, result: Sent | Unreachable) -> None:
        if isinstance(result, Sent) and result.response.status_code in AUTH_STATUS:
            endpoint = mask_userinfo(self.settings.base_url)
            raise DestinationAuthError(
                f"The HTTP endpoint {endpoint} rejected the credentials "
                f"({describe_failure(result)}). Fix: check the headers under "
                f"destinations.{self.sync.destination} (e.g. a token in ${{API_TOKEN}}) and "
                "run again; rows not yet sent were recorded as aborted and will be retried."
            )

    def _not_found_is_row(self, row: DeltaRow, spec: RequestSpec) -> bool:
        """Whether a 404 may mean this row's record is missing (so is about the row): the
        request addresses an existing record (PATCH, DELETE, GET, mode update, a removal).
        A POST or PUT that creates or replaces cannot miss a record: its 404 is the route's."""
        assert self._context is not None
        return (
            spec.method in ("PATCH", "DELETE", "GET")
            or self._context.mode == "update"
            or row.op_type == "removed"
        )

    def _outcome(
        self, row: DeltaRow, spec: RequestSpec, path: str, result: Sent | Unreachable
    ) -> Outcome:
        if isinstance(result, Sent) and result.response.is_success:
            return Outcome(row.row_id, True)
        self._raise_on_auth(result)
        cause = shared_cause(result, path, self._not_found_is_row(row, spec))
        return Outcome(row.row_id, False, describe_failure(result), cause)
