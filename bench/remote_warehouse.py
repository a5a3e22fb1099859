"""The warehouse side of the remote benchmark: PostgreSQL in the warehouse's namespace,
latency proxies in front of it, and what a run costs the server.

The server is the tests' throwaway server (``tests.postgres_server.TempPostgres``, with
PostgreSQL's default durability) started inside the namespace. It listens on
``127.0.0.1`` there and on the link's warehouse address, lets the link's subnet in, and
loads ``pg_stat_statements``. The harness itself (loading data, baselines, the statement
counters) talks to it over its Unix socket, so none of that crosses the link.

A run's cost on the server:

- statements: ``pg_stat_statements`` calls in the run's database (utility statements
  such as SET, BEGIN, DECLARE and FETCH included: each is a round trip), reset before the
  run; its ``total_exec_time`` is recorded beside;
- CPU seconds: user + system time of the postmaster and every process it started, read
  from ``/proc`` (psutil) before and after: the live processes' own time plus the time of
  those that ended, which the kernel adds to the postmaster's children's time.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import netns
from bench.common import REPO_DIR, env_with_repo_on_path
from tests.postgres_server import TempPostgres


class NamespacedPostgres(TempPostgres):
    """``TempPostgres`` run inside the warehouse's namespace, reachable over the link."""

    def __init__(self) -> None:
        super().__init__(durable=True)
        self._as = netns.in_namespace(*self._as)

    def _run(self, *args: str) -> None:
        if Path(args[0]).name == "pg_ctl" and "start" in args:
            with open(self.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
                hba.write(f"host all all {netns.SUBNET} trust\n")
            at = args.index("-o") + 1
            extra = (
                f" -c listen_addresses=127.0.0.1,{netns.WAREHOUSE_IP}"
                " -c shared_preload_libraries=pg_stat_statements"
                " -c pg_stat_statements.track_utility=on"
            )
            args = (*args[:at], args[at] + extra, *args[at + 1 :])
        super()._run(*args)

    def admin_dsn(self) -> str:
        """The server over its Unix socket (not through the link)."""
        return f"postgresql://{self.user}@/postgres?host={self.root}&port={self.port}"

    def link_dsn(self, port: int | None = None) -> str:
        """The server (or a proxy in front of it at ``port``) across the link."""
        return f"postgresql://{self.user}@{netns.WAREHOUSE_IP}:{port or self.port}/postgres"

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])


def _connect(dsn: str) -> Any:
    import psycopg

    return psycopg.connect(dsn, autocommit=True)


class StatementCounter:
    """``pg_stat_statements`` of one database, reset before a run and read after it."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        with _connect(admin_dsn) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def reset(self) -> None:
        with _connect(self.admin_dsn) as con:
            con.execute("SELECT pg_stat_statements_reset()")

    def read(self, dbname: str) -> dict[str, Any]:
        with _connect(self.admin_dsn) as con:
            calls, exec_ms = con.execute(
                "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
                "FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s)",
                [dbname],
            ).fetchone()
        return {"statements": int(calls), "server_exec_s": float(exec_ms) / 1000.0}


def process_tree_cpu_s(pid: int) -> float:
    """User + system seconds of ``pid``, its waited-for children and its live children."""
    import psutil

    root = psutil.Process(pid)
    times = root.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in root.children(recursive=True):
        try:
            own = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += own.user + own.system
    return total


@dataclass
class Proxy:
    """A ``bench.latency_proxy`` process in the warehouse's namespace."""

    delay_ms: float
    port: int
    process: subprocess.Popen[str]

    @classmethod
    def start(cls, listen_port: int, upstream_port: int, delay_ms: float) -> Proxy:
        command = netns.in_namespace(
            sys.executable,
            "-m",
            "bench.latency_proxy",
            "--listen",
            f"{netns.WAREHOUSE_IP}:{listen_port}",
            "--upstream",
            f"127.0.0.1:{upstream_port}",
            "--delay-ms",
            f"{delay_ms:g}",
        )
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, cwd=REPO_DIR, env=env_with_repo_on_path()
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening "):
            process.kill()
            raise RuntimeError(f"the latency proxy did not start (said {line!r})")
        return cls(delay_ms, listen_port, process)

    def cpu_s(self) -> float:
        return process_tree_cpu_s(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def probe(dsn: str, pings: int = 20, bulk_mb: int = 8) -> dict[str, Any]:
    """The link as a client sees it: ``SELECT 1`` round trips and one bulk read's rate."""
    with _connect(dsn) as con:
        con.execute("SELECT 1")
        rtts = []
        for _ in range(pings):
            started = time.perf_counter()
            con.execute("SELECT 1").fetchone()
            rtts.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        con.execute("SELECT repeat('x', %s)", [bulk_mb * 1_000_000]).fetchone()
        seconds = time.perf_counter() - started
    return {
        "select1_ms_median": statistics.median(rtts),
        "select1_ms_min": min(rtts),
        "select1_ms_max": max(rtts),
        "bulk_read_mbit_s": bulk_mb * 8 / seconds,
        "bulk_read_mb": bulk_mb,
    }


# -- cleanup after a killed run ---------------------------------------------------------------


def write_leftovers(path: Path, server: NamespacedPostgres, proxies: list[Proxy]) -> None:
    """What a SIGKILLed run would leave, for ``python -m bench.remote --cleanup``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "server_root": str(server.root),
                "pg_ctl": str(server.bindir / "pg_ctl"),
                "proxy_pids": [p.process.pid for p in proxies],
            }
        )
    )


def clean_leftovers(path: Path) -> list[str]:
    """Stop what a killed run left (server, proxies) and remove the link; says what it did."""
    import os
    import shutil
    import signal

    import psutil

    done: list[str] = []
    if path.exists():
        left = json.loads(path.read_text())
        for pid in left.get("proxy_pids", []):
            try:
                if "bench.latency_proxy" in " ".join(psutil.Process(pid).cmdline()):
                    os.kill(pid, signal.SIGTERM)
                    done.append(f"stopped proxy {pid}")
            except psutil.NoSuchProcess:
                pass
        data = Path(left["server_root"]) / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                ["runuser", "-u", "postgres", "--", left["pg_ctl"], "-D", str(data), "-m",
                 "immediate", "stop"],  # fmt: skip
                capture_output=True,
            )
            done.append(f"stopped the server in {data}")
        shutil.rmtree(left["server_root"], ignore_errors=True)
        path.unlink()
    netns.Link().destroy()
    done.append(f"removed {netns.CLIENT_IF} and namespace {netns.NAMESPACE} (if present)")
    return done
