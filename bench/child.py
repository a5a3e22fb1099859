"""Entry point of one measurement in its own process: ``python -m bench.child NAME ARGS``.

``ARGS`` is a JSON object of keyword arguments. The child prints one result line
(see ``bench.common.emit_result``) with the method's answer plus the process's own
peak RSS in ``child_peak_rss_mb``, so each method's memory is its own.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

from bench.common import emit_result, peak_rss_mb

ENTRY_POINTS = {
    "generate": "bench.datagen:generate_entry",
    "lower_bound": "bench.lower_bound:run",
    "basic_state": "bench.basic:build_state",
    "basic": "bench.basic:run",
    "reladiff": "bench.reladiff_join:run",
    "httpx_delivery": "bench.delivery:run_bare",
    "lightning_prepare": "bench.lightning_calls:prepare",
    "lightning_plan": "bench.lightning_calls:plan",
    "changed_fields_plan": "bench.changed_fields:measure",
    "lightning_delivery": "bench.lightning_calls:delivery",
    "pg_load": "bench.postgres:load",
    "pg_lower_bound": "bench.lower_bound:run_postgres",
    "pg_basic_state": "bench.basic:build_state_postgres",
    "pg_basic": "bench.basic:run_postgres",
    "pg_reladiff": "bench.reladiff_join:run_postgres",
    "pg_lightning_prepare": "bench.lightning_calls:prepare_postgres",
    "pg_lightning_plan": "bench.lightning_calls:plan_postgres",
}


def _resolve(name: str) -> Callable[..., dict[str, Any]]:
    module, _, attr = ENTRY_POINTS[name].partition(":")
    func: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module), attr)
    return func


def main(argv: list[str]) -> int:
    """Run one entry point and print its result line."""
    name, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    try:
        result = dict(_resolve(name)(**args) or {})
    except Exception as exc:  # reported to the parent, which records it
        traceback.print_exc()
        emit_result({"error": f"{type(exc).__name__}: {exc}", "child_peak_rss_mb": peak_rss_mb()})
        return 1
    result["child_peak_rss_mb"] = peak_rss_mb()
    emit_result(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
