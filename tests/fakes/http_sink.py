"""A real HTTP server that plays a generic JSON-over-HTTP destination.

`HttpSink` listens on 127.0.0.1 (ephemeral port) and serves an aiohttp low-level server
from its own event loop on a background thread, so synchronous tests and asyncio code
alike can talk to it through ``sink.url``.

Contract (what the engine's ``http`` destination may send):

* Per-row: ``PUT|PATCH|POST /<collection>/<row_id>`` with a JSON object body upserts
  record ``row_id`` (URL-decoded last path segment) in ``collection`` (the path before
  it, possibly nested such as ``v1/users``) and stores the body as is.
  ``DELETE /<collection>/<row_id>`` (no body) deletes it: 200 when it existed,
  ``delete_missing_status`` (default 204) when it did not, never 404.
* Batch: ``PUT|PATCH|POST /<collection>`` with a JSON array of objects that each carry
  ``"row_id"`` upserts every element (stored without its ``"row_id"`` key);
  ``DELETE`` with a JSON array of ``{"row_id": ...}`` deletes each. With an array body
  the whole path is the collection.
* ``GET /<collection>/<row_id>`` returns the stored record (404 when absent).
* Optional ``required_headers``: a missing or different header answers 401 with a JSON
  error body.

Failure knobs (all settable at construction and changeable while the server runs, from
any thread): ``fail_rows`` (a body may be text, raw bytes, or a :class:`StreamedBody` of any
size, sent in chunks while the client reads; ``streamed`` tells how much of each went
out), ``fail_times``, ``rate_limit_next``, ``server_errors_next``, ``revoke_after`` /
``restore_auth`` and ``latency_seconds``. They are evaluated in this
order for every request: revoked token, required headers, rate limit, server errors,
body parsing, ``fail_rows``, ``fail_times``; only a request passing all of them changes
``records``.

``reset_connections`` closes the socket of chosen requests without a complete answer:
either after reading only part of the request body (the request changes nothing), or
after applying the request and writing only part of the response (the change is stored,
the client never learns it). Reset requests count in ``request_count`` and
``reset_count``.

Example::

    with HttpSink(required_headers={"Authorization": "Bearer t"}) as sink:
        httpx.put(f"{sink.url}/users/42", json={"name": "Ada"},
                  headers={"Authorization": "Bearer t"})
        assert sink.records == {"users": {"42": {"name": "Ada"}}}
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

__all__ = ["HttpSink", "RecordedRequest", "StreamedBody"]

_JSON = "application/json"
_OK_BODY = b'{"ok":true}'
_UPSERT_METHODS = frozenset({"PUT", "PATCH", "POST"})
ResetDuring = Literal["body", "response"]


class RecordedRequest(NamedTuple):
    """One request as the sink received it (kept only with ``record_requests=True``).

    ``path`` is the raw (still URL-encoded) path without the query string, ``headers``
    is a case-insensitive copy, and ``body`` is the parsed JSON value, ``None`` for an
    empty body, or the raw text when the body is not valid JSON; ``raw`` is the body's
    bytes as received.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes = b""


class StreamedBody(NamedTuple):
    """An error body of ``size`` bytes (``chunk`` repeated, the last one cut), written a
    chunk at a time so that a client that stops reading is never sent the rest."""

    size: int
    chunk: bytes = b"x" * 65536


Body = str | bytes | StreamedBody


