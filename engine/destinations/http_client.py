"""Shared HTTP machinery for destinations: one async httpx client, rate limit, retries.

Every destination that speaks HTTP sends through :class:`HttpSender`:

- one ``httpx.AsyncClient`` per run (connection reuse, pool sized to the concurrency);
- a rate limit on every attempt, retries included (``aiolimiter``);
- retries with exponential backoff and jitter on 429, 5xx, timeouts and connection errors
  (``tenacity``), waiting what ``Retry-After`` says when the server sends it;
- a final answer the caller classifies: :class:`Sent` (a response, perhaps still 429/5xx
  after the last attempt) or :class:`Unreachable` (the transport failed every attempt).

When several requests in a row could not reach the server at all (every attempt of each
failed in the transport), the destination is taken to be down or misconfigured (a wrong
``base_url``): :class:`DestinationUnreachableError` ends the run early instead of waiting
out the retries of every remaining row, which are recorded as aborted and retried next run.

401 and 403 are never retried: they mean the credentials are wrong, and the caller raises
:class:`~engine.destinations.base.DestinationAuthError`.

The client keeps httpx's API over aiohttp's connection pool (``httpx-aiohttp``, with the URL
sent exactly as encoded: :mod:`engine.destinations.http_transport`): httpcore's
own pool spends most of its time re-scanning connections once dozens of requests are in
flight (measured here: 170-220 requests/s at 32 concurrent against a local server, versus
680-780 with this transport; see bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
from contextlib import suppress
from urllib.parse import unquote

import aiohttp
import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from engine.destinations.base import FatalDestinationError
from engine.destinations.http_transport import ExactUrlTransport
from engine.storable import storable_text

UNREACHABLE_LIMIT = 5  # requests in a row that never reached the server: stop the run

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
NOT_FOUND_STATUS = frozenset({404, 410})
# What a lost connection or a timeout can raise through the transport.
TRANSPORT_ERRORS = (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError)
MAX_RETRY_AFTER_SECONDS = 300.0
#: Of an answer's body, this much is kept (for ``failure_reason``, which shows less).
KEEP_BODY_BYTES = 4 * 1024
#: A successful answer is read (and dropped) up to this size so its connection can be
#: reused; past it, or past ``KEEP_BODY_BYTES`` of an error, the connection is closed unread.
DRAIN_SUCCESS_BYTES = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    max_attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.5


@dataclasses.dataclass(frozen=True)
class Sent:
    """The last response of a request (after retries, if any).

    ``response`` has its status and headers but no content: its body was read only up to a
    bound (see :meth:`HttpSender.send`), and what was kept of it is ``body``.
    """

    response: httpx.Response
    attempts: int
    body: bytes = b""


@dataclasses.dataclass(frozen=True)
class Unreachable:
    """Every attempt failed in the transport (timeout, refused, reset)."""

    error: str
    attempts: int


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The wait a ``Retry-After`` header asks for (seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        seconds = (parsed - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def body_text(result: Sent, limit: int = 500) -> str:
    """The kept part of a response's body as one storable line of at most ``limit``
    characters, decoded with its declared charset, else UTF-8 (see :mod:`engine.storable`)."""
    text: str | None = None
    charset = result.response.charset_encoding
    if charset:
        with suppress(LookupError):  # an unknown charset is read as UTF-8
            text = result.body.decode(charset, "backslashreplace")
    if text is None:
        text = result.body.decode("utf-8", "backslashreplace")
    return storable_text(text.strip().replace("\r\n", " ").replace("\n", " "), limit)


async def read_bounded(response: httpx.Response, keep: int) -> bytes:
    """The first ``keep`` bytes of a streamed response's (decoded) body; the rest is never
    held. An error's body is read no further than ``keep``; a success's is read on (and
    dropped) up to ``DRAIN_SUCCESS_BYTES`` so that its connection stays reusable. The
    connection of a body not read to its end is closed by ``aclose``."""
    kept = bytearray()
    read = 0
    limit = max(keep, DRAIN_SUCCESS_BYTES) if response.is_success else keep
    async for chunk in response.aiter_bytes():
        read += len(chunk)
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
        if read >= limit:
            break
    return bytes(kept)


def status_line(result: Sent) -> str:
    """``HTTP <status> <reason>``, and for a redirect where it points (never followed)."""
    response = result.response
    head = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if 300 <= response.status_code < 400:
        location = response.headers.get("location")
        where = f"to Location {storable_text(location, 500)}" if location else "without a Location"
        head += f" (a redirect {where}; redirects are not followed)"
    return head


def describe_failure(result: Sent | Unreachable, limit: int = 500) -> str:
    """A failure_reason: the status and the body (trimmed), or the transport error."""
    if isinstance(result, Unreachable):
        return f"request failed after {result.attempts} attempt(s): {result.error}"
    suffix = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    return f"{status_line(result)}{suffix}: {body_text(result, limit)}".rstrip(": ")


def shared_cause(
    result: Sent | Unreachable, path: str | None, not_found_is_row: bool
) -> str | None:
    """What a failed request has in common with the same failure of any other row, when the
    failure cannot be about the row: the transport error (refused, TLS, DNS, timeout), a
    redirect, a method the route does not allow, and a 404/410 when ``not_found_is_row`` is
    false (the request creates or replaces, so no missing record can explain it). None
    when the answer may be about the row (any other status). The request's own ``path``
    (as sent and decoded) is left out of the answer, so that rows failing the same way at
    their own paths compare equal.
    """
    if isinstance(result, Unreachable):
        return result.error
    status = result.response.status_code
    if 300 <= status < 400:
        text = result.response.headers.get("location", "")
    elif status == 405 or (status in NOT_FOUND_STATUS and not not_found_is_row):
        text = body_text(result)
    else:
        return None
    if path and path != "/":
        for form in (path, unquote(path)):
            text = text.replace(form, "{path}")
    return f"{status} {text}"


class DestinationUnreachableError(FatalDestinationError):
    """Several requests in a row could not reach the server."""


class HttpSender:
    """Sends requests with connection reuse, a rate limit and retries (see module doc)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str] | None = None,
        concurrency: int = 8,
        rate_limit_per_second: float | None = None,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
    ):
        self.retry = retry or RetryPolicy()
        limits = httpx.Limits(
            max_connections=max(1, concurrency), max_keepalive_connections=max(1, concurrency)
        )
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers or {},
            timeout=httpx.Timeout(timeout_seconds),
            limits=limits,
            transport=ExactUrlTransport(limits=limits),
        )
        self.limiter = (
            AsyncLimiter(rate_limit_per_second, 1.0)
            if rate_limit_per_second and rate_limit_per_second > 0
            else None
        )
        self.base_url = base_url
        self.unreachable_in_a_row = 0
        self._backoff = wait_exponential_jitter(
            multiplier=self.retry.initial_backoff,
            max=self.retry.max_backoff,
            jitter=self.retry.jitter,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            wait = retry_after_seconds(outcome.result().response)
            if wait is not None:
                return wait
        return float(self._backoff(state))

    async def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], keep: int
    ) -> Sent:
        """One attempt: wait for the rate limit, send, read the response's body up to a
        bound (see :func:`read_bounded`)."""
        if self.limiter is not None:
            await self.limiter.acquire()
        request = self.client.build_request(method, url, content=body, headers=headers)
        response = await self.client.send(request, stream=True)
        try:
            kept = await read_bounded(response, keep)
        finally:
            await response.aclose()
        return Sent(response, 1, kept)

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        keep_bytes: int = KEEP_BODY_BYTES,
    ) -> Sent | Unreachable:
        """Send one request, retrying transient failures; never raises for HTTP errors.

        Of the response's body at most ``keep_bytes`` are kept (in :attr:`Sent.body`)."""
        request_headers = dict(headers or {})
        if body is not None:
            request_headers.setdefault("content-type", "application/json")
        # The first attempt goes out directly: most requests need no retry, and building a
        # retry controller for each one costs more than the request itself (measured).
        first: Sent | BaseException
        try:
            first = await self._request(method, url, body, request_headers, keep_bytes)
        except TRANSPORT_ERRORS as error:
            first = error
        else:
            if first.response.status_code not in RETRYABLE_STATUS:
                self.unreachable_in_a_row = 0
                return first
        replay = [first]
        attempts = 1

        async def attempt() -> Sent:
            nonlocal attempts
            if replay:  # the retry controller's first attempt is the one already made
                outcome = replay.pop()
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
            attempts += 1
            return await self._request(method, url, body, request_headers, keep_bytes)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=(
                retry_if_exception_type(TRANSPORT_ERRORS)
                | retry_if_result(lambda r: r.response.status_code in RETRYABLE_STATUS)
            ),
            # After the last attempt: return its response (a 429/5xx), or raise its error.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            reraise=True,
        )
        try:
            last: Sent = await retrying(attempt)
        except TRANSPORT_ERRORS as error:
            self.unreachable_in_a_row += 1
            detail = f"{type(error).__name__}: {error}".rstrip(": ")
            if self.unreachable_in_a_row >= UNREACHABLE_LIMIT:
                raise DestinationUnreachableError(
                    f"Cannot reach {self.base_url}: {self.unreachable_in_a_row} requests in a row "
                    f"failed after {attempts} attempts each ({detail}). Fix: check that the "
                    "destination is up and its URL setting is right, then run again; rows not "
                    "yet sent were recorded as aborted and will be retried."
                ) from error
            return Unreachable(detail, attempts)
        self.unreachable_in_a_row = 0
        return dataclasses.replace(last, attempts=attempts)
