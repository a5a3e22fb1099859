"""What ``send: changed_fields`` costs the plan, against the plain plan, on DuckDB.

``python -m bench.changed_fields --sizes 1000000,10000000 --repeats 3``

The data is the harness's own (``bench/datagen.py``: 8 mapped columns, 2% of the keys
added, changed or removed between the two states; its rejected keys are not used here).
A copy of each data file holds two syncs of one model with the same 8 column mappings and
the same ``http`` destination (``changed``: PATCH), one plain and one with
``send: changed_fields``; both commit the previous state as their baseline
(``--reset-cdc``), then the model is pointed at the current state. Each measurement, in its
own process, plans one run of one sync as a run does (stage, plan, keys, diff) and streams
its delta into the rows a destination is handed (nothing is sent, nothing committed, so
every repetition diffs against the same baseline). The two syncs alternate (plain first on
even repetitions), and the medians of each and their ratios come from the same run. The
lower bound (``bench/lower_bound.py``: one copy of the model plus one key join of two
prebuilt (key, hash) tables) is measured in the same run for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import duckdb
import yaml

from bench import sections
from bench.common import BENCH_DIR, MAPPED, MODEL_TABLE, PREV_TABLE, WORK_DIR
from bench.datagen import generate
from bench.runner import run_child
from engine.delivery import fewer_collections
from engine.delta_queries import mappings_left_to_python
from engine.delta_rows import to_delta_rows
from engine.project_file import load_project
from engine.run import run_sync
from engine.sync_job import SyncJob
from engine.warehouse import connected

SYNCS = {"plain": "all_fields", "changed": "changed_fields"}
VIEW = "bench_model"
STREAM_PAGE_ROWS = 10_000
MEMORY_LIMIT = "1GB"
SECTION_START, SECTION_END = sections.CHANGED_FIELDS


def write_project(workdir: Path, db_path: Path) -> Path:
    """The two syncs (see module doc); the destination is never opened."""
    http = {
        "added": {"method": "POST", "path": "/users/{row_id}"},
        "changed": {"method": "PATCH", "path": "/users/{row_id}"},
        "removed": {"method": "DELETE", "path": "/users/{row_id}"},
    }
    config = {
        "sources": {"wh": {"type": "duckdb", "path": str(db_path), "memory_limit": MEMORY_LIMIT}},
        "models": {"m": {"source": "wh", "primary_key": "user_id", "sql": f"select * from {VIEW}"}},
        "destinations": {"d": {"type": "http", "base_url": "http://127.0.0.1:9"}},
        "syncs": {
            name: {
                "model": "m",
                "destination": "d",
                "mode": "mirror",
                "delete_behavior": "delete",
                "send": send,
                "sync_logs": False,
                "http": http,
                "mappings": [{"from": c, "to": c} for c in MAPPED],
            }
            for name, send in SYNCS.items()
        },
    }
    path = workdir / "lightning.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def prepare(n: int, seed: int) -> tuple[Path, Path, dict[str, Any]]:
    """A fresh copy of the data file with both baselines committed; (db, project, meta)."""
    data = generate(n, seed)
    workdir = WORK_DIR / f"changed_fields_n{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    db_path = workdir / "data.duckdb"
    shutil.copyfile(data.db_path, db_path)
    project_file = write_project(workdir, db_path)
    with duckdb.connect(str(db_path)) as con:
        con.execute(f"CREATE VIEW {VIEW} AS SELECT * FROM {PREV_TABLE}")
    for name in SYNCS:
        result = run_sync(load_project(project_file), name, reset_cdc=True)
        if not result.committed:
            raise RuntimeError(f"baseline of {name} did not commit: {result.error}")
    with duckdb.connect(str(db_path)) as con:
        con.execute(f"CREATE OR REPLACE VIEW {VIEW} AS SELECT * FROM {MODEL_TABLE}")
    return db_path, project_file, data.meta


def measure(project_file: str, sync: str) -> dict[str, Any]:
    """One planned run of ``sync`` with its delta streamed into Python (a child's call)."""
    project = load_project(project_file)
    job = SyncJob(project, sync)
    with connected(job.dialect) as state:
        model = job.bind()
        run_id = state.acquire(sync)
        planner = job.planner(state, model, run_id)
        try:
            commits = state.committed(sync)
            planner.use_baseline(commits[0] if commits else None)
            started = time.perf_counter()
            _, planned = planner.plan_and_diff()
            plan_s = time.perf_counter() - started
            read = job.destination.read_columns()
            stream_sql = planner.stream_sql(payload_json=True, read_columns=read)
            left = mappings_left_to_python(job.dialect, model, job.sync)
            started = time.perf_counter()
            changed_bytes = 0
            with fewer_collections():
                for page in job.dialect.stream(stream_sql, None, STREAM_PAGE_ROWS):
                    rows = to_delta_rows(
                        page, model, job.sync, read, True, left, {}, planner.changed_fields
                    )
                    changed_bytes += sum(
                        len(r.payload or b"") for r in rows if r.op_type == "changed"
                    )
            stream_s = time.perf_counter() - started
        finally:
            with suppress(Exception):
                planner.drop_run_tables(keep_committed_pair=False)
            with suppress(Exception):
                state.release(sync, run_id)
    return {
        "plan_s": plan_s,
        "stream_s": stream_s,
        "total_s": plan_s + stream_s,
        "phases": dict(planner.timings),
        "planned": planned,
        # The JSON bodies of the changed rows, in bytes.
        "changed_payload_bytes": changed_bytes,
    }


def run_size(n: int, seed: int, repeats: int) -> dict[str, Any]:
    """Interleaved repetitions of both syncs and the lower bound at N rows."""
    db_path, project_file, meta = prepare(n, seed)
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "changed": [], "lower_bound": []}
    for repeat in range(repeats):
        order = ["plain", "changed"] if repeat % 2 == 0 else ["changed", "plain"]
        for sync in order:
            result = run_child(
                "changed_fields_plan", {"project_file": str(project_file), "sync": sync}
            )
            if "error" in result:
                raise RuntimeError(f"N={n} {sync}: {result['error']}")
            runs[sync].append(result)
        bound = run_child("lower_bound", {"db_path": str(db_path)})
        if "error" in bound:
            raise RuntimeError(f"N={n} lower bound: {bound['error']}")
        runs["lower_bound"].append(bound)
    if runs["plain"][0]["planned"] != runs["changed"][0]["planned"]:
        raise RuntimeError(f"N={n}: the two syncs planned different deltas")
    median = {
        name: {
            key: statistics.median(r[key] for r in results)
            for key in ("total_s", "plan_s", "stream_s")
            if key in results[0]
        }
        for name, results in runs.items()
    }
    for key in ("plan_s", "stream_s", "total_s"):
        median.setdefault("ratio", {})[key] = median["changed"][key] / median["plain"][key]
    median["ratio"]["changed_plan_over_lower_bound"] = (
        median["changed"]["plan_s"] / median["lower_bound"]["total_s"]
    )
    median["ratio"]["plain_plan_over_lower_bound"] = (
        median["plain"]["plan_s"] / median["lower_bound"]["total_s"]
    )
    shutil.rmtree(db_path.parent, ignore_errors=True)
    return {"n": n, "expected": meta["expected"], "median": median, "runs": runs}


