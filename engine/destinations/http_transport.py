"""The httpx transport of :class:`~engine.destinations.http_client.HttpSender`: aiohttp's
connection pool, with every URL sent exactly as it was encoded.

``httpx-aiohttp`` hands aiohttp the request URL as text, and aiohttp (through ``yarl``)
normalizes a URL given as text: it decodes every percent-escape of a character that may
appear bare in a path (``%40`` -> ``@``, ``%3B`` -> ``;``, ``%26`` -> ``&``, ``%3D`` ->
``=``, ``%2B`` stays, ...). An identifier the engine encoded (``{row_id}`` in an ``http``
path, a Contentstack identifier) would then reach the server in another form than the one
documented, and an API that compares the raw path (Contentstack requires ``@`` encoded)
would see a different identifier. Here the URL goes to aiohttp as an already-encoded
``yarl.URL``, so the request line carries exactly the bytes httpx built.

A connection that cannot be made (refused, TLS, DNS) is reported as ``httpx.ConnectError``;
the library's mapping names every one of them ``ConnectTimeout``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from aiohttp import ClientConnectorError, ClientSession, ClientTimeout
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions
from yarl import URL


@contextmanager
def _connect_errors() -> Iterator[None]:
    try:
        yield
    except ClientConnectorError as error:
        raise httpx.ConnectError(str(error)) from error


class ExactUrlTransport(AiohttpTransport):
    """:class:`httpx_aiohttp.AiohttpTransport` without aiohttp's re-quoting of the URL
    (no proxy or Unix socket support: destinations use neither)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, ClientSession):
            self.client = self.get_client()
        client = self.client
        timeout = request.extensions.get("timeout", {})
        content: bytes | httpx.AsyncByteStream | None
        try:
            content = request.content or None
        except httpx.RequestNotRead:
            content = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp frames the body
        with map_aiohttp_exceptions(), _connect_errors():
            response = await client.request(
                method=request.method,
                url=URL(str(request.url), encoded=True),
                headers=request.headers,
                data=content,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes, as it would with its own transport
                compress=False,
                timeout=ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            ).__aenter__()
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=AiohttpResponseStream(response),
            request=request,
            extensions=extensions,
        )
