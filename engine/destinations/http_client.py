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
import datetime as dt
import email.utils
from dataclasses import dataclass

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

UNREACHABLE_LIMIT = 5  # requests in a row that never reached the server: stop the run

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# What a lost connection or a timeout can raise through the transport.
TRANSPORT_ERRORS = (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError)
MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    max_attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.5


@dataclass(frozen=True)
class Sent:
    """The last response of a request (after retries, if any)."""

    response: httpx.Response
    attempts: int


@dataclass(frozen=True)
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


def describe_failure(result: Sent | Unreachable, limit: int = 500) -> str:
    """A failure_reason: the status and the body (trimmed), or the transport error."""
    if isinstance(result, Unreachable):
        return f"request failed after {result.attempts} attempt(s): {result.error}"
    response = result.response
    body = response.text.strip().replace("\n", " ")
    if len(body) > limit:
        body = body[:limit] + "..."
    suffix = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    return f"HTTP {response.status_code} {response.reason_phrase}{suffix}: {body}".rstrip(": ")


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
            wait = retry_after_seconds(outcome.result())
            if wait is not None:
                return wait
        return float(self._backoff(state))

    async def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        """One attempt: wait for the rate limit, send, read the whole response."""
        if self.limiter is not None:
            await self.limiter.acquire()
        response = await self.client.request(method, url, content=body, headers=headers)
        await response.aread()
        return response

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent | Unreachable:
        """Send one request, retrying transient failures; never raises for HTTP errors."""
        request_headers = dict(headers or {})
        if body is not None:
            request_headers.setdefault("content-type", "application/json")
        # The first attempt goes out directly: most requests need no retry, and building a
        # retry controller for each one costs more than the request itself (measured).
        first: httpx.Response | BaseException
        try:
            first = await self._request(method, url, body, request_headers)
        except TRANSPORT_ERRORS as error:
            first = error
        else:
            if first.status_code not in RETRYABLE_STATUS:
                self.unreachable_in_a_row = 0
                return Sent(first, 1)
        replay = [first]
        attempts = 1

        async def attempt() -> httpx.Response:
            nonlocal attempts
            if replay:  # the retry controller's first attempt is the one already made
                outcome = replay.pop()
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
            attempts += 1
            return await self._request(method, url, body, request_headers)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=(
                retry_if_exception_type(TRANSPORT_ERRORS)
                | retry_if_result(lambda r: r.status_code in RETRYABLE_STATUS)
            ),
            # After the last attempt: return its response (a 429/5xx), or raise its error.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
            reraise=True,
        )
        try:
            response: httpx.Response = await retrying(attempt)
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
        return Sent(response, attempts)
