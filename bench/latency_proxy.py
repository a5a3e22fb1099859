"""A TCP proxy that adds latency: each chunk is held for the one-way delay, both ways.

python -m bench.latency_proxy --listen 10.231.1.2:6432 --upstream 127.0.0.1:5432 --delay-ms 10

The kernel here has no ``netem``; this stands in for it. Every chunk read from one side is
stamped with the time it may leave (arrival + delay) and queued; a writer per direction
sends the chunks in order, each as soon as its time has come. The delay is applied per
chunk by timestamp, not by sleeping once per chunk, so a stream of chunks is delayed as a
whole and its throughput is not capped by the delay. A round trip through the proxy costs
twice the one-way delay on top of the link's own.

The proxy prints ``listening HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time

CHUNK_BYTES = 1 << 16
# Chunks queued per direction before reading stops (backpressure): 64 MiB at most.
QUEUE_CHUNKS = 1024


async def _read_side(
    reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes]], delay_s: float
) -> None:
    try:
        while chunk := await reader.read(CHUNK_BYTES):
            await queue.put((time.monotonic() + delay_s, chunk))
    except (ConnectionError, OSError):
        pass
    finally:
        await queue.put((0.0, b""))  # end of stream


async def _write_side(
    queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay_s`` after it arrived, in order."""
    if delay_s <= 0:
        try:
            while chunk := await reader.read(CHUNK_BYTES):
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass
        return
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_CHUNKS)
    await asyncio.gather(_read_side(reader, queue, delay_s), _write_side(queue, writer))


class LatencyProxy:
    """Accepts on ``listen``, connects each client to ``upstream``, delays both directions."""

    def __init__(self, upstream: tuple[str, int], delay_s: float) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self.server: asyncio.Server | None = None

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter):
        try:
            u_reader, u_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            c_writer.close()
            return
        try:
            await asyncio.gather(
                _pipe(c_reader, u_writer, self.delay_s), _pipe(u_reader, c_writer, self.delay_s)
            )
        finally:
            for writer in (u_writer, c_writer):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Start accepting; returns the address bound (``port`` 0 picks a free one)."""
        self.server = await asyncio.start_server(self._handle, host, port)
        bound = self.server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1.0)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


async def _serve(listen: tuple[str, int], upstream: tuple[str, int], delay_s: float) -> None:
    proxy = LatencyProxy(upstream, delay_s)
    host, port = await proxy.start(*listen)
    print(f"listening {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await proxy.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True, help="HOST:PORT to accept on")
    parser.add_argument("--upstream", type=_address, required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, required=True, help="one-way delay per direction")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(_serve(args.listen, args.upstream, args.delay_ms / 1000.0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
