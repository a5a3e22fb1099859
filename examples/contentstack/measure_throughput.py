"""Rows per second of a Contentstack users sync against the local fake, by concurrency.

    python examples/contentstack/measure_throughput.py                    # 100,000 rows, 1/8/32
    python examples/contentstack/measure_throughput.py --rows 10000 --concurrency 1
    python examples/contentstack/measure_throughput.py --profile          # where time goes
    python examples/contentstack/measure_throughput.py --verify           # check every request
    python examples/contentstack/measure_throughput.py --bare             # and a bare client

Each concurrency gets a fresh project and warehouse (``seed.py``'s users) and a fresh
fake Contentstack (``tests/fakes/contentstack.py``) in its own process on 127.0.0.1, with
``--latency`` seconds of server latency per request (5 ms by default) and no request
recording. The sync is ``users_to_dal`` of the example project: ``PATCH
/v2/attributes/user/email_sha256/{hash}`` with three attributes and an audiences list, one
request per row. Printed per concurrency: delivery seconds, rows/second, the ceiling
``concurrency / latency``, and the CPU the engine's process used per row (when that times
the rate is near one core, the client's CPU, not the server or the rate limit, is the
bound). ``--profile`` adds the functions that took the most CPU, grouped by package.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.project_file import load_project  # noqa: E402
from engine.run import run_sync  # noqa: E402
from examples.contentstack.seed import seed  # noqa: E402

DAL_TOKEN = "at.fakedal.token"
SERVER = """
import sys
sys.path.insert(0, {repo!r})
from tests.fakes.contentstack import FakeContentstack
fake = FakeContentstack(record_requests={verify!r}, latency_seconds={latency!r})
fake.start()
print(fake.url, flush=True)
sys.stdin.read()
fake.stop()
if {verify!r}:
    from examples.contentstack.measure_throughput import verify
    print(verify(fake.requests, {rows!r}), flush=True)
