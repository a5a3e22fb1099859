"""Delivery past one core: ``workers: 1`` against ``workers: 2`` at batch size 1, beside a
bare httpx loop in one and in two processes.

python -m bench.workers                              # 20,000 rows, medians of 3
python -m bench.workers --rows 2000 --repeats 1      # quicker

Every case sends the same rows (``bench.delivery.create_delivery_table``) one request each
to the project's fake HTTP destination in its own process (``bench.sink``) answering every
request after ``--latency`` (5 ms). The engine runs the ``http`` destination at concurrency
32 in total (16 per worker with two); the bare loop (``bench.delivery.run_bare``, the aiohttp
transport the engine's client uses) sends the same requests from one process at concurrency
32, or from two processes at 16 each, both starting at one agreed instant. Cases are
interleaved (engine 1, bare 1, engine 2, bare 2, then again); medians of ``--repeats``.

Rates: the engine's over its ``deliver`` phase (which includes starting the worker
processes), the bare loop's from the agreed start to the last process's end. CPU: seconds
each process used during the case over the case's wall time (1.0 = one core busy): the sink
(``/proc``), the run's own process and its workers (``getrusage``), the bare processes
(their own ``process_time``), and the whole machine (``/proc/stat``: every process, also
other work on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import sections
from bench.common import BENCH_DIR, KEY, MAPPED
from bench.delivery import SinkProcess, create_delivery_table, run_bare, sink_process
from bench.lightning import SYNC, _duckdb_source, _write_project

CONCURRENCY = 32
CASES = (("engine", 1), ("bare", 1), ("engine", 2), ("bare", 2))
START_DELAY = 3.0  # seconds for the bare processes to start before the agreed instant


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def _usage(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def engine_case(
    sink: SinkProcess, source_db: Path, rows: int, workers: int, concurrency: int = CONCURRENCY
) -> dict[str, Any]:
    """One first run (every row added) with ``workers`` processes, on a copy of the table."""
    from engine.project_file import load_project
    from engine.run import run_sync

    with tempfile.TemporaryDirectory(prefix="lightning-bench-") as workdir:
        db_path = Path(workdir) / "delivery.duckdb"
        shutil.copy(source_db, db_path)
        put = {"method": "PUT", "path": "/users/{row_id}"}
        project_file = _write_project(
            workdir,
            _duckdb_source(str(db_path)),
            "delta_users",
            KEY,
            MAPPED,
            {"type": "http", "base_url": sink.url},
            {
                "http": {
                    "added": put,
                    "changed": put,
                    "removed": {"method": "DELETE", "path": "/users/{row_id}"},
                    "concurrency": concurrency,
                },
                "sync_logs": False,
                "workers": workers,
            },
        )
        project = load_project(project_file)
        own, children = _usage(resource.RUSAGE_SELF), _usage(resource.RUSAGE_CHILDREN)
        served, machine = cpu_seconds(sink.pid), machine_cpu_seconds()
        started = time.perf_counter()
        result = run_sync(project, SYNC)
        wall = time.perf_counter() - started
        if result.status != "succeeded" or any(result.counters.failed.values()):
            raise RuntimeError(f"workers {workers}: {json.dumps(result.as_dict())}")
        return {
            "rows_per_s": rows / result.timings["deliver"],
            "cpu": {
                "sink": (cpu_seconds(sink.pid) - served) / wall,
                "run": (_usage(resource.RUSAGE_SELF) - own) / wall,
                "workers": (_usage(resource.RUSAGE_CHILDREN) - children) / wall,
                "machine": (machine_cpu_seconds() - machine) / wall,
            },
        }


def _bare_part(url: str, rows: int, concurrency: int, start_at: float, out: Any) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    cpu = time.process_time()
    result = run_bare(url, rows, 1, concurrency, "aiohttp")
    out.put((time.time(), time.process_time() - cpu, result["rows_sent"]))


def bare_case(
    sink: SinkProcess, rows: int, processes: int, concurrency: int = CONCURRENCY
) -> dict[str, Any]:
    """The same requests from ``processes`` bare httpx loops starting at one instant."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + START_DELAY
    parts = [
        context.Process(
            target=_bare_part,
            args=(sink.url, rows // processes, concurrency // processes, start_at, results),
        )
        for _ in range(processes)
    ]
    for part in parts:
        part.start()
    time.sleep(max(0.0, start_at - time.time()))
    served, machine = cpu_seconds(sink.pid), machine_cpu_seconds()
    answers = [results.get(timeout=600) for _ in parts]
    machine = machine_cpu_seconds() - machine
    for part in parts:
        part.join()
    wall = max(end for end, _, _ in answers) - start_at
    sent = sum(n for _, _, n in answers)
    return {
        "rows_per_s": sent / wall,
        "cpu": {
            "sink": (cpu_seconds(sink.pid) - served) / wall,
            "bare": sum(cpu for _, cpu, _ in answers) / wall,
            "machine": machine / wall,
        },
    }


def _median_cpu(samples: list[dict[str, Any]]) -> str:
    names = samples[0]["cpu"].keys()
    return ", ".join(
        f"{name} {statistics.median(s['cpu'][name] for s in samples):.2f}" for name in names
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="in total")
    parser.add_argument("--report", default=str(BENCH_DIR / "RESULTS.md"))
    args = parser.parse_args()
    command = "python -m bench.workers " + " ".join(sys.argv[1:])
    load = f"{os.getloadavg()[0]:.1f}"
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {case: [] for case in CASES}
    with (
        tempfile.TemporaryDirectory(prefix="lightning-bench-") as data,
        sink_process(args.latency) as sink,
    ):
        source_db = Path(data) / "rows.duckdb"
        create_delivery_table(str(source_db), args.rows)
        for rep in range(args.repeats):
            for kind, n in CASES:
                sink.reset()
                if kind == "engine":
                    sample = engine_case(sink, source_db, args.rows, n, args.concurrency)
                else:
                    sample = bare_case(sink, args.rows, n, args.concurrency)
                got = sink.stats()["requests"]
                if got != args.rows:
                    raise RuntimeError(f"{kind} {n}: the sink got {got} requests, not {args.rows}")
                samples[(kind, n)].append(sample)
                print(f"run {rep + 1} {kind:<6} x{n} {sample['rows_per_s']:9,.0f} rows/s {sample}")
    rate = {case: statistics.median(s["rows_per_s"] for s in got) for case, got in samples.items()}
    lines = [
        sections.WORKERS[0],
        "## Delivery past one core: `workers` (http, batch size 1, DuckDB)",
        "",
        f"Command: `{command}`. {args.rows:,} rows, one request each, to `bench.sink` (its own",
        f"process) answering after {args.latency * 1000:g} ms; concurrency "
        f"{args.concurrency} in total.",
        f"Cases interleaved, medians of {args.repeats}. Load average at the start: {load}",
        f"({os.cpu_count()} cores, shared by the sink, the run and its workers). CPU: cores busy",
        "during the case (CPU seconds over wall seconds), medians. See bench/workers.py.",
        "",
        f"| case | processes | rows/s (median of {args.repeats}) | runs | x one process | CPU |",
        "|---|---|---|---|---|---|",
    ]
    for kind, n in CASES:
        got = samples[(kind, n)]
        runs = ", ".join(f"{s['rows_per_s']:,.0f}" for s in got)
        name = "engine (`workers`)" if kind == "engine" else "bare httpx loop"
        lines.append(
            f"| {name} | {n} | {rate[(kind, n)]:,.0f} | {runs} | "
            f"{rate[(kind, n)] / rate[(kind, 1)]:.2f}x | {_median_cpu(got)} |"
        )
    lines.append(sections.WORKERS[1])
    print("\n".join(lines))
    sections.write(Path(args.report), "\n".join(lines) + "\n", sections.WORKERS)


if __name__ == "__main__":
    main()
