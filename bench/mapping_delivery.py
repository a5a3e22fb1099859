"""Delivery with the mapping features against the plain mappings, in one run.

python -m bench.mapping_delivery                       # batch 1: 20,000 rows; batch 100: 200,000
python -m bench.mapping_delivery --rows 2000,20000 --repeats 1      # quicker

Each case sends the same rows (``bench.delivery.create_delivery_table``) to the same sink
(``bench.sink``: the project's fake HTTP destination, in its own process), through the
``http`` destination, at batch size 1 and 100, concurrency 32. The variants:

- ``plain``: one column mapping per field (the payload is built by the warehouse);
- ``mapping_kinds``: the same fields, two of them from Liquid templates, one nested, plus a
  static value and a run variable (these are written in Python, per row);
- ``request_templates``: the plain fields, with a templated path and a templated header
  (batch 1), or a Liquid body template looping over ``rows`` (batch 100).

Runs are interleaved (plain, mapping_kinds, request_templates, then again) and each case's
median of ``--repeats`` is reported with its ratio to ``plain`` measured in the same run.
The rate is the rows over the run's ``deliver`` phase.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import sections
from bench.common import BENCH_DIR, KEY, MAPPED
from bench.delivery import create_delivery_table, sink_process
from bench.lightning import SYNC, _duckdb_source, _write_project
from engine.project_file import load_project
from engine.run import run_sync

CONCURRENCY = 32
VARIANTS = ("plain", "mapping_kinds", "request_templates")
TEMPLATED = {"email", "name", "city"}


def _mappings(variant: str) -> list[dict[str, Any]]:
    plain = [{"from": column, "to": column} for column in MAPPED]
    if variant != "mapping_kinds":
        return plain
    return [
        *({"from": c, "to": c} for c in MAPPED if c not in TEMPLATED),
        {"template": "{{ row.email | downcase }}", "to": "email"},
        {"template": "{{ row.name | upcase }}", "to": "name"},
        {"from": "city", "to": "address.city"},
        {"static": "EMEA", "to": "region"},
        {"variable": "sync_run_id", "to": "run"},
    ]


def _http(variant: str, batch_size: int) -> dict[str, Any]:
    path = "/users/{row_id}" if batch_size == 1 else "/users"
    trigger: dict[str, Any] = {"method": "PUT", "path": path}
    if variant == "request_templates" and batch_size == 1:
        trigger = {
            "method": "PUT",
            "path": "/users/{{ row.user_id }}",
            "headers": {"X-Operation": "{{ context.operation }}"},
        }
    elif variant == "request_templates":
        fields = ", ".join(f'"{c}": {{{{ row.{c} | json }}}}' for c in MAPPED)
        item = f'{{"row_id": "{{{{ row.user_id }}}}", {fields}}},'
        body = f"[{{% for row in rows %}}{item}{{% endfor %}}]"
        trigger = {"method": "PUT", "path": path, "body": {"template": body}}
    return {
        "added": trigger,
        "changed": trigger,
        "removed": {"method": "DELETE", "path": path},
        "batch_size": batch_size,
        "concurrency": CONCURRENCY,
    }


def measure(sink_url: str, source_db: Path, rows: int, batch_size: int, variant: str) -> float:
    """Rows/s of one first run (every row added) of ``variant``, on a copy of the table."""
    with tempfile.TemporaryDirectory(prefix="lightning-bench-") as workdir:
        db_path = Path(workdir) / "delivery.duckdb"
        shutil.copy(source_db, db_path)
        project_file = _write_project(
            workdir,
            _duckdb_source(str(db_path)),
            "delta_users",
            KEY,
            MAPPED,
            {"type": "http", "base_url": sink_url},
            {
                "http": _http(variant, batch_size),
                "sync_logs": False,
                "mappings": _mappings(variant),
            },
        )
        result = run_sync(load_project(project_file), SYNC)
        if result.status != "succeeded" or any(result.counters.failed.values()):
            raise RuntimeError(f"{variant} run failed: {json.dumps(result.as_dict())}")
        return rows / result.timings["deliver"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="20000,200000", help="rows at batch 1, at batch 100")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--report", default=str(BENCH_DIR / "RESULTS.md"))
    args = parser.parse_args()
    command = "python -m bench.mapping_delivery " + " ".join(sys.argv[1:])
    load = f"{os.getloadavg()[0]:.1f}"
    sizes = dict(zip((1, 100), (int(n) for n in args.rows.split(",")), strict=True))
    table: dict[int, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="lightning-bench-") as data, sink_process() as sink:
        for batch, rows in sizes.items():
            source_db = Path(data) / f"rows_{rows}.duckdb"
            create_delivery_table(str(source_db), rows)
            samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for rep in range(args.repeats):
                for variant in VARIANTS:
                    sink.reset()
                    rate = measure(sink.url, source_db, rows, batch, variant)
                    got = sink.stats()["rows"]
                    if got != rows:
                        raise RuntimeError(f"{variant}: the sink stored {got} rows, not {rows}")
                    samples[variant].append(rate)
                    print(f"batch {batch:>3} run {rep + 1} {variant:<18} {rate:10,.0f} rows/s")
            table[batch] = samples
    lines = [
        sections.MAPPING_DELIVERY[0],
        "## Delivery with the mapping features against the plain mappings (http, DuckDB)",
        "",
        f"Command: `{command}`. The same rows to the same sink (`bench.sink`, its own process),",
        f"concurrency {CONCURRENCY}, runs interleaved, medians of {args.repeats}; ratios against",
        f"`plain` from the same run. Load average at the start: {load} (2 cores). Variants: see",
        "the docstring of bench/mapping_delivery.py.",
        "",
        f"| batch size | rows | variant | rows/s (median of {args.repeats}) | runs | / plain |",
        "|---|---|---|---|---|---|",
    ]
    for batch, samples in table.items():
        plain = statistics.median(samples["plain"])
        for variant in VARIANTS:
            rate = statistics.median(samples[variant])
            runs = ", ".join(f"{r:,.0f}" for r in samples[variant])
            lines.append(
                f"| {batch} | {sizes[batch]:,} | {variant} | {rate:,.0f} | {runs} | "
                f"{rate / plain:.2f}x |"
            )
    lines.append(sections.MAPPING_DELIVERY[1])
    print("\n".join(lines))
    sections.write(Path(args.report), "\n".join(lines) + "\n", sections.MAPPING_DELIVERY)


if __name__ == "__main__":
    main()
