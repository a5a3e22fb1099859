"""The benchmark's latency proxy (bench/latency_proxy.py), on real sockets on 127.0.0.1:
round trips take at least twice the configured one-way delay, data arrives whole and in
order, and a stream is not slowed down by the delay once per chunk."""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DELAY_MS = 40


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1 << 16):
            self.request.sendall(data)


@pytest.fixture
def proxied() -> Iterator[tuple[str, int]]:
    """An echo server behind the proxy (its own process); yields the proxy's address."""
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.latency_proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            f"127.0.0.1:{echo.server_address[1]}",
            "--delay-ms",
            str(DELAY_MS),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening "), line
        host, _, port = line.split()[1].rpartition(":")
        yield host, int(port)
    finally:
        proc.terminate()
        proc.wait(10)
        echo.shutdown()
        echo.server_close()


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        part = sock.recv(min(1 << 16, size - got))
        assert part, "connection closed early"
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def test_round_trip_takes_at_least_twice_the_delay(proxied: tuple[str, int]) -> None:
    with socket.create_connection(proxied, timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(5):
            message = f"ping {i}".encode()
            started = time.perf_counter()
            sock.sendall(message)
            assert _recv_exactly(sock, len(message)) == message
            elapsed_ms = (time.perf_counter() - started) * 1000
            assert elapsed_ms >= 2 * DELAY_MS, elapsed_ms


def test_stream_arrives_whole_in_order_and_is_not_delayed_per_chunk(
    proxied: tuple[str, int],
) -> None:
    chunks = 400
    chunk = 16 * 1024
    payload = b"".join(i.to_bytes(4, "big") * (chunk // 4) for i in range(chunks))
    with socket.create_connection(proxied, timeout=30) as sock:
        received: list[bytes] = []
        reader = threading.Thread(
            target=lambda: received.append(_recv_exactly(sock, len(payload)))
        )
        started = time.perf_counter()
        reader.start()
        for i in range(chunks):
            sock.sendall(payload[i * chunk : (i + 1) * chunk])
        reader.join(30)
        elapsed = time.perf_counter() - started
    assert received and received[0] == payload
    # Delayed once per chunk and direction, the reads (up to 64 KiB each) would take
    # over 4 s.
    assert 2 * DELAY_MS / 1000 <= elapsed < 2.0, elapsed
