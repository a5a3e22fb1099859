"""Delivery: the rows sent, the bare httpx loop, and the sink process.

The bare loop is the HTTP stack's limit: an ``httpx.AsyncClient`` sending the rows
with no engine around it, as ``PUT /users/{id}`` JSON objects (batch 1) or
``PUT /users`` JSON arrays (batch > 1), ``concurrency`` requests in flight. The rows
are built before the timing; JSON encoding is timed, as any sender pays it. The requests
are the ones the engine's ``http`` destination sends for a sync mapping ``MAPPED``: the
mapped fields as one object with the key in the path (batch 1), or arrays of objects
that also carry ``"row_id"`` (batch > 1). ``create_delivery_table`` gives the engine the
same rows as a DuckDB table.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from bench.common import KEY, MAPPED, REPO_DIR, env_with_repo_on_path, quote_ident

_FIRST = ["Alice", "Bob", "Carmen", "Dmitri", "Elena", "Farid", "Grace", "Hiroshi"]
_LAST = ["Anderson", "Bianchi", "Chen", "Dubois", "Eriksen", "Fernandez", "Garcia"]
_CITY = ["Amsterdam", "Buenos Aires", "Casablanca", "Dublin", "Edinburgh", "Frankfurt"]


def make_rows(n: int) -> list[dict[str, Any]]:
    """``n`` deterministic delta rows shaped like the model's mapped columns."""
    base = datetime(2015, 1, 1)
    rows = []
    for i in range(1, n + 1):
        first, last = _FIRST[i % len(_FIRST)], _LAST[(i // 7) % len(_LAST)]
        rows.append(
            {
                "user_id": i,
                "age": 18 + i % 70,
                "score": (i * 2654435761) % 1_000_000_000,
                "email": f"{first.lower()}.{last.lower()}{i % 10000}@example.com",
                "name": f"{first} {_FIRST[(i // 3) % len(_FIRST)]} {last}",
                "city": f"{_CITY[i % len(_CITY)]}, North {i % 100000:05d}",
                "created_at": (base + timedelta(seconds=(i * 7919) % 315_360_000)).isoformat(),
                "balance": None if i % 10 == 0 else round((i * 31) % 10_000_000 / 100, 2),
                "active": i % 3 != 0,
            }
        )
    return rows


def create_delivery_table(db_path: str, rows: int, table: str = "delta_users") -> None:
    """The rows of ``make_rows(rows)`` as a DuckDB table (key ``user_id`` + ``MAPPED``).

    For the engine's side of the delivery benchmark: a sync of this table with the
    ``MAPPED`` columns mapped sends the same requests as the bare loop.
    """
    import duckdb
    import pyarrow as pa

    data = pa.Table.from_pylist(make_rows(rows))  # noqa: F841 (read by DuckDB by name)
    cols = ", ".join(
        "created_at::TIMESTAMP AS created_at" if c == "created_at" else quote_ident(c)
        for c in [KEY, *MAPPED]
    )
    with duckdb.connect(db_path) as con:
        con.execute(
            f"CREATE OR REPLACE TABLE {quote_ident(table)} AS SELECT {cols} FROM data "
            f"ORDER BY {quote_ident(KEY)}"
        )


def _requests(rows: list[dict[str, Any]], batch_size: int) -> Iterator[tuple[str, Any]]:
    """What the engine's http destination sends: the mapped fields, the key in the path
    (batch 1) or as ``"row_id"`` in each array item (batch > 1)."""
    fields = [{c: row[c] for c in MAPPED} for row in rows]
    if batch_size == 1:
        return ((f"/users/{row[KEY]}", body) for row, body in zip(rows, fields, strict=True))
    items = [{**body, "row_id": str(row[KEY])} for row, body in zip(rows, fields, strict=True)]
    return (("/users", items[i : i + batch_size]) for i in range(0, len(items), batch_size))


async def _send_all(
    sink_url: str, requests: list[tuple[str, Any]], concurrency: int, transport: str
) -> tuple[float, int, int]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    options: dict[str, Any] = {}
    if transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        options["transport"] = AiohttpTransport(limits=limits)
    elif transport != "httpcore":
        raise ValueError(f"unknown transport {transport!r}: use httpcore or aiohttp")
    failures = 0
    sent = 0
    async with httpx.AsyncClient(
        base_url=sink_url, limits=limits, timeout=60.0, **options
    ) as client:
        pending = iter(requests)

        async def worker() -> None:
            nonlocal failures, sent
            for path, body in pending:
                response = await client.put(path, json=body)
                if response.status_code >= 300:
                    failures += 1
                sent += len(body) if isinstance(body, list) else 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return seconds, sent, failures


def run_bare(
    sink_url: str, rows: int, batch_size: int, concurrency: int, transport: str = "httpcore"
) -> dict[str, Any]:
    """Send ``rows`` rows with a bare httpx loop; returns rows/s and seconds.

    ``transport`` is httpx's own (``httpcore``) or ``aiohttp`` (``httpx-aiohttp``'s
    transport over aiohttp's connection pool, the one the engine's HTTP client uses).
    """
    requests = list(_requests(make_rows(rows), batch_size))
    seconds, sent, failures = asyncio.run(_send_all(sink_url, requests, concurrency, transport))
    return {
        "rows_per_s": sent / seconds,
        "seconds": seconds,
        "rows_sent": sent,
        "failed_requests": failures,
    }


class SinkProcess:
    """Handle on the sink process started by ``sink_process``."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self._proc = proc
        self.url = url
        self.pid = proc.pid

    def _ask(self, command: str) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return dict(json.loads(self._proc.stdout.readline()))

    def stats(self) -> dict[str, Any]:
        """Requests received and records stored since the last reset."""
        return self._ask("stats")

    def reset(self) -> None:
        """Forget the stored records and counts."""
        self._ask("reset")


@contextmanager
def sink_process(latency_seconds: float = 0.0) -> Iterator[SinkProcess]:
    """Run the project's fake HTTP destination in its own process (``latency_seconds``
    added to every response)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sink", str(latency_seconds)],
        cwd=REPO_DIR,
        env=env_with_repo_on_path(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"the HTTP sink did not start (it printed {line!r})")
        yield SinkProcess(proc, line.split(" ", 1)[1])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)