"""


def verify(requests: list[Any], rows: int) -> str:
    """Check every recorded request of a users_to_dal run of ``rows`` seeded users."""
    from engine.destinations.contentstack_rows import hash_email
    from examples.contentstack.seed import AUDIENCES

    expected = {hash_email(f"user{i}@example.com"): i for i in range(1, rows + 1)}
    seen: set[int] = set()
    problems: list[str] = []
    for request in requests:
        value = request.raw_path.removeprefix("/v2/attributes/user/email_sha256/")
        i = expected.get(value)
        body = request.json()
        audiences = [AUDIENCES[0]] if i is not None and i % 2 == 0 else list(AUDIENCES)
        checks = {
            "method": request.method == "PATCH",
            "status": request.status == 200,
            "authorization": request.headers.get("authorization") == DAL_TOKEN,
            "content-type": request.headers.get("content-type") == "application/json",
            "identifier": i is not None and i not in seen,
            "body": i is not None
            and body.get("first_name") == f"First{i}"
            and set(body) == {"first_name", "plan", "lifetime_value", "external_audiences"},
            "audiences": body.get("external_audiences") == audiences,
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            problems.append(f"{request.method} {request.raw_path}: {', '.join(failed)}")
        if i is not None:
            seen.add(i)
    if len(seen) != rows:
        problems.append(f"{rows - len(seen)} users were never sent")
    if problems:
        return f"verify: {len(problems)} problem(s), e.g. " + "; ".join(problems[:5])
    return (
        f"verify: all {len(requests):,} requests well-formed (PATCH, Authorization without "
        "Bearer, SHA-256 of the normalized email in the path, attributes, audiences), one "
        "per user"
    )


def start_fake(latency: float, verify_rows: int | None = None) -> tuple[subprocess.Popen[str], str]:
    """The fake in its own process (so it does not share this process's CPU); its URL.

    With ``verify_rows`` it records every request and, when stopped, prints whether each
    was well-formed (see :func:`verify`).
    """
    code = SERVER.format(
        repo=str(REPO), latency=latency, verify=verify_rows is not None, rows=verify_rows
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def write_project(directory: Path, url: str, concurrency: int, rate: float | None) -> None:
    """The example project, pointed at the fake, with the given concurrency and rate."""
    project = yaml.safe_load((REPO / "examples/contentstack/lightning.yml").read_text())
    dest = project["destinations"]["contentstack"]
    dest.update(access_token=DAL_TOKEN, api_base_url=url, project_uid="p", auth_token="t")
    block = project["syncs"]["users_to_dal"]["contentstack"]
    block["concurrency"] = concurrency
    block["rate_limit_per_second"] = rate
    (directory / "lightning.yml").write_text(yaml.safe_dump(project, sort_keys=False))


def profile_summary(profiler: cProfile.Profile, top: int = 12) -> str:
    """Own CPU time by package, then the functions with the most own time."""
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        path = filename.replace("\\", "/")
        if "site-packages/" in path:
            package = path.split("site-packages/", 1)[1].split("/", 1)[0]
        elif path.startswith(str(REPO)):
            package = "lightning:" + path[len(str(REPO)) + 1 :].split("/", 1)[0]
        elif path.startswith("~") or "<" in path:
            package = "builtins"
        else:
            package = "stdlib:" + Path(path).stem
        by_package[package] += tottime
        rows.append((tottime, f"{Path(path).name}:{line}({name})"))
    total = sum(by_package.values()) or 1.0
    lines = ["  own CPU by package:"]
    for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {seconds:7.2f} s {100 * seconds / total:5.1f}%  {package}")
    lines.append("  top functions (own time):")
    for seconds, where in sorted(rows, reverse=True)[:top]:
        lines.append(f"    {seconds:7.2f} s  {where}")
    return "\n".join(lines)


def measure(
    rows: int,
    concurrency: int,
    latency: float,
    rate: float | None,
    profile: bool = False,
    check: bool = False,
) -> dict[str, float]:
    """One sync of ``rows`` new users at ``concurrency``; its figures."""
    process, url = start_fake(latency, rows if check else None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            seed(directory / "warehouse.duckdb", rows)
            write_project(directory, url, concurrency, rate)
            project = load_project(directory / "lightning.yml")
            profiler = cProfile.Profile() if profile else None
            cpu = time.process_time()
            if profiler is not None:
                profiler.enable()
            result = run_sync(project, "users_to_dal")
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - cpu
    finally:
        assert process.stdin is not None
        process.stdin.close()
        assert process.stdout is not None
        verdict = process.stdout.read().strip()
        process.wait(timeout=60)
    counts = result.counters.as_dict()
    succeeded = counts["succeeded"]["added"]
    if result.status != "succeeded" or succeeded != rows:
        raise SystemExit(f"run did not deliver every row: {result.status} {counts}")
    seconds = result.timings["deliver"]
    figures = {
        "concurrency": concurrency,
        "rows": rows,
        "deliver_seconds": seconds,
        "rows_per_second": rows / seconds,
        "ceiling": concurrency / latency if latency else float("inf"),
        "cpu_ms_per_row": 1000 * cpu / rows,
    }
    print(
        f"concurrency {concurrency:>3}: {rows:,} rows delivered in {seconds:,.1f} s = "
        f"{rows / seconds:,.0f} rows/s (ceiling {figures['ceiling']:,.0f}); engine process "
        f"CPU {figures['cpu_ms_per_row']:.2f} ms/row = "
        f"{cpu / max(seconds, 1e-9):.0%} of one core over the run",
        flush=True,
    )
    if profiler is not None:
        print(profile_summary(profiler), flush=True)
    if verdict:
        print("  " + verdict, flush=True)
    return figures


def measure_bare(rows: int, concurrency: int, latency: float) -> float:
    """Rows/s of a bare httpx loop (the engine's transport, nothing around it) sending the
    same PATCH requests to a fresh fake: what this server and HTTP stack allow."""
    import asyncio

    import httpx
    import orjson
    from httpx_aiohttp import AiohttpTransport

    from engine.destinations.contentstack_rows import hash_email
    from examples.contentstack.seed import AUDIENCES

    requests = [
        (
            f"/v2/attributes/user/email_sha256/{hash_email(f'user{i}@example.com')}",
            orjson.dumps(
                {
                    "first_name": f"First{i}",
                    "plan": "pro",
                    "lifetime_value": 1.5,
                    "external_audiences": list(AUDIENCES),
                }
            ),
        )
        for i in range(1, rows + 1)
    ]

    async def send_all(url: str) -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"authorization": DAL_TOKEN, "content-type": "application/json"}
        async with httpx.AsyncClient(
            base_url=url, limits=limits, transport=AiohttpTransport(limits=limits)
        ) as client:
            pending = iter(requests)

            async def worker() -> None:
                for path, body in pending:
                    response = await client.patch(path, content=body, headers=headers)
                    if response.status_code != 200:
                        raise SystemExit(f"bare loop: HTTP {response.status_code} {response.text}")

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started

    process, url = start_fake(latency)
    try:
        seconds = asyncio.run(send_all(url))
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=60)
    print(
        f"concurrency {concurrency:>3}: bare httpx loop, same requests and server: "
        f"{rows / seconds:,.0f} rows/s",
        flush=True,
    )
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--latency", type=float, default=0.005, help="server latency, seconds")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--profile", action="store_true", help="cProfile the engine's process")
    parser.add_argument(
        "--bare",
        action="store_true",
        help="also time a bare httpx loop sending the same requests (the server's limit)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="record every request in the fake and check each one (slows the fake down)",
    )
    args = parser.parse_args()
    print(
        f"{args.rows:,} users, server latency {args.latency * 1000:g} ms, rate limit "
        f"{args.rate_limit or 'none'}",
        flush=True,
    )
    for concurrency in args.concurrency:
        measure(args.rows, concurrency, args.latency, args.rate_limit, args.profile, args.verify)
        if args.bare:
            measure_bare(args.rows, concurrency, args.latency)


if __name__ == "__main__":
    main()