class _Reject(Exception):
    """Raised inside the handler to answer with an error response."""

    def __init__(self, status: int, body: Body, headers: Mapping[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _error(status: int, message: str) -> _Reject:
    return _Reject(status, json.dumps({"error": message}))


class HttpSink:
    """A JSON-over-HTTP destination on 127.0.0.1 with fault-injection knobs.

    Args:
        required_headers: headers every request must carry with exactly these values
            (names compared case-insensitively); otherwise 401.
        fail_rows: ``row_id -> (status, body)``; a request touching that row answers
            that status and body (text, bytes or a :class:`StreamedBody`). A batch
            containing it fails as a whole.
        fail_times: ``row_id -> n``; the first ``n`` requests touching that row answer
            500, later ones succeed.
        latency_seconds: delay added to every response (``asyncio.sleep``).
        delete_missing_status: status for deleting a row that does not exist (per-row
            mode); 200 or 204 keep deletes idempotent.
        record_requests: keep a ``RecordedRequest`` per request in ``requests``.
        max_recorded_requests: bound on ``requests`` (oldest are dropped).
        host: interface to bind; the port is always ephemeral.
    """

    def __init__(
        self,
        *,
        required_headers: Mapping[str, str] | None = None,
        fail_rows: Mapping[str, tuple[int, Body]] | None = None,
        fail_times: Mapping[str, int] | None = None,
        latency_seconds: float = 0.0,
        delete_missing_status: int = 204,
        record_requests: bool = False,
        max_recorded_requests: int = 10_000,
        host: str = "127.0.0.1",
    ) -> None:
        self._lock = threading.Lock()
        self._required_headers: dict[str, str] = dict(required_headers or {})
        self._fail_rows: dict[str, tuple[int, Body]] = {
            str(k): (int(v[0]), v[1]) for k, v in (fail_rows or {}).items()
        }
        self._streamed: list[int] = []
        self._fail_times: dict[str, int] = {str(k): int(v) for k, v in (fail_times or {}).items()}
        self._latency = float(latency_seconds)
        self._delete_missing_status = int(delete_missing_status)
        self._record_requests = bool(record_requests)
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded_requests)
        self._request_count = 0
        self._rate_limit_left = 0
        self._retry_after: float | None = None
        self._server_errors_left = 0
        self._server_error_status = 503
        self._revoke_at: int | None = None
        self._reset_from: int | None = None  # first request number to reset
        self._reset_left: int | None = None  # how many more (None: all of them)
        self._reset_during: ResetDuring = "body"
        self._reset_count = 0
        self._records: dict[str, dict[str, Any]] = {}

        self._host = host
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Start serving on a background thread (idempotent) and return ``self``."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        self._port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="http-sink", daemon=True)
        self._thread.start()
        started.wait()
        asyncio.run_coroutine_threadsafe(self._serve(sock), loop).result(timeout=10)
        return self

    async def _serve(self, sock: socket.socket) -> None:
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    def stop(self) -> None:
        """Stop the server and its thread (idempotent). Stored state stays readable."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            runner = self._runner
            self._runner = None
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        if self._port is None or self._thread is None:
            raise RuntimeError("HttpSink is not running: use `with HttpSink() as sink` or start()")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._port is None:
            raise RuntimeError("HttpSink is not running")
        return self._port

    # ------------------------------------------------------------------ knobs

    @property
    def required_headers(self) -> dict[str, str]:
        """Headers every request must carry (copy); assign to replace."""
        with self._lock:
            return dict(self._required_headers)

    @required_headers.setter
    def required_headers(self, value: Mapping[str, str] | None) -> None:
        with self._lock:
            self._required_headers = dict(value or {})

    @property
    def fail_rows(self) -> dict[str, tuple[int, Body]]:
        """``row_id -> (status, body)`` failures (copy); assign to replace."""
        with self._lock:
            return dict(self._fail_rows)

    @fail_rows.setter
    def fail_rows(self, value: Mapping[str, tuple[int, Body]] | None) -> None:
        rows = {str(k): (int(v[0]), v[1]) for k, v in (value or {}).items()}
        with self._lock:
            self._fail_rows = rows

    def fail_row(self, row_id: str, status: int, body: Body = "") -> None:
        """Make every request touching ``row_id`` answer ``status`` with ``body``."""
        with self._lock:
            self._fail_rows[str(row_id)] = (int(status), body)

    @property
    def fail_times(self) -> dict[str, int]:
        """Remaining forced 500s per row (copy); assign to replace."""
        with self._lock:
            return dict(self._fail_times)

    @fail_times.setter
    def fail_times(self, value: Mapping[str, int] | None) -> None:
        counts = {str(k): int(v) for k, v in (value or {}).items()}
        with self._lock:
            self._fail_times = counts

    def clear_failures(self) -> None:
        """Drop every pending failure: fail_rows, fail_times, rate limits, 5xx, revocation."""
        with self._lock:
            self._fail_rows = {}
            self._fail_times = {}
            self._rate_limit_left = 0
            self._server_errors_left = 0
            self._revoke_at = None
            self._reset_from = None

    @property
    def latency_seconds(self) -> float:
        """Delay added before every response."""
        with self._lock:
            return self._latency

    @latency_seconds.setter
    def latency_seconds(self, value: float) -> None:
        with self._lock:
            self._latency = float(value)

    @property
    def delete_missing_status(self) -> int:
        """Status answered for a per-row delete of a row that does not exist."""
        with self._lock:
            return self._delete_missing_status

    @delete_missing_status.setter
    def delete_missing_status(self, value: int) -> None:
        with self._lock:
            self._delete_missing_status = int(value)

    @property
    def record_requests(self) -> bool:
        """Whether requests are kept in ``requests``."""
        with self._lock:
            return self._record_requests

    @record_requests.setter
    def record_requests(self, value: bool) -> None:
        with self._lock:
            self._record_requests = bool(value)

    def rate_limit_next(self, n: int, retry_after: float | None = None) -> None:
        """Answer the next ``n`` (authorized) requests with 429.

        ``retry_after`` (seconds) is sent as the ``Retry-After`` header when given.
        """
        with self._lock:
            self._rate_limit_left = int(n)
            self._retry_after = retry_after

    def server_errors_next(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` (authorized, not rate-limited) requests with ``status``."""
        with self._lock:
            self._server_errors_left = int(n)
            self._server_error_status = int(status)

    def revoke_after(self, n_requests: int) -> None:
        """Let ``n_requests`` more requests through, then answer every request 401."""
        with self._lock:
            self._revoke_at = self._request_count + int(n_requests)

    def restore_auth(self) -> None:
        """Undo ``revoke_after``."""
        with self._lock:
            self._revoke_at = None

    def reset_connections(
        self, during: ResetDuring, n: int | None = None, after: int = 0
    ) -> None:
        """Let ``after`` more requests through, then close the connection of the next ``n``
        requests (``None``: of every request, until ``clear_failures``) mid-exchange.

        ``during="body"``: the socket is closed after reading at most half of the request
        body (nothing of a body-less request); the request changes nothing.
        ``during="response"``: the request is applied, then the socket is closed after the
        status line, the headers and part of the announced body.
        """
        with self._lock:
            self._reset_from = self._request_count + int(after) + 1
            self._reset_left = None if n is None else int(n)
            self._reset_during = during

    @property
    def reset_count(self) -> int:
        """Number of requests whose connection was reset."""
        with self._lock:
            return self._reset_count

    # ------------------------------------------------------------------ observations

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """Snapshot ``{collection: {row_id: body}}`` (outer and per-collection dicts copied).

        Collections left empty by deletes are omitted.
        """
        with self._lock:
            return {c: dict(rows) for c, rows in self._records.items() if rows}

    def record(self, collection: str, row_id: str) -> Any:
        """The stored body of one record, or ``None``."""
        with self._lock:
            return self._records.get(collection, {}).get(row_id)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first (empty unless ``record_requests``)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget recorded requests (``request_count`` is kept)."""
        with self._lock:
            self._requests.clear()

    @property
    def streamed(self) -> list[int]:
        """Bytes of each :class:`StreamedBody` actually written to a client, in order (a
        client that stopped reading and closed the connection got less than ``size``)."""
        with self._lock:
            return list(self._streamed)

    @property
    def request_count(self) -> int:
        """Number of requests received since start (every outcome counts)."""
        with self._lock:
            return self._request_count

    def reset(self) -> None:
        """Clear records, recorded requests, the request count and every failure knob."""
        self.clear_failures()
        with self._lock:
            self._records = {}
            self._requests.clear()
            self._request_count = 0
            self._reset_count = 0

    # ------------------------------------------------------------------ handler

    def _take_reset(self) -> ResetDuring | None:
        """Whether the request numbered ``self._request_count`` is reset (lock held)."""
        if self._reset_from is None or self._request_count < self._reset_from:
            return None
        if self._reset_left is not None:
            if self._reset_left <= 0:
                return None
            self._reset_left -= 1
        self._reset_count += 1
        return self._reset_during

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        with self._lock:
            self._request_count += 1
            count = self._request_count
            reset = self._take_reset()
        if reset == "body":
            return await _reset_mid_body(request)
        raw = await request.content.read()
        try:
            body = json.loads(raw) if raw else None
            parse_error = False
        except ValueError:
            body = raw.decode("utf-8", "replace")
            parse_error = True
        raw_path = request.raw_path.split("?", 1)[0]
        method = request.method

        with self._lock:
            if self._record_requests:
                self._requests.append(
                    RecordedRequest(method, raw_path, CIMultiDict(request.headers), body, raw)
                )
            latency = self._latency
        if latency > 0:
            await asyncio.sleep(latency)

        try:
            with self._lock:
                self._check_gates(request, count)
            if parse_error:
                raise _error(400, "request body is not valid JSON")
            response = self._dispatch(method, raw_path, body)
        except _Reject as rej:
            if isinstance(rej.body, StreamedBody):
                return await self._stream(request, rej.status, rej.body)
            if isinstance(rej.body, bytes):  # claims UTF-8 text, as a careless server would
                return web.Response(
                    status=rej.status,
                    body=rej.body,
                    headers={"Content-Type": "text/plain; charset=utf-8", **rej.headers},
                )
            ctype = _JSON if rej.body[:1] in ("{", "[") else "text/plain"
            response = web.Response(
                status=rej.status, text=rej.body, content_type=ctype, headers=rej.headers
            )
        if reset == "response":
            return await _reset_mid_response(request, response)
        return response

    async def _stream(
        self, request: web.BaseRequest, status: int, body: StreamedBody
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": "text/plain"})
        response.content_length = body.size
        await response.prepare(request)
        written = 0
        try:
            while written < body.size:
                chunk = body.chunk[: body.size - written]
                await response.write(chunk)
                written += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading and closed the connection
        finally:
            with self._lock:
                self._streamed.append(written)
        return response

    def _check_gates(self, request: web.BaseRequest, count: int) -> None:
        """Auth, rate-limit and server-error gates (caller holds the lock)."""
        if self._revoke_at is not None and count > self._revoke_at:
            raise _error(401, "token revoked")
        for name, value in self._required_headers.items():
            if request.headers.get(name) != value:
                raise _error(401, f"missing or invalid header {name}")
        if self._rate_limit_left > 0:
            self._rate_limit_left -= 1
            headers = {}
            if self._retry_after is not None:
                ra = self._retry_after
                headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
            raise _Reject(429, json.dumps({"error": "rate limited"}), headers)
        if self._server_errors_left > 0:
            self._server_errors_left -= 1
            status = self._server_error_status
            raise _error(status, "injected server error")

    def _touch(self, row_ids: list[str]) -> None:
        """Apply fail_rows / fail_times to the rows a request touches (lock held)."""
        if self._fail_rows:
            for rid in row_ids:
                hit = self._fail_rows.get(rid)
                if hit is not None:
                    raise _Reject(hit[0], hit[1])
        if self._fail_times:
            failing = False
            for rid in row_ids:
                left = self._fail_times.get(rid, 0)
                if left > 0:
                    self._fail_times[rid] = left - 1
                    failing = True
            if failing:
                raise _error(500, "injected failure")

    def _dispatch(self, method: str, raw_path: str, body: Any) -> web.Response:
        segments = [unquote(s) for s in raw_path.strip("/").split("/")] if raw_path else []
        if isinstance(body, list):
            return self._batch(method, "/".join(segments), body)
        if body is not None and not isinstance(body, dict):
            raise _error(400, "body must be a JSON object or array")
        if not segments or segments[-1] == "":
            raise _error(400, "missing row id in path")
        collection, row_id = "/".join(segments[:-1]), segments[-1]

        if method in _UPSERT_METHODS:
            if body is None:
                raise _error(400, "upsert needs a JSON object body")
            with self._lock:
                self._touch([row_id])
                self._records.setdefault(collection, {})[row_id] = body
            return web.Response(body=_OK_BODY, content_type=_JSON)
        if method == "DELETE":
            with self._lock:
                self._touch([row_id])
                rows = self._records.get(collection)
                existed = rows is not None and rows.pop(row_id, _MISSING) is not _MISSING
                missing_status = self._delete_missing_status
            if existed:
                return web.Response(body=_OK_BODY, content_type=_JSON)
            if missing_status == 204:
                return web.Response(status=204)
            return web.Response(status=missing_status, body=_OK_BODY, content_type=_JSON)
        if method == "GET":
            with self._lock:
                found = self._records.get(collection, {}).get(row_id, _MISSING)
            if found is _MISSING:
                raise _error(404, "not found")
            return web.Response(text=json.dumps(found), content_type=_JSON)
        raise _Reject(405, json.dumps({"error": f"method {method} not allowed"}))

    def _batch(self, method: str, collection: str, items: list[Any]) -> web.Response:
        if method not in _UPSERT_METHODS and method != "DELETE":
            raise _Reject(405, json.dumps({"error": f"method {method} not allowed"}))
        parsed: list[tuple[str, dict[str, Any]]] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "row_id" not in item:
                raise _error(400, f"batch item {i} is not an object with a row_id")
            fields = {k: v for k, v in item.items() if k != "row_id"}
            parsed.append((str(item["row_id"]), fields))
        with self._lock:
            self._touch([rid for rid, _ in parsed])
            if method == "DELETE":
                rows = self._records.get(collection)
                if rows:
                    for rid, _ in parsed:
                        rows.pop(rid, None)
            else:
                rows = self._records.setdefault(collection, {})
                for rid, fields in parsed:
                    rows[rid] = fields
        return web.Response(text=json.dumps({"ok": True, "count": len(parsed)}), content_type=_JSON)


_MISSING = object()


async def _reset_mid_body(request: web.BaseRequest) -> web.StreamResponse:
    """Read at most half of the announced body, then drop the connection unanswered."""
    length = request.content_length or 0
    if length > 1:
        await request.content.read(length // 2)
    return _drop(request)


async def _reset_mid_response(
    request: web.BaseRequest, response: web.Response
) -> web.StreamResponse:
    """Send the status line, the headers and part of ``response``'s body, then drop."""
    body = bytes(response.body or b"") or b'{"ok":true}'
    partial = web.StreamResponse(status=response.status, headers={"Content-Type": _JSON})
    partial.content_length = len(body) + 64  # more than will ever come
    await partial.prepare(request)
    await partial.write(body[: max(1, len(body) // 2)])
    return _drop(request, partial)


def _drop(
    request: web.BaseRequest, response: web.StreamResponse | None = None
) -> web.StreamResponse:
    """Close the socket at once (an RST, not an orderly end of the response)."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close() sends a reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return response if response is not None else web.StreamResponse(status=499)
