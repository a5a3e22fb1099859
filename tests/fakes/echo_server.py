"""A real HTTP server on 127.0.0.1 that answers every request by echoing it back.

It plays the worst destination for secrets: its error body repeats what it received (the
request line with the query string, the headers, the body), and a redirect carries the same
in its ``Location``. Two knobs, changeable while it runs: ``status`` picks the answer (a
4xx/5xx with the echo as body, or a 3xx whose ``Location`` and body hold the echo as query
parameters), ``form`` the echo's encoding (``plain`` text, ``json``, or ``percent``-encoded).

Headers every client sends whatever it is configured with (``Host``, ``Accept``, ...) are
left out of the echo to keep it short, so all of it fits in what a failure reason keeps.

Example::

    with EchoServer(status=400) as echo:
        httpx.get(f"{echo.url}/x?token=t", headers={"Authorization": "Bearer t"}).text
        # 'GET /x?token=t | authorization: Bearer t | '
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from types import TracebackType
from typing import Self
from urllib.parse import quote, urlencode

from aiohttp import web

__all__ = ["EchoServer"]

ROUTINE_HEADERS = frozenset(
    {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}
)


class EchoServer:
    """Echoes every request back in an error body or a redirect (see module doc)."""

    FORMS = ("plain", "json", "percent")

    def __init__(self, status: int = 400, form: str = "plain") -> None:
        self.status = status
        self.form = form
        self.requests: list[str] = []  # the echo of every request, oldest first
        self._lock = threading.Lock()
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.ServerRunner | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._port is None:
            raise RuntimeError("EchoServer is not running: use `with EchoServer() as echo`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._port is None:
            raise RuntimeError("EchoServer is not running")
        return self._port

    def __enter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="echo", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(sock), loop).result(timeout=10)
        return self

    async def _serve(self, sock: socket.socket) -> None:
        runner = web.ServerRunner(web.Server(self._handle, access_log=None), handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = self._runner = None

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        body = (await request.read()).decode("utf-8", "replace")
        line = f"{request.method} {request.raw_path}"
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers = {k: v for k, v in headers.items() if k not in ROUTINE_HEADERS}
        plain = " | ".join([line, *(f"{k}: {v}" for k, v in headers.items()), body])
        echo = {
            "plain": plain,
            "json": json.dumps({"request": line, "headers": headers, "body": body}),
            "percent": quote(plain, safe=""),
        }[self.form]
        with self._lock:
            self.requests.append(plain)
            status = self.status
        if 300 <= status < 400:
            location = f"{self.url}/moved?{urlencode({'request': line, **headers})}"
            return web.Response(
                status=status, text=f"moved to {location}", headers={"Location": location}
            )
        return web.Response(status=status, text=echo, content_type="text/plain")
