"""The Lightning method for the benchmark harness (contract in ``bench/lightning_calls.py``).

Each function runs in its own process (the harness starts one per call), so
``ru_maxrss`` is this method's own peak RSS. The engine is driven through its public
pieces (``engine.run``, ``engine.planner``, ``engine.delivery``), exactly as a run does,
with the destination left out of ``measure_plan``.

``prepare_baseline_postgres`` and ``measure_plan_postgres`` do the same with the model
in a PostgreSQL database (a ``type: postgres`` source with the given ``dsn``).
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import duckdb
import yaml

from bench.common import KEY, MAPPED
from bench.delivery import create_delivery_table
from engine.audit import Audit, RunCounters, RunRecord
from engine.delivery import fewer_collections
from engine.delta_queries import mappings_left_to_python
from engine.delta_rows import to_delta_rows
from engine.project_file import load_project
from engine.run import run_sync
from engine.state import utcnow
from engine.sync_job import SyncJob
from engine.warehouse import connected

SYNC = "bench"
MEMORY_LIMIT_ENV = "LIGHTNING_BENCH_DUCKDB_MEMORY_LIMIT"
STREAM_PAGE_ROWS = 10_000


def _memory_limit() -> str:
    return os.environ.get(MEMORY_LIMIT_ENV) or "1GB"


def _duckdb_source(db_path: str) -> dict[str, Any]:
    return {"type": "duckdb", "path": db_path, "memory_limit": _memory_limit()}


def _postgres_source(dsn: str) -> dict[str, Any]:
    return {"type": "postgres", "dsn": dsn}


def _write_project(
    workdir: str,
    source: dict[str, Any],
    table: str,
    key: str,
    mapped: list[str],
    destination: dict[str, Any],
    sync_extra: dict[str, Any] | None = None,
) -> Path:
    root = Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "sources": {"wh": source},
        "models": {"m": {"source": "wh", "primary_key": key, "sql": f"select * from {table}"}},
        "destinations": {"d": destination},
        "syncs": {
            SYNC: {
                "model": "m",
                "destination": "d",
                "mode": "mirror",
                "delete_behavior": "delete",
                "sync_logs": ["changelog", "runs"],
                "mappings": [{"from": c, "to": c} for c in mapped],
                **(sync_extra or {}),
            }
        },
    }
    path = root / "lightning.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def prepare_baseline(
    db_path: str, table: str, key: str, mapped: list[str], workdir: str, rejected_keys: list[int]
) -> None:
    """Commit the previous state as the baseline (``--reset-cdc``) and record rejections."""
    rejections = _commit_baseline(workdir, _duckdb_source(db_path), table, key, mapped)
    with duckdb.connect(db_path) as con:
        con.execute(
            f'INSERT INTO hightouch_planner."{rejections}" '
            "SELECT k, 'changed', 'failed', 'HTTP 500 (earlier run)', NULL FROM unnest(?) AS t(k)",
            [list(rejected_keys)],
        )


def _commit_baseline(
    workdir: str, source: dict[str, Any], table: str, key: str, mapped: list[str]
) -> str:
    """The ``--reset-cdc`` run; returns the name of its rejections table."""
    project_file = _write_project(
        workdir, source, table, key, mapped, {"type": "file", "path": "out"}
    )
    result = run_sync(load_project(project_file), SYNC, reset_cdc=True)
    if not result.committed:
        raise RuntimeError(f"baseline run did not commit: {result.error}")
    return f"{SYNC}_{result.sync_run_id}_rejections"


def prepare_baseline_postgres(
    dsn: str, table: str, key: str, mapped: list[str], workdir: str, rejected_keys: list[int]
) -> None:
    """``prepare_baseline`` with the model in the PostgreSQL database at ``dsn``."""
    import psycopg

    rejections = _commit_baseline(workdir, _postgres_source(dsn), table, key, mapped)
    with psycopg.connect(dsn) as con:  # commits at the end of the block
        con.execute(
            f'INSERT INTO hightouch_planner."{rejections}" '
            "SELECT k, 'changed', 'failed', 'HTTP 500 (earlier run)', NULL "
            "FROM unnest(%s::bigint[]) AS t(k)",
            [list(rejected_keys)],
        )


def measure_plan(db_path: str, table: str, key: str, mapped: list[str], workdir: str) -> dict:
    """One planned run of the current state with the delta streamed into Python."""
    return {**_measure(workdir), "memory_limit": _memory_limit()}


def measure_plan_postgres(dsn: str, table: str, key: str, mapped: list[str], workdir: str) -> dict:
    """``measure_plan`` on PostgreSQL (the project ``prepare_baseline_postgres`` wrote)."""
    return _measure(workdir)


def _measure(workdir: str) -> dict:
    """One planned run of the project in ``workdir``, destination left out."""
    project = load_project(Path(workdir) / "lightning.yml")
    started = time.perf_counter()
    job = SyncJob(project, SYNC)
    phases: dict[str, float] = {}
    delta_rows = 0
    with connected(job.dialect) as state:
        phases["connect"] = time.perf_counter() - started
        model = job.bind()
        run_id = state.acquire(SYNC)
        planner = job.planner(state, model, run_id)
        try:
            commits = state.committed(SYNC)
            baseline = commits[0] if commits else None
            planner.use_baseline(baseline)
            planner.plan_and_diff()
            # As a run streams it to a JSON destination (http, file): the payload built in
            # the warehouse, turned into the rows a destination is handed.
            stream_started = time.perf_counter()
            stream_sql = planner.stream_sql(payload_json=True, read_columns=[])
            left = mappings_left_to_python(job.dialect, model, job.sync)
            with fewer_collections():
                for page in job.dialect.stream(stream_sql, None, STREAM_PAGE_ROWS):
                    rows = to_delta_rows(page, model, job.sync, [], True, left)
                    delta_rows += len(rows)
            phases["stream"] = time.perf_counter() - stream_started
            total = time.perf_counter() - started
            phases.update(planner.timings)
            phases["audit_logs"] = _audit_seconds(job, state, planner, model, run_id)
        finally:
            with suppress(Exception):
                planner.drop_run_tables(keep_committed_pair=False)
            with suppress(Exception):
                state.release(SYNC, run_id)
    warehouse = sum(float(phases.get(p, 0.0)) for p in ("stage", "plan", "keys", "diff"))
    return {
        "total_s": total,
        "phases": phases,
        "delta_rows": delta_rows,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sync_logs_overhead": phases["audit_logs"] / warehouse if warehouse else 0.0,
    }


def _audit_seconds(job: SyncJob, state: Any, planner: Any, model: Any, run_id: int) -> float:
    """The time the sync logs (changelog and runs) add, measured and rolled back."""
    audit = Audit(state.sql, state.audit_tables(), frozenset({"changelog", "runs"}))
    tables = planner.tables.as_dict()
    statements = audit.row_statements(
        tables, SYNC, run_id, planner.fields_json("d", True), planner.fields_json("s", False)
    )
    record = RunRecord(
        SYNC, run_id, model.key_columns, "file", "m", "succeeded", None, utcnow(), utcnow()
    )
    run_row = audit.run_statement(record, RunCounters())
    assert run_row is not None
    started = time.perf_counter()
    job.dialect.execute("BEGIN TRANSACTION")
    try:
        for sql, params in [*statements, run_row]:
            job.dialect.execute(sql, params)
        return time.perf_counter() - started
    finally:
        job.dialect.execute("ROLLBACK")


def measure_delivery(sink_url: str, rows: int, batch_size: int, concurrency: int) -> dict:
    """Stream ``rows`` added rows to the sink through the ``http`` destination."""
    with tempfile.TemporaryDirectory(prefix="lightning-bench-") as workdir:
        db_path = str(Path(workdir) / "delivery.duckdb")
        create_delivery_table(db_path, rows)  # the very rows the bare loops send
        path = "/users/{row_id}" if batch_size == 1 else "/users"
        http = {
            "added": {"method": "PUT", "path": path},
            "changed": {"method": "PUT", "path": path},
            "removed": {"method": "DELETE", "path": path},
            "batch_size": batch_size,
            "concurrency": concurrency,
        }
        project_file = _write_project(
            workdir,
            _duckdb_source(db_path),
            "delta_users",
            KEY,
            MAPPED,
            {"type": "http", "base_url": sink_url},
            {"http": http, "sync_logs": False},
        )
        result = run_sync(load_project(project_file), SYNC)
        if result.status != "succeeded" or any(result.counters.failed.values()):
            raise RuntimeError(f"delivery run failed: {json.dumps(result.as_dict())}")
        seconds = result.timings["deliver"]
        return {"rows_per_s": rows / seconds, "seconds": seconds}
