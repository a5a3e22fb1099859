"""A bare HTTP/1.1 server on 127.0.0.1 that records each request line as the bytes received.

No HTTP library parses the request here: the first line of every request is kept verbatim
(``requests``), so a test sees exactly what went over the socket (percent-escapes
included), not what a framework or client decoded. Each request is answered with
``status`` and ``body`` (a JSON object by default), or with what ``respond`` returns for its
request line (status, extra headers, body); keep-alive is honoured.

Example::

    with RawHttpServer() as server:
        httpx.put(f"{server.url}/users/a%40b", json={})
        assert server.requests == [b"PUT /users/a%40b HTTP/1.1"]
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

__all__ = ["RawHttpServer"]

_REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    404: "Not Found",
    500: "Internal Server Error",
}
Respond = Callable[[bytes], tuple[int, dict[str, str], bytes]]


class RawHttpServer:
    """Records request lines; answers every request with one fixed response."""

    def __init__(
        self, status: int = 200, body: bytes = b"{}", respond: Respond | None = None
    ) -> None:
        self.respond: Respond = respond or (lambda line: (status, {}, body))
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def requests(self) -> list[bytes]:
        """Each request line received, without its CRLF, oldest first."""
        with self._lock:
            return list(self._lines)

    def start(self) -> Self:
        """Serve on a background thread."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0)
            )
            self._port = self._server.sockets[0].getsockname()[1]
            loop.call_soon(ready.set)
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="raw-http", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                with self._lock:
                    self._lines.append(line.rstrip(b"\r\n"))
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                status, headers, body = self.respond(line.rstrip(b"\r\n"))
                head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
                headers = {"Content-Type": "application/json", **headers}
                head += [f"{name}: {value}" for name, value in headers.items()]
                head.append(f"Content-Length: {len(body)}")
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
