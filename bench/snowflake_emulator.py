"""A model of N rows on the Snowflake emulator: time, statements and the run's peak RSS.

``python -m bench.snowflake_emulator --rows 200000`` starts fakesnow's server (see
tests/snowflake_emulator.py), fills a users table in SQL, and runs ``lightning-sync run`` as
a child process three times (first run: every row added; a delta run after changing 1% of the
rows; a run with nothing changed), printing for each the wall time, the statements it issued
and the child's peak RSS. Emulator figures: the warehouse work runs in fakesnow's DuckDB; the
emulator splits results into chunks of 10,000 rows, downloaded one by one, as Snowflake does
(tests/fakes/fakesnow_server.py).

Measured (2 cores, 2026-11-27): first run 20,000 rows 155 MB peak RSS, 200,000 rows 178 MB,
400,000 rows 182 MB; 42 statements on a first run, 37 on later runs, at every size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from tests import snowflake_emulator

REPO = Path(__file__).resolve().parent.parent


def _peak_rss_mb(command: list[str], cwd: Path) -> tuple[float, float, dict[str, Any]]:
    """Run a command, sampling its RSS every 20 ms: (seconds, peak MB, parsed stdout)."""
    started = time.perf_counter()
    process = psutil.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(err.decode()[-2000:])
    return seconds, peak / 1e6, json.loads(out)


def emulator_project(source: dict[str, Any], sql: str) -> dict[str, Any]:
    """The benchmark's project: model ``users`` (``sql``) mirrored to a file destination."""
    return {
        "sources": {"wh": source},
        "models": {"users": {"source": "wh", "primary_key": "id", "sql": sql}},
        "destinations": {"out": {"type": "file", "path": "out"}},
        "syncs": {
            "s": {
                "model": "users",
                "destination": "out",
                "mode": "mirror",
                "delete_behavior": "delete",
                "mappings": [{"from": c, "to": c} for c in ("email", "name", "plan")],
            }
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    python = snowflake_emulator.emulator_python()
    if python is None:
        sys.exit(snowflake_emulator.HOW_TO_ENABLE)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        server = snowflake_emulator.FakesnowServer(python, root)
        port = server.start()
        try:
            con = snowflake_emulator.connect(port)
            con.cursor().execute("CREATE DATABASE BENCH")
            con.cursor().execute("USE DATABASE BENCH")
            con.cursor().execute("CREATE SCHEMA IF NOT EXISTS PUBLIC")
            con.cursor().execute(
                'CREATE TABLE BENCH.PUBLIC."users" AS SELECT i AS "id", '
                "'user' || i || '@example.com' AS \"email\", 'Name ' || i AS \"name\", "
                f'i % 7 AS "plan" FROM range(1, {args.rows} + 1) AS r(i)'
            )
            source = {"type": "snowflake", **snowflake_emulator.CONNECT_SETTINGS}
            source |= {"port": port, "database": "BENCH", "schema": "PUBLIC"}
            project = emulator_project(source, 'select * from "users"')
            (root / "lightning.yml").write_text(yaml.safe_dump(project), encoding="utf-8")
            command = [sys.executable, "-m", "engine.cli", "run", "s", "--json"]
            for label in ("first run", "delta run (1% changed)", "nothing changed"):
                if label.startswith("delta"):
                    con.cursor().execute(
                        'UPDATE BENCH.PUBLIC."users" SET "name" = \'changed\' WHERE "id" % 100 = 0'
                    )
                seconds, peak, result = _peak_rss_mb(command, root)
                counts = result["counts"]["succeeded"]
                print(
                    f"{args.rows} rows, {label}: {seconds:.1f} s, {result['statements']} "
                    f"statements, peak RSS {peak:.0f} MB, sent {counts}, timings "
                    f"{result['timings']}"
                )
            con.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
