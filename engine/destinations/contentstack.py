"""The ``contentstack`` destination: users on the Data Activation Layer, or Personalize
attributes. Settings: :mod:`engine.destinations.contentstack_settings`; rows to requests,
limits and error reasons: :mod:`engine.destinations.contentstack_rows`.

``type: users`` (Data & Insights, also called Lytics; what Hightouch's destination does):
one ``PATCH`` (or ``PUT``) ``{api_base_url}/v2/attributes/user/{key}/{value}`` per row, with
``Authorization: <token>`` (no ``Bearer``), the identifier URL-encoded in the path and the
mapped attributes (plus ``external_audiences``) as a JSON object. ``key`` is ``external_id``,
``email`` (sent trimmed and lower-cased) or ``email_sha256`` (a plain email is trimmed,
lower-cased and hashed to lower-case hex SHA-256 here; a 64-hex-digit value is taken as
already hashed). Modes ``update`` and ``upsert`` send the same request: whether the API
creates a profile for an unknown identifier is the account's behaviour, not the request's;
where it answers 404 ``NOTFOUND-003`` instead, the row fails with that reason and is
retried next run.

``type: attributes`` (Personalize): before streaming, ``GET /attributes`` once on the
Management API and ``POST /attributes`` once per mapped attribute the project lacks (at most
``management_rate_limit_per_second``, 10 by default: the documented limit per organization);
then one Edge ``PATCH /user-attributes`` per row with ``x-project-uid`` and
``x-cs-personalize-user-uid`` (the match column). Mode ``upsert`` only: the Edge API creates
or updates a user's attributes and has no update-only write.

Neither API removes users here: modes ``mirror``, ``insert`` and ``all`` are refused.

Failures: 429, 5xx, timeouts and connection errors are retried by
:class:`~engine.destinations.http_client.HttpSender` (backoff, ``Retry-After`` honoured);
401/403 end the run with a message saying how to get a new token (rows not attempted are
aborted and retried next run); another 4xx fails the row with the API's error code and
message. Rows breaking a documented limit (identifier over 256 bytes, record over 4 KB, more
than 1,000 attribute values) fail before sending. A 404 other than ``NOTFOUND-003`` (an
unknown profile), a redirect or a transport failure is not about the row
(:attr:`~engine.destinations.base.Outcome.cause`): a run whose first rows all fail so ends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter
from pydantic import ValidationError

from engine.config import DestinationConfig, SyncConfig
from engine.destinations.base import (
    Capabilities,
    DeltaRow,
    Destination,
    DestinationAuthError,
    FatalDestinationError,
    Outcome,
    RunContext,
)
from engine.destinations.contentstack_rows import (
    Prepared,
    api_reason,
    prepare_edge,
    prepare_user,
)
from engine.destinations.contentstack_settings import (
    TOKEN_HELP_DAL,
    TOKEN_HELP_MANAGEMENT,
    AudiencesSpec,
    ContentstackDestinationSettings,
    check_mode,
    check_required,
    settings_error,
    sync_settings,
)
from engine.destinations.http_checks import check_base_url, check_header_value
from engine.destinations.http_client import (
    HttpSender,
    RetryPolicy,
    Sent,
    Unreachable,
    shared_cause,
)
from engine.destinations.json_encoding import dumps

AUTH_STATUS = frozenset({401, 403})
#: The custom attributes listing is read up to this size (1,000 attributes are far less).
LISTING_BYTES = 16 * 1024 * 1024


class ContentstackDestination(Destination):
    """Contentstack Data Activation Layer users or Personalize attributes (see module doc)."""

    type_name = "contentstack"
    capabilities = Capabilities(
        modes=frozenset({"update", "upsert"}),
        delete_behaviors=frozenset({"do_nothing"}),
        default_batch_size=1,
        max_batch_size=1,
        default_concurrency=8,
    )

    def __init__(
        self, config: DestinationConfig, sync: SyncConfig, sync_name: str, project_dir: Path
    ):
        super().__init__(config, sync, sync_name, project_dir)
        self.where = f"destinations.{sync.destination}"
        try:
            self.settings = ContentstackDestinationSettings.model_validate(config.settings())
        except ValidationError as error:
            raise settings_error(error, self.where) from None
        self._check_http_settings()
        self.sync_settings = sync_settings(sync, sync_name)
        self.kind = self.sync_settings.type
        check_required(self.settings, self.sync_settings, sync, sync_name)
        self._senders: list[HttpSender] = []
        self._sender: HttpSender | None = None
        self._context: RunContext | None = None
        self._prepared: dict[str, Prepared] = {}

    @classmethod
    def check_sync(cls, sync: SyncConfig, sync_name: str) -> None:
        check_mode(sync, sync_name)

    def _check_http_settings(self) -> None:
        """Refuse a URL or a token the HTTP client cannot send (a token is a header value)."""
        s = self.settings
        for key in ("api_base_url", "edge_api_base_url", "management_api_base_url"):
            url = getattr(s, key)
            if url is not None:
                check_base_url(url, f"{self.where}.{key}")
        for key in ("access_token", "auth_token", "oauth_token", "project_uid"):
            value = getattr(s, key)
            if value is not None:
                check_header_value(value, f"{self.where}.{key}")

    # -- what the runner asks ---------------------------------------------------------------
    def concurrency(self) -> int:
        return self.sync_settings.concurrency

    def rate_limit_per_second(self) -> float | None:
        return self.sync_settings.rate_limit_per_second

    def match_column(self) -> str | None:
        return self.sync_settings.match.from_

    def source_columns(self) -> list[tuple[str, str]]:
        block = f"syncs.{self.sync_name}.contentstack"
        columns = [(f"{block}.match.from", self.sync_settings.match.from_)]
        audiences = self.sync_settings.audiences
        if isinstance(audiences, AudiencesSpec):
            columns.append((f"{block}.audiences.from", audiences.from_))
        return columns

    def sent_settings(self) -> dict[str, Any]:
        settings = self.sync_settings
        sent: dict[str, Any] = {
            "type": settings.type,
            "match_to": settings.match.to,
            "method": settings.method,
        }
        if isinstance(settings.audiences, list):  # a column's values are in the row hash
            sent["audiences"] = sorted(settings.audiences)
        return sent

    def changed_fields_problem(self) -> str | None:
        # Both write with PATCH: the Data Activation Layer's "update some of the profile
        # attributes"; the Edge API's leaves the attributes it is not given unchanged.
        if self.kind == "users" and self.sync_settings.method != "PATCH":
            where = f"syncs.{self.sync_name}.contentstack.method"
            return (
                f"{where} is {self.sync_settings.method}, which replaces every attribute of "
                f"the profile. Fix: set {where}: PATCH, or remove send."
            )
        return None

    def check_row(self, row: DeltaRow) -> str | None:
        prepare = prepare_user if self.kind == "users" else prepare_edge
        prepared = prepare(row, self.sync_settings)
        if isinstance(prepared, str):
            return prepared
        self._prepared[row.row_id] = prepared
        return None

    # -- run lifecycle ----------------------------------------------------------------------
    def _new_sender(
        self, base_url: str, headers: dict[str, str], concurrency: int, rate: float | None
    ) -> HttpSender:
        s = self.settings
        sender = HttpSender(
            base_url=base_url,
            headers=headers,
            concurrency=concurrency,
            rate_limit_per_second=rate,
            timeout_seconds=s.timeout_seconds,
            retry=RetryPolicy(
                max_attempts=s.max_attempts,
                initial_backoff=s.backoff_seconds,
                max_backoff=s.max_backoff_seconds,
                jitter=s.backoff_seconds,
            ),
        )
        self._senders.append(sender)
        return sender

    async def open(self, context: RunContext) -> None:
        self._context = context
        s, sync = self.settings, self.sync_settings
        if self.kind == "users":
            assert s.access_token is not None
            headers = {"authorization": s.access_token}
            self._sender = self._new_sender(
                s.api_base_url, headers, sync.concurrency, sync.rate_limit_per_second
            )
            return
        assert s.project_uid is not None
        await self._ensure_attributes()
        self._sender = self._new_sender(
            s.edge_url(),
            {"x-project-uid": s.project_uid},
            sync.concurrency,
            sync.rate_limit_per_second,
        )

    async def close(self) -> None:
        senders, self._senders, self._sender = self._senders, [], None
        self._prepared.clear()
        for sender in senders:
            await sender.close()

    async def _ensure_attributes(self) -> None:
        """Create the mapped custom attributes the project lacks (once, before streaming)."""
        s = self.settings
        assert s.project_uid is not None
        headers = {"x-project-uid": s.project_uid}
        if s.oauth_token:
            headers["authorization"] = f"Bearer {s.oauth_token}"
        else:
            assert s.auth_token is not None
            headers["authtoken"] = s.auth_token
        rate = s.management_rate_limit_per_second
        management = self._new_sender(s.management_url(), headers, 1, rate)
        # The documented limit counts requests in any one-second window: space them evenly
        # instead of letting the limiter burst ``rate`` requests at once.
        management.limiter = AsyncLimiter(1, 1.0 / rate)
        existing = await self._attribute_keys(management)
        wanted = list(dict.fromkeys(m.to for m in self.sync.mappings))
        missing = [key for key in wanted if key not in existing]
        if missing and not self.sync_settings.create_missing_attributes:
            raise FatalDestinationError(
                f"Personalize project {s.project_uid} has no custom attribute(s) "
                f"{', '.join(missing)}, and create_missing_attributes is false. Fix: create "
                "them in Personalize -> your project -> Attributes, or set "
                f"syncs.{self.sync_name}.contentstack.create_missing_attributes: true."
            )
        for key in missing:
            body = {
                "name": key,
                "key": key,
                "description": f"Created by Lightning sync {self.sync_name}",
            }
            result = await management.send("POST", "/attributes", dumps(body))
            if isinstance(result, Sent) and result.response.is_success:
                continue
            self._raise_on_auth(result, "management")
            if key in await self._attribute_keys(management):  # created meanwhile elsewhere
                continue
            raise FatalDestinationError(
                f"Could not create the custom attribute {key!r} in Personalize project "
                f"{s.project_uid}: {api_reason(result)}. Fix the cause (e.g. the project's "
                "attribute quota of 100, raisable to 1,000) or create it in Personalize -> "
                "Attributes, then run again; no user was sent."
            )

    async def _attribute_keys(self, management: HttpSender) -> set[str]:
        result = await management.send("GET", "/attributes", keep_bytes=LISTING_BYTES)
        if isinstance(result, Sent) and result.response.is_success:
            try:
                listed = json.loads(result.body)
            except ValueError as error:  # not JSON, or longer than LISTING_BYTES
                raise FatalDestinationError(
                    f"The custom attributes of Personalize project {self.settings.project_uid} "
                    f"at {self.settings.management_url()} are not a readable JSON listing "
                    f"({len(result.body):,} bytes read: {error}). Fix: check "
                    f"management_api_base_url and region under {self.where}."
                ) from error
            if isinstance(listed, dict):
                listed = listed.get("attributes") or listed.get("data") or []
            return {str(a["key"]) for a in listed if isinstance(a, dict) and a.get("key")}
        self._raise_on_auth(result, "management")
        raise FatalDestinationError(
            f"Could not list the custom attributes of Personalize project "
            f"{self.settings.project_uid} at {self.settings.management_url()}: "
            f"{api_reason(result)}. Fix: check project_uid and region under {self.where}."
        )

    # -- delivery ---------------------------------------------------------------------------
    async def deliver(self, rows: list[DeltaRow]) -> list[Outcome]:
        return [await self._send(row) for row in rows]

    async def _send(self, row: DeltaRow) -> Outcome:
        assert self._sender is not None
        prepared = self._prepared.pop(row.row_id, None)
        if prepared is None:
            reason = self.check_row(row)
            if reason is not None:
                return Outcome(row.row_id, False, reason)
            prepared = self._prepared.pop(row.row_id)
        path, payload, headers = prepared
        method = self.sync_settings.method if self.kind == "users" else "PATCH"
        result = await self._sender.send(method, path, payload, headers)
        if isinstance(result, Sent) and result.response.is_success:
            return Outcome(row.row_id, True)
        self._raise_on_auth(result, "dal" if self.kind == "users" else "edge")
        reason = self._row_reason(result)
        # A profile the API does not know is about the row; any other 404 is the base URL's.
        not_found_is_row = "NOTFOUND-003" in reason
        cause = shared_cause(result, path, not_found_is_row)
        return Outcome(row.row_id, False, reason, cause)

    def _row_reason(self, result: Sent | Unreachable) -> str:
        reason = api_reason(result)
        if (
            self.kind == "users"
            and isinstance(result, Sent)
            and result.response.status_code == 404
            and "NOTFOUND-003" in reason
        ):
            assert self._context is not None
            key = self.sync_settings.match.to
            if self._context.mode == "update":
                reason += f" (no profile has this {key}; mode update does not create profiles)"
            else:
                reason += f" (no profile has this {key} and the API did not create one)"
        return reason

    def _raise_on_auth(self, result: Sent | Unreachable, api: str) -> None:
        if not (isinstance(result, Sent) and result.response.status_code in AUTH_STATUS):
            return
        status = result.response.status_code
        tail = "Rows not yet sent were recorded as aborted and will be retried next run."
        if api == "dal":
            problem = "was rejected" if status == 401 else "lacks permission to write profiles"
            raise DestinationAuthError(
                f"Contentstack rejected the Data Activation Layer access token: the token "
                f"{problem} ({api_reason(result)}); it may have expired or been revoked. Fix: "
                f"{TOKEN_HELP_DAL}, set it in {self.where}.access_token and run again. {tail}"
            )
        if api == "management":
            setting = "oauth_token" if self.settings.oauth_token else "auth_token"
            raise DestinationAuthError(
                f"The Contentstack Personalize Management API rejected the token in "
                f"{self.where}.{setting} ({api_reason(result)}). Fix: {TOKEN_HELP_MANAGEMENT}; "
                f"for HTTP 403 the token's user needs permission to manage the project. {tail}"
            )
        raise DestinationAuthError(
            f"The Contentstack Personalize Edge API refused project "
            f"{self.settings.project_uid} ({api_reason(result)}). Fix: check project_uid and "
            f"region (or edge_api_base_url) under {self.where}. {tail}"
        )
