"""A local HTTP fake of the Contentstack APIs used by the Contentstack destination.

One aiohttp server on ``127.0.0.1`` (ephemeral port) serves three APIs from a single base URL,
so the same ``FakeContentstack.url`` can be configured as the Data Activation Layer (Lytics /
Data & Insights) API base, the Personalize Edge base and the Personalize Management base:

* DAL:        ``PUT|PATCH /v2/attributes/{table}/{key}/{value}``
* Management: ``GET|POST /attributes``
* Edge:       ``PATCH /user-attributes``

The server runs its own event loop on a background thread, so synchronous and asynchronous
tests can both use it, and per-request latency is modelled with ``asyncio.sleep`` (many slow
requests are served concurrently). Behaviour rests on ``reference/contentstack/API-NOTES.md``;
``tests/fakes/CONTENTSTACK_FAKE.md`` maps every behaviour and knob to the label it rests on.

Every knob is thread-safe and may be changed while the server is running. Plain attributes
(``create_on_write``, ``latency_seconds``, ...) are read once per request; collections that both
threads mutate are guarded by one lock.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import dataclasses
import datetime as _dt
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal, Self

from aiohttp import web

__all__ = [
    "DEFAULT_IDENTITY_KEYS",
    "DalLimits",
    "FakeContentstack",
    "RecordedRequest",
]

Api = Literal["dal", "edge", "management"]

#: Identity keys of the default Lytics user schema (``email``, ``email_sha256``, ``external_id``
#: and ``_uids``).
DEFAULT_IDENTITY_KEYS: frozenset[str] = frozenset({"email", "email_sha256", "external_id", "_uids"})

#: Lytics' documented BADREQ-001 message for a body that is not a JSON object.
BADREQ_BODY_MESSAGE = (
    "The body of your request could not be processed. Please check the format of your request."
)
#: Lytics' documented NOTFOUND-003 message for PUT/PATCH.
NOTFOUND_UPDATE_MESSAGE = "The attribute you are trying to update does not exist"
#: Contentstack's 401 message for a missing or invalid authtoken.
CS_UNAUTHORIZED_MESSAGE = "You're not allowed in here unless you're logged in."
#: Personalize Edge's documented success text for ``PATCH /user-attributes``.
EDGE_PATCH_OK_MESSAGE = "User Attributes added successfully"

_LEGACY_USER_UID_HEADER = "x-cs-eclipse-user-uid"
_USER_UID_HEADER = "x-cs-personalize-user-uid"
_GATEWAY_REASONS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

_RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass(frozen=True)
class DalLimits:
    """Per-record and per-profile limits of Data & Insights (Lytics limitations page).

    Violations are answered with 400 ``BADREQ-001`` and a message naming the limit.
    """

    #: Maximum bytes of one identifier value (UTF-8 of the decoded path value).
    identifier_bytes: int = 256
    #: Maximum bytes of one input record, i.e. one PUT/PATCH request body.
    record_bytes: int = 4 * 1024
    #: Maximum bytes of a stored profile (compact JSON).
    profile_bytes: int = 1024 * 1024
    #: Maximum attribute values per profile; a list or map counts one per element.
    profile_attribute_values: int = 1000
    #: Maximum identifier values stitched into one profile.
    identifiers_per_profile: int = 50


@dataclasses.dataclass
class RecordedRequest:
    """One request as the fake received it, plus the status it was answered with."""

    api: Api | None
    method: str
    #: Decoded path (percent-escapes resolved).
    path: str
    #: Path exactly as sent on the wire, without the query string.
    raw_path: str
    #: Decoded path parameters, e.g. ``{"table": "user", "key": "email", "value": "a@b.c"}``.
    path_params: dict[str, str]
    #: Request headers with lower-cased names.
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    #: Wall-clock arrival time (``time.time()``).
    timestamp: float
    #: Monotonic arrival time (``time.monotonic()``), for ordering and spacing assertions.
    monotonic: float
    #: Response status, set once the response is produced (``None`` while in flight).
    status: int | None = None

    def json(self) -> Any:
        """Return the body parsed as JSON (raises ``ValueError`` if it is not JSON)."""
        return json.loads(self.body)


@dataclasses.dataclass
class _Fault:
    """A queued injected failure: the next ``remaining`` matching requests get it."""

    kind: Literal["rate_limit", "server_error"]
    remaining: int
    status: int
    retry_after: float | str | None
    api: Api | None


_RECORD = web.RequestKey("record", RecordedRequest)


class _SlidingWindowLimiter:
    """Admits at most ``limit`` requests in any ``window`` seconds (per bucket key)."""

    def __init__(self) -> None:
        self._hits: dict[str, collections.deque[float]] = {}

    def admit(self, bucket: str, limit: int, window: float, now: float) -> bool:
        """Record and admit a request at ``now`` unless the bucket is full."""
        hits = self._hits.setdefault(bucket, collections.deque())
        while hits and now - hits[0] >= window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def clear(self) -> None:
        """Forget all admitted requests."""
        self._hits.clear()


def _utc_now_iso() -> str:
    """Return the current UTC time as ISO 8601 with milliseconds and a ``Z`` suffix."""
    now = _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _object_id() -> str:
    """Return a fresh 24-character hex id shaped like a Personalize ObjectId."""
    return uuid.uuid4().hex[:24]


def _format_retry_after(value: float | str) -> str:
    """Format a ``Retry-After`` value: numbers as seconds, strings (HTTP dates) verbatim."""
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return str(int(value))
    return format(float(value), "g")


def _count_values(attributes: Mapping[str, Any]) -> int:
    """Count attribute values the way the profile limit does: one per list/map element."""
    total = 0
    for value in attributes.values():
        if isinstance(value, (list, dict)):
            total += max(len(value), 1)
        else:
            total += 1
    return total


def _merge_unique(old: Any, new: list[Any]) -> list[Any]:
    """Union two lists keeping first-seen order (``old`` first)."""
    merged: list[Any] = list(old) if isinstance(old, list) else []
    for item in new:
        if item not in merged:
            merged.append(item)
    return merged


class FakeContentstack:
    """A fake Contentstack (DAL + Personalize Edge + Personalize Management) HTTP server.

    Use as a context manager (``with FakeContentstack() as cs: httpx.get(cs.url + ...)``) or
    call :meth:`start` / :meth:`stop`. Every constructor argument except the two tokens,
    ``host`` and ``port`` is also a public attribute that may be changed at any time; tokens
    change through :meth:`add_dal_token`, :meth:`add_management_token` and
    :meth:`revoke_token`.
    """

    def __init__(
        self,
        *,
        dal_token: str | None = "at.fakedal.token",
        management_token: str | None = "cs-fake-authtoken",
        project_uid: str = "6650f1a2b3c4d5e6f7a8b9c0",
        identity_keys: Iterable[str] = DEFAULT_IDENTITY_KEYS,
        create_on_write: bool = True,
        merge_external_audiences: bool = True,
        latency_seconds: float = 0.0,
        limits: DalLimits | None = None,
        dal_rate_limit: int | None = None,
        management_rate_limit: int | None = 10,
        management_rate_window: float = 1.0,
        attribute_quota: int = 100,
        attribute_create_status: int = 201,
        edge_patch_status: int = 200,
        record_requests: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Configure the fake; nothing listens until :meth:`start`.

        Args:
            dal_token: A valid DAL (Data & Insights) access token, sent as ``Authorization``.
            management_token: A valid Personalize Management token (``authtoken`` header, or
                ``authorization`` with or without ``Bearer``).
            project_uid: The Personalize project known from the start (more via
                :meth:`add_project`).
            identity_keys: Identity keys accepted in DAL paths (the account's idconfig).
            create_on_write: DAL writes to an unknown profile create it (True) or answer 404
                ``NOTFOUND-003`` (False).
            merge_external_audiences: On DAL PATCH, union ``external_audiences`` with the
                stored list (True) or replace it (False). PUT always replaces.
            latency_seconds: Delay before every response.
            limits: DAL record/profile limits.
            dal_rate_limit: Optional DAL requests per second per token (None: unlimited).
            management_rate_limit: Management requests per window per organization (None:
                unlimited). The fake is one organization.
            management_rate_window: Window of the management limit, seconds.
            attribute_quota: Custom attributes allowed per project.
            attribute_create_status: Success status of ``POST /attributes`` (201 or 200).
            edge_patch_status: Success status of Edge ``PATCH /user-attributes`` (200 or 204).
            record_requests: Record every request (disable for very long load runs).
            host: Interface to bind.
            port: Port to bind (0: ephemeral).
        """
        self.host = host
        self._requested_port = port
        self.project_uid = project_uid
        self.identity_keys: frozenset[str] = frozenset(identity_keys)
        self.create_on_write = create_on_write
        self.merge_external_audiences = merge_external_audiences
        self.latency_seconds = latency_seconds
        self.limits = limits or DalLimits()
        self.dal_rate_limit = dal_rate_limit
        self.management_rate_limit = management_rate_limit
        self.management_rate_window = management_rate_window
        self.attribute_quota = attribute_quota
        self.attribute_create_status = attribute_create_status
        self.edge_patch_status = edge_patch_status
        self.record_requests = record_requests
        #: Per-user rejections: identity value (DAL path value, or Edge user uid) ->
        #: ``(status, code, message)``. Checked after auth and request validation.
        self.reject_users: dict[str, tuple[int, str, str]] = {}

        self._lock = threading.RLock()
        # token -> read_only
        self._dal_tokens: dict[str, bool] = {}
        self._management_tokens: dict[str, bool] = {}
        self._revoked: set[str] = set()
        if dal_token is not None:
            self._dal_tokens[dal_token] = False
        if management_token is not None:
            self._management_tokens[management_token] = False

        self._projects: set[str] = {project_uid}
        self._profiles: dict[int, dict[str, Any]] = {}
        self._index: dict[tuple[str, str], int] = {}
        self._next_profile_id = 1
        # project uid -> attribute key -> attribute object
        self._attributes: dict[str, dict[str, dict[str, Any]]] = {}
        # (project uid, user uid) -> attributes
        self._edge_users: dict[tuple[str, str], dict[str, Any]] = {}
        self._requests: list[RecordedRequest] = []
        self._faults: collections.deque[_Fault] = collections.deque()
        self._limiter = _SlidingWindowLimiter()
        self._in_flight = 0
        self._peak_in_flight = 0

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        """Start the server and return ``self``."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server."""
        self.stop()

    @property
    def url(self) -> str:
        """Base URL (no trailing slash) for the DAL, Edge and Management APIs alike."""
        if self._port is None:
            raise RuntimeError("FakeContentstack is not running")
        return f"http://{self.host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port."""
        if self._port is None:
            raise RuntimeError("FakeContentstack is not running")
        return self._port

    def start(self) -> None:
        """Start the server on its own thread and wait until it accepts connections.

        Safe to call from inside a running event loop (e.g. an async test): the server's loop
        lives on its own thread.
        """
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-contentstack", daemon=True)
        thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start_site(), loop)
        try:
            started.result(timeout=10)
        finally:
            if self._port is None:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)
                loop.close()
        self._loop, self._thread = loop, thread

    def stop(self) -> None:
        """Stop the server and join its thread (in-flight requests get 0.5 s to finish)."""
        thread, loop, runner = self._thread, self._loop, self._runner
        if thread is None or loop is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._thread = self._loop = self._runner = None
        self._port = None

    async def _start_site(self) -> None:
        """Build the app, bind the socket and remember the port."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_route("PUT", "/v2/attributes/{tail:.*}", self._dal_write)
        app.router.add_route("PATCH", "/v2/attributes/{tail:.*}", self._dal_write)
        app.router.add_route("GET", "/attributes", self._mgmt_list_attributes)
        app.router.add_route("POST", "/attributes", self._mgmt_create_attribute)
        app.router.add_route("PATCH", "/user-attributes", self._edge_patch_user_attributes)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    # ------------------------------------------------------------------ knobs

    def add_dal_token(self, token: str, *, read_only: bool = False) -> None:
        """Accept ``token`` on the DAL API; a read-only token gets 403 on writes."""
        with self._lock:
            self._revoked.discard(token)
            self._dal_tokens[token] = read_only

    def add_management_token(self, token: str, *, read_only: bool = False) -> None:
        """Accept ``token`` on the Management API; read-only (``personalize:read``) gets 403
        on ``POST``."""
        with self._lock:
            self._revoked.discard(token)
            self._management_tokens[token] = read_only

    def revoke_token(self, token: str) -> None:
        """Revoke ``token`` everywhere; later requests with it get 401 (e.g. expired token)."""
        with self._lock:
            self._dal_tokens.pop(token, None)
            self._management_tokens.pop(token, None)
            self._revoked.add(token)

    def add_project(self, project_uid: str) -> None:
        """Make another Personalize project known."""
        with self._lock:
            self._projects.add(project_uid)

    def rate_limit_next(
        self, n: int, retry_after: float | str | None = None, *, api: Api | None = None
    ) -> None:
        """Answer the next ``n`` requests (of ``api``, or any) with 429.

        ``retry_after`` sets a ``Retry-After`` header: a number of seconds, or a string sent
        verbatim (e.g. an HTTP date). ``None`` sends no header, as neither vendor documents
        one. Faults are served in the order they were queued.
        """
        if n > 0:
            with self._lock:
                self._faults.append(_Fault("rate_limit", n, 429, retry_after, api))

    def server_errors_next(self, n: int, status: int = 500, *, api: Api | None = None) -> None:
        """Answer the next ``n`` requests (of ``api``, or any) with a 5xx ("5xx storm").

        500 carries the API's JSON error body; 502/503/504 carry an HTML gateway page, as a
        load balancer in front of the API would.
        """
        if not 500 <= status <= 599:
            raise ValueError(f"not a 5xx status: {status}")
        if n > 0:
            with self._lock:
                self._faults.append(_Fault("server_error", n, status, None, api))

    def clear_faults(self) -> None:
        """Drop all queued injected faults."""
        with self._lock:
            self._faults.clear()

    def reject_user(self, value: str, status: int, code: str, message: str) -> None:
        """Shortcut for ``reject_users[value] = (status, code, message)``."""
        self.reject_users[value] = (status, code, message)

    # ------------------------------------------------------------------ state accessors

    @property
    def requests(self) -> list[RecordedRequest]:
        """All recorded requests in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_for(
        self, api: Api | None = None, method: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests filtered by API and/or method."""
        return [
            r
            for r in self.requests
            if (api is None or r.api == api) and (method is None or r.method == method.upper())
        ]

    def clear_requests(self) -> None:
        """Forget recorded requests and reset the in-flight peak."""
        with self._lock:
            self._requests.clear()
            self._peak_in_flight = self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """Most requests in flight at once since start or :meth:`clear_requests`."""
        return self._peak_in_flight

    @property
    def profiles(self) -> list[dict[str, Any]]:
        """Copies of all stored DAL profiles, in creation order."""
        with self._lock:
            return [copy.deepcopy(p) for _, p in sorted(self._profiles.items())]

    def profile(self, key: str, value: str) -> dict[str, Any] | None:
        """A copy of the profile identified by ``key``/``value`` (email is case-folded)."""
        with self._lock:
            pid = self._index.get((key, self._normalize_identity(key, value)))
            return None if pid is None else copy.deepcopy(self._profiles[pid])

    def add_profile(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Store a profile directly (not recorded, no limits); it must carry an identity key."""
        attrs = self._normalize_attributes(dict(attributes))
        if not self._identities(attrs):
            raise ValueError(f"profile needs one of the identity keys {sorted(self.identity_keys)}")
        with self._lock:
            pid = self._next_profile_id
            self._next_profile_id += 1
            self._store_profile(pid, attrs)
            return copy.deepcopy(attrs)

    def attributes(self, project_uid: str | None = None) -> list[dict[str, Any]]:
        """Copies of the project's custom attributes, in creation order."""
        with self._lock:
            stored = self._attributes.get(project_uid or self.project_uid, {})
            return [copy.deepcopy(a) for a in stored.values()]

    def add_attribute(
        self,
        key: str,
        name: str | None = None,
        description: str = "",
        project_uid: str | None = None,
    ) -> dict[str, Any]:
        """Create a custom attribute directly (not recorded, no rate limit or quota)."""
        project = project_uid or self.project_uid
        with self._lock:
            self._projects.add(project)
            return copy.deepcopy(self._create_attribute(project, key, name or key, description))

    def edge_user_attributes(
        self, user_uid: str, project_uid: str | None = None
    ) -> dict[str, Any] | None:
        """A copy of the attributes the Edge API stored for one user, or ``None``."""
        with self._lock:
            stored = self._edge_users.get((project_uid or self.project_uid, user_uid))
            return None if stored is None else dict(stored)

    def edge_users(self, project_uid: str | None = None) -> dict[str, dict[str, Any]]:
        """Copies of all Edge user attributes of a project, by user uid."""
        project = project_uid or self.project_uid
        with self._lock:
            return {u: dict(a) for (p, u), a in self._edge_users.items() if p == project}

    def reset(self) -> None:
        """Clear stored data, recorded requests, faults, rejections and rate-limit history.

        Tokens, projects and configuration knobs are kept.
        """
        with self._lock:
            self._profiles.clear()
            self._index.clear()
            self._attributes.clear()
            self._edge_users.clear()
            self._requests.clear()
            self._faults.clear()
            self._limiter.clear()
            self.reject_users.clear()
            self._peak_in_flight = self._in_flight

    # ------------------------------------------------------------------ shared plumbing

    @staticmethod
    def _classify(path: str) -> Api | None:
        """Tell which API a request path belongs to."""
        if path.startswith("/v2/attributes/") or path == "/v2/attributes":
            return "dal"
        if path == "/attributes" or path.startswith("/attributes/"):
            return "management"
        if path == "/user-attributes" or path.startswith("/user-attributes/"):
            return "edge"
        return None

    def _take_fault(self, api: Api | None) -> _Fault | None:
        """Consume one use of the first queued fault that applies to ``api``."""
        with self._lock:
            for fault in self._faults:
                if fault.api is None or fault.api == api:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: _RequestHandler
    ) -> web.StreamResponse:
        """Record the request, apply latency and injected faults, then route it."""
        body = await request.read()
        raw_path = request.raw_path.split("?", 1)[0]
        api = self._classify(request.path)
        record = RecordedRequest(
            api=api,
            method=request.method,
            path=request.path,
            raw_path=raw_path,
            path_params={},
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query),
            body=body,
            timestamp=time.time(),
            monotonic=time.monotonic(),
        )
        request[_RECORD] = record
        with self._lock:
            if self.record_requests:
                self._requests.append(record)
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            latency = self.latency_seconds
            if latency > 0:
                await asyncio.sleep(latency)
            fault = self._take_fault(api)
            if fault is not None:
                response = self._fault_response(api, fault)
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    record.status = exc.status
                    raise
            record.status = response.status
            return response
        finally:
            with self._lock:
                self._in_flight -= 1

    def _fault_response(self, api: Api | None, fault: _Fault) -> web.Response:
        """Build the response for an injected fault."""
        if fault.kind == "rate_limit":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = _format_retry_after(fault.retry_after)
            return self._api_error(api, 429, "Too many requests", "UNKNOWN-000", headers)
        if fault.status in _GATEWAY_REASONS:
            reason = _GATEWAY_REASONS[fault.status]
            page = f"<html><body><h1>{fault.status} {reason}</h1></body></html>"
            return web.Response(status=fault.status, text=page, content_type="text/html")
        return self._api_error(api, fault.status, "Internal server error", "INTERNAL-019")

    def _api_error(
        self,
        api: Api | None,
        status: int,
        message: str,
        dal_code: str,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """An error in the body shape of ``api`` (``dal_code`` is used by the DAL only)."""
        if api == "dal":
            return self._dal_error(status, dal_code, message, headers)
        if api == "management":
            return self._mgmt_error(status, message, headers=headers)
        return self._edge_error(status, message, headers=headers)

    @staticmethod
    def _dal_error(
        status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """Lytics v2 error envelope: ``{"status", "request_id", "errors": [{code, message}]}``."""
        body = {
            "status": status,
            "request_id": str(uuid.uuid4()),
            "errors": [{"code": code, "message": message}],
        }
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def _mgmt_error(
        status: int,
        message: str,
        errors: Mapping[str, Any] | None = None,
        error_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """Contentstack error shape: ``{"error_message", "error_code", "errors": {...}}``."""
        body = {
            "error_message": message,
            "error_code": status if error_code is None else error_code,
            "errors": dict(errors or {}),
        }
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def _edge_error(
        status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """Personalize Edge error shape: ``{"status", "message"}`` plus ``code`` if given."""
        body: dict[str, Any] = {"status": status, "message": message}
        if code:
            body["code"] = code
        return web.json_response(body, status=status, headers=headers)

    # ------------------------------------------------------------------ DAL (Lytics v2)

    def _normalize_identity(self, key: str, value: str) -> str:
        """Lytics lower-cases email identifiers."""
        return value.strip().lower() if key == "email" else value

    def _normalize_attributes(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Lower-case a string ``email`` attribute, as Lytics does."""
        email = attrs.get("email")
        if isinstance(email, str):
            attrs["email"] = email.strip().lower()
        return attrs

    def _identities(self, attrs: Mapping[str, Any]) -> list[tuple[str, str]]:
        """All ``(identity key, value)`` pairs a profile carries."""
        pairs: list[tuple[str, str]] = []
        for key in self.identity_keys:
            value = attrs.get(key)
            if isinstance(value, str) and value:
                pairs.append((key, self._normalize_identity(key, value)))
            elif isinstance(value, list):
                pairs.extend(
                    (key, self._normalize_identity(key, v)) for v in value if isinstance(v, str)
                )
        return pairs

    def _store_profile(self, pid: int, attrs: dict[str, Any]) -> None:
        """Store a profile and re-point its identity index entries (lock held)."""
        old = self._profiles.get(pid)
        if old is not None:
            for pair in self._identities(old):
                if self._index.get(pair) == pid:
                    del self._index[pair]
        self._profiles[pid] = attrs
        for pair in self._identities(attrs):
            self._index[pair] = pid

    def _profile_limit_error(self, attrs: Mapping[str, Any]) -> str | None:
        """The message for the first profile limit ``attrs`` breaks, or ``None``."""
        limits = self.limits
        if len(self._identities(attrs)) > limits.identifiers_per_profile:
            return f"Profile exceeds {limits.identifiers_per_profile} identifiers"
        if _count_values(attrs) > limits.profile_attribute_values:
            return f"Profile exceeds {limits.profile_attribute_values} attribute values"
        size = len(json.dumps(attrs, separators=(",", ":")).encode())
        if size > limits.profile_bytes:
            return f"Profile exceeds {limits.profile_bytes} bytes"
        return None

    def _dal_auth(self, request: web.Request) -> web.Response | None:
        """Check ``Authorization: <token>`` (no Bearer prefix); return an error or ``None``."""
        token = request.headers.get("Authorization")
        if not token:
            return self._dal_error(401, "UNAUTHORIZED-017", "Missing access token")
        with self._lock:
            known = token in self._dal_tokens
            read_only = self._dal_tokens.get(token, False)
            revoked = token in self._revoked
        if revoked:
            return self._dal_error(401, "UNAUTHORIZED-017", "Access token expired or revoked")
        if not known:
            return self._dal_error(401, "UNAUTHORIZED-017", "Invalid access token")
        if read_only:
            return self._dal_error(
                403, "FORBIDDEN-026", "Access token lacks permission to write profiles"
            )
        limit = self.dal_rate_limit
        if limit is not None:
            with self._lock:
                admitted = self._limiter.admit(f"dal:{token}", limit, 1.0, time.monotonic())
            if not admitted:
                return self._dal_error(429, "UNKNOWN-000", "Too many requests")
        return None

    async def _dal_write(self, request: web.Request) -> web.Response:
        """``PUT`` (replace) / ``PATCH`` (merge) ``/v2/attributes/{table}/{key}/{value}``."""
        record = request[_RECORD]
        segments = record.raw_path.split("/")
        # ["", "v2", "attributes", table, key, value]
        if len(segments) != 6 or not all(segments[3:]):
            return self._dal_error(404, "UNKNOWN-000", f"No route for {record.raw_path}")
        table, key, value = (urllib.parse.unquote(s, errors="replace") for s in segments[3:])
        record.path_params.update({"table": table, "key": key, "value": value})

        denied = self._dal_auth(request)
        if denied is not None:
            return denied
        if table != "user":
            return self._dal_error(404, "TABLE-NOTFOUND-009", f"Table {table!r} not found")
        if key not in self.identity_keys:
            return self._dal_error(400, "BADREQ-001", f"{key!r} is not an identity key of user")
        limits = self.limits
        if len(value.encode()) > limits.identifier_bytes:
            return self._dal_error(
                400, "BADREQ-001", f"Identifier value exceeds {limits.identifier_bytes} bytes"
            )
        if len(record.body) > limits.record_bytes:
            return self._dal_error(400, "BADREQ-001", f"Record exceeds {limits.record_bytes} bytes")
        try:
            body = json.loads(record.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._dal_error(400, "BADREQ-001", BADREQ_BODY_MESSAGE)
        audiences = body.get("external_audiences")
        if audiences is not None and not (
            isinstance(audiences, list) and all(isinstance(a, str) for a in audiences)
        ):
            return self._dal_error(
                400, "BADREQ-001", "external_audiences must be a list of strings"
            )

        rejection = self.reject_users.get(value)
        if rejection is None:
            rejection = self.reject_users.get(self._normalize_identity(key, value))
        if rejection is not None:
            status, code, message = rejection
            return self._dal_error(status, code, message)

        body = self._normalize_attributes(body)
        lookup = (key, self._normalize_identity(key, value))
        with self._lock:
            pid = self._index.get(lookup)
            if pid is None:
                if not self.create_on_write:
                    return self._dal_error(404, "NOTFOUND-003", NOTFOUND_UPDATE_MESSAGE)
                old: dict[str, Any] = {key: [lookup[1]] if key == "_uids" else lookup[1]}
            else:
                old = self._profiles[pid]
            # Stored profiles are replaced, never mutated in place, so shallow copies suffice.
            if request.method == "PUT":
                # Identifiers are stitched identity, not attributes: PUT keeps them.
                new = {k: v for k, v in old.items() if k in self.identity_keys}
                new.update(body)
            else:
                new = dict(old)
                for attr, attr_value in body.items():
                    if attr == "external_audiences" and self.merge_external_audiences:
                        new[attr] = _merge_unique(new.get(attr), attr_value)
                    else:
                        new[attr] = attr_value
            if lookup not in self._identities(new):
                # The profile stays reachable through the identifier it was addressed by.
                new[key] = _merge_unique(new.get(key), [lookup[1]]) if key == "_uids" else lookup[1]
            problem = self._profile_limit_error(new)
            if problem is not None:
                return self._dal_error(400, "BADREQ-001", problem)
            if pid is None:
                pid = self._next_profile_id
                self._next_profile_id += 1
            self._store_profile(pid, new)
        return web.json_response(
            {"data": new, "status": 200, "request_id": str(uuid.uuid4())}, status=200
        )

    # ------------------------------------------------------------------ Personalize Management

    def _mgmt_auth(self, request: web.Request, *, write: bool) -> web.Response | None:
        """Check auth, project and the per-organization rate limit; error or ``None``."""
        authtoken = request.headers.get("authtoken")
        authorization = request.headers.get("authorization")
        field = "authtoken" if authtoken or not authorization else "authorization"
        token = authtoken or authorization or ""
        if field == "authorization" and token.lower().startswith("bearer "):
            token = token[7:].strip()
        with self._lock:
            known = token in self._management_tokens
            read_only = self._management_tokens.get(token, False)
        if not token or not known:
            return self._mgmt_error(
                401, CS_UNAUTHORIZED_MESSAGE, {field: ["is not valid."]}, error_code=105
            )
        project = request.headers.get("x-project-uid")
        if not project:
            return self._mgmt_error(
                400, "The x-project-uid header is required.", {"x-project-uid": ["is required."]}
            )
        with self._lock:
            project_known = project in self._projects
        if not project_known:
            return self._mgmt_error(404, f"Project {project!r} was not found.")
        if write and read_only:
            return self._mgmt_error(
                403,
                "You don't have permission to perform this action.",
                {"authorization": ["requires the personalize:manage scope."]},
            )
        limit = self.management_rate_limit
        if limit is not None:
            with self._lock:
                admitted = self._limiter.admit(
                    "management", limit, self.management_rate_window, time.monotonic()
                )
            if not admitted:
                return self._mgmt_error(
                    429, f"Too many requests. The limit is {limit} requests per second."
                )
        return None

    def _create_attribute(
        self, project: str, key: str, name: str, description: str
    ) -> dict[str, Any]:
        """Create and store a custom attribute object (lock held)."""
        now = _utc_now_iso()
        attribute = {
            "name": name,
            "key": key,
            "description": description,
            "project": project,
            "uid": _object_id(),
            "createdBy": "blt0fa1ce0000000000",
            "updatedBy": "blt0fa1ce0000000000",
            "createdAt": now,
            "updatedAt": now,
            "createdByUserName": "Fake User",
            "updatedByUserName": "Fake User",
            "__type": "CUSTOM",
        }
        self._attributes.setdefault(project, {})[key] = attribute
        return attribute

    async def _mgmt_list_attributes(self, request: web.Request) -> web.Response:
        """``GET /attributes``: the project's custom attributes as a bare JSON array."""
        denied = self._mgmt_auth(request, write=False)
        if denied is not None:
            return denied
        project = request.headers["x-project-uid"]
        with self._lock:
            listed = [copy.deepcopy(a) for a in self._attributes.get(project, {}).values()]
        return web.json_response(listed)

    async def _mgmt_create_attribute(self, request: web.Request) -> web.Response:
        """``POST /attributes {name, key, description}``: returns the created object."""
        denied = self._mgmt_auth(request, write=True)
        if denied is not None:
            return denied
        project = request.headers["x-project-uid"]
        record = request[_RECORD]
        try:
            body = json.loads(record.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._mgmt_error(400, "The request body must be a JSON object.")
        invalid: dict[str, list[dict[str, str]]] = {}
        for field in ("name", "key"):
            if not isinstance(body.get(field), str) or not body[field].strip():
                invalid[field] = [
                    {"code": "personalize.ATTRIBUTES.REQUIRED", "message": f"{field} is required"}
                ]
        description = body.get("description", "")
        if description is not None and not isinstance(description, str):
            invalid["description"] = [
                {"code": "personalize.ATTRIBUTES.INVALID", "message": "description must be text"}
            ]
        if invalid:
            return self._mgmt_error(422, "Validation failed.", invalid)
        key = body["key"]
        with self._lock:
            existing = self._attributes.get(project, {})
            if key in existing:
                return self._mgmt_error(
                    422,
                    "Validation failed.",
                    {
                        "key": [
                            {
                                "code": "personalize.ATTRIBUTES.DUPLICATE_KEY",
                                "message": f"An attribute with key {key!r} already exists",
                            }
                        ]
                    },
                )
            if len(existing) >= self.attribute_quota:
                return self._mgmt_error(
                    422,
                    f"The project already has {self.attribute_quota} custom attributes.",
                    {
                        "key": [
                            {
                                "code": "personalize.ATTRIBUTES.QUOTA_EXCEEDED",
                                "message": "Custom attribute quota reached",
                            }
                        ]
                    },
                )
            created = copy.deepcopy(
                self._create_attribute(project, key, body["name"], description or "")
            )
        return web.json_response(created, status=self.attribute_create_status)

    # ------------------------------------------------------------------ Personalize Edge

    async def _edge_patch_user_attributes(self, request: web.Request) -> web.Response:
        """``PATCH /user-attributes``: merge a flat object into one user's attributes."""
        record = request[_RECORD]
        project = request.headers.get("x-project-uid")
        if not project:
            return self._edge_error(400, "x-project-uid header is required")
        user_uid = request.headers.get(_USER_UID_HEADER) or request.headers.get(
            _LEGACY_USER_UID_HEADER
        )
        if not user_uid:
            return self._edge_error(400, f"{_USER_UID_HEADER} header is required")
        if request.content_type != "application/json":
            return self._edge_error(400, "Content-Type must be application/json")
        with self._lock:
            project_known = project in self._projects
        if not project_known:
            return self._edge_error(404, f"Project {project!r} not found")
        try:
            body = json.loads(record.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._edge_error(400, "Request body must be a JSON object")
        nested = sorted(k for k, v in body.items() if isinstance(v, (dict, list)))
        if nested:
            return self._edge_error(400, f"Attribute values must be scalars: {', '.join(nested)}")
        rejection = self.reject_users.get(user_uid)
        if rejection is not None:
            status, code, message = rejection
            return self._edge_error(status, message, code)
        with self._lock:
            known = self._attributes.get(project, {})
            unknown = sorted(k for k in body if k not in known)
            if unknown:
                return self._edge_error(
                    400, f"Attributes do not exist in the project: {', '.join(unknown)}"
                )
            self._edge_users.setdefault((project, user_uid), {}).update(body)
        if self.edge_patch_status == 204:
            return web.Response(status=204)
        return web.json_response({"message": EDGE_PATCH_OK_MESSAGE}, status=self.edge_patch_status)
