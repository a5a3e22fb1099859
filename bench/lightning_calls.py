"""Call sites of the Lightning method, ``bench/lightning.py``, and checks on its answers.

Contract (``bench/lightning.py`` provides it; the harness skips Lightning without it):

- ``prepare_baseline(db_path, table, key, mapped, workdir, rejected_keys) -> None``:
  run the engine once with ``table`` holding the PREVIOUS state, commit that run as
  the baseline, and record the given keys as rejected by that run.
- ``measure_plan(db_path, table, key, mapped, workdir) -> dict``: one planned run with
  ``table`` holding the CURRENT state, destination excluded; returns
  ``{"total_s", "phases": {name: s}, "delta_rows", "peak_rss_mb"}``, optionally
  ``"memory_limit"`` (e.g. ``"1GB"``) or ``"memory_limit_mb"``: the DuckDB limit it ran
  with (else the one it was given is assumed). The report's peak RSS is the call's
  process's own ``VmHWM``; ``peak_rss_mb`` is kept beside it in the samples. It must
  leave the committed baseline as it found it: the harness calls it several times in a
  row, each in a new process.
- ``prepare_baseline_postgres(dsn, table, key, mapped, workdir, rejected_keys) -> None``
  and ``measure_plan_postgres(dsn, table, key, mapped, workdir) -> dict``: the same two
  calls with the model in the PostgreSQL database at ``dsn`` (a ``postgresql://`` URI)
  instead of a DuckDB file; the result has no memory limit (the peak RSS target on
  PostgreSQL is a fixed 300 MiB). Without them the PostgreSQL Lightning rows fail with
  a message naming the missing function.
- ``measure_delivery(sink_url, rows, batch_size, concurrency) -> dict``: stream
  ``rows`` rows to the HTTP sink at ``sink_url``; returns ``{"rows_per_s", "seconds"}``.
  The bare httpx loop sends ``bench.delivery.make_rows(rows)`` with the ``MAPPED``
  fields; ``bench.delivery.create_delivery_table`` makes the same rows a DuckDB table.

Each call runs in its own process, with the repo root on ``sys.path`` and the
environment variable ``LIGHTNING_BENCH_DUCKDB_MEMORY_LIMIT`` set to the DuckDB memory
limit the engine is asked to run with (checked by the peak RSS target).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from bench.common import BENCH_DIR

MEMORY_LIMIT_ENV = "LIGHTNING_BENCH_DUCKDB_MEMORY_LIMIT"
# Names another module to call instead of bench.lightning (to try the harness itself).
MODULE_ENV = "LIGHTNING_BENCH_MODULE"
MODULE = os.environ.get(MODULE_ENV) or "bench.lightning"


def available() -> bool:
    """Whether the Lightning module exists (``bench/lightning.py`` unless overridden)."""
    if MODULE != "bench.lightning":
        return importlib.util.find_spec(MODULE) is not None
    return (BENCH_DIR / "lightning.py").exists()


def _module() -> Any:
    return importlib.import_module(MODULE)


def _require(result: Any, keys: dict[str, type | tuple[type, ...]], call: str) -> dict:
    if not isinstance(result, dict):
        raise TypeError(f"{MODULE}.{call} returned {type(result).__name__}, not a dict")
    for name, kind in keys.items():
        if name not in result:
            raise KeyError(f"{MODULE}.{call} result has no {name!r} key")
        if not isinstance(result[name], kind):
            raise TypeError(f"{MODULE}.{call} result {name!r} is {result[name]!r}")
    return result


def prepare(
    db_path: str,
    table: str,
    key: str,
    mapped: list[str],
    workdir: str,
    rejected_keys: list[int],
) -> dict[str, Any]:
    """Commit the previous state as the baseline, with its rejections."""
    _module().prepare_baseline(db_path, table, key, mapped, workdir, rejected_keys)
    return {}


def plan(db_path: str, table: str, key: str, mapped: list[str], workdir: str) -> dict:
    """One measured plan of the current state."""
    return _plan_result(
        _module().measure_plan(db_path, table, key, mapped, workdir), "measure_plan"
    )


def _postgres_call(name: str) -> Any:
    module = _module()
    if not hasattr(module, name):
        raise AttributeError(f"{MODULE} has no {name}() (the PostgreSQL part of the contract)")
    return getattr(module, name)


def prepare_postgres(
    dsn: str,
    table: str,
    key: str,
    mapped: list[str],
    workdir: str,
    rejected_keys: list[int],
) -> dict[str, Any]:
    """Commit the previous state as the baseline on PostgreSQL, with its rejections."""
    _postgres_call("prepare_baseline_postgres")(dsn, table, key, mapped, workdir, rejected_keys)
    return {}


def plan_postgres(dsn: str, table: str, key: str, mapped: list[str], workdir: str) -> dict:
    """One measured plan of the current state on PostgreSQL."""
    measure = _postgres_call("measure_plan_postgres")
    return _plan_result(measure(dsn, table, key, mapped, workdir), "measure_plan_postgres")


def _plan_result(result: Any, name: str) -> dict:
    """A measured plan, checked against the contract."""
    number = (int, float)
    _require(
        result, {"total_s": number, "phases": dict, "delta_rows": int, "peak_rss_mb": number}, name
    )
    return dict(result)


def delivery(sink_url: str, rows: int, batch_size: int, concurrency: int) -> dict:
    """One measured delivery of ``rows`` rows."""
    result = _module().measure_delivery(sink_url, rows, batch_size, concurrency)
    _require(result, {"rows_per_s": (int, float), "seconds": (int, float)}, "measure_delivery")
    return dict(result)