def section(results: list[dict[str, Any]], command: str, load: str) -> str:
    """The RESULTS.md section of one run (medians of the repetitions, seconds)."""
    lines = [
        SECTION_START,
        "## send: changed_fields against the plain plan (DuckDB)",
        "",
        f"`{command}`: one model, 8 column mappings, 2% of the keys added, changed or removed;",
        "both syncs in the same run, interleaved, medians of "
        f"{len(results[0]['runs']['plain'])}. Plan = stage + plan + keys + diff; stream = the "
        "delta read into the rows a destination is handed. Load average at the start: "
        f"{load} (2 cores, shared).",
        "",
        "| N | plan plain | plan changed_fields | ratio | stream plain | stream changed_fields "
        "| ratio | lower bound | changed-row bodies (bytes) plain / changed_fields |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        m, runs = result["median"], result["runs"]
        lines.append(
            f"| {result['n']:,} | {m['plain']['plan_s']:.2f} | {m['changed']['plan_s']:.2f} | "
            f"{m['ratio']['plan_s']:.2f}x | {m['plain']['stream_s']:.2f} | "
            f"{m['changed']['stream_s']:.2f} | {m['ratio']['stream_s']:.2f}x | "
            f"{m['lower_bound']['total_s']:.2f} | {runs['plain'][0]['changed_payload_bytes']:,} "
            f"/ {runs['changed'][0]['changed_payload_bytes']:,} |"
        )
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(WORK_DIR / "changed_fields.json"))
    parser.add_argument("--report", default=str(BENCH_DIR / "RESULTS.md"))
    args = parser.parse_args(argv)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    command = "python -m bench.changed_fields " + " ".join(argv or sys.argv[1:])
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        result = run_size(n, args.seed, args.repeats)
        results.append(result)
        m = result["median"]
        print(
            f"N={n:,}: plan {m['plain']['plan_s']:.2f} s plain, {m['changed']['plan_s']:.2f} s "
            f"changed_fields (x{m['ratio']['plan_s']:.2f}); stream {m['plain']['stream_s']:.2f}"
            f" s / {m['changed']['stream_s']:.2f} s; lower bound "
            f"{m['lower_bound']['total_s']:.2f} s",
            flush=True,
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")
    sections.write(
        Path(args.report), section(results, command.strip(), load), sections.CHANGED_FIELDS
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
