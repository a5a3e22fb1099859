"""Smoke run of the benchmark harness: ``python -m bench --smoke`` at N = 1,000 on DuckDB
and on PostgreSQL (the test session's server), outputs in a temporary directory.

The benchmarks themselves are not tests (``bench/``); this only proves the harness works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_smoke(tmp_path: Path, postgres_dsn: str) -> None:
    out = tmp_path / "bench"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--out",
            str(out),
            "--postgres-dsn",
            postgres_dsn,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["problems"] == []
    for warehouse in ("duckdb", "postgres"):
        run = results[warehouse]["1000"]
        expected = run["dataset"]["expected"]
        for method in ("lightning", "lower_bound", "basic", "reladiff"):
            assert run["methods"][method]["ok"] == 1, (warehouse, method)
        assert run["methods"]["lightning"]["delta_rows"] == [expected["total"]]
        assert run["methods"]["basic"]["delta_rows"] == [expected["total"]]
    report = (out / "RESULTS.md").read_text()
    assert "## DuckDB, N = 1,000" in report
    assert "## PostgreSQL, N = 1,000" in report
    assert "PostgreSQL: Lightning peak RSS" in report
    assert (out / "chart.png").stat().st_size > 0
