"""``lightning-sync quickstart``: a demo project on an embedded DuckDB warehouse.

It writes ``lightning.yml`` and ``warehouse.duckdb`` into a directory, generates a users
model, syncs it to JSON Lines files, changes, adds and removes some rows (and slips in a
duplicated key so there is a rejection to look at), syncs again, and prints both
``sync_runs`` rows, the ``lightning-sync sql`` command that lists the rows that did not
succeed, and its answer. An existing demo directory with files in it is replaced only with
``force`` (it may hold the user's edits).
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from engine.history import recent_runs
from engine.project_file import load_project
from engine.read_query import read_query
from engine.run import RunResult, run_sync
from engine.terminal import failed_rows_sql, print_code, rows_table, sql_command

PROJECT_YAML = """\
# Quickstart project: a DuckDB users model synced to JSON Lines files.
sources:
  warehouse:
    type: duckdb
    path: warehouse.duckdb
    memory_limit: 1GB
models:
  users:
    source: warehouse
    primary_key: user_id
    sql: select * from users where deleted_at is null
destinations:
  export:
    type: file
    path: out/
syncs:
  users_to_files:
    model: users
    destination: export
    mode: mirror
    delete_behavior: delete
    sync_logs: [changelog, snapshot, runs]
    mappings:
      - {from: email, to: email}
      - {from: first_name, to: first_name}
      - {from: plan_name, to: plan}
      - {from: lifetime_value, to: ltv}
"""

GENERATE_USERS = """
CREATE OR REPLACE TABLE users AS
SELECT
    i AS user_id,
    'user' || i || '@example.com' AS email,
    ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken'][1 + i % 6] AS first_name,
    ['free', 'pro', 'team', 'enterprise'][1 + (i * 7) % 4] AS plan_name,
    round((i * 37) % 10000 / 7.0, 2) AS lifetime_value,
    TIMESTAMP '2024-01-01' + to_seconds(i * 61) AS signed_up_at,
    NULL::TIMESTAMP AS deleted_at
FROM range(1, $rows + 1) AS t(i)
"""

# Between the two runs: 1% change plan, 0.5% are soft-deleted, 0.5% sign up, one key doubles.
CHANGE_USERS = [
    "UPDATE users SET plan_name = 'enterprise' WHERE user_id % 100 = 3",
    "UPDATE users SET deleted_at = TIMESTAMP '2025-06-01' WHERE user_id % 200 = 7",
    "INSERT INTO users SELECT i, 'new' || i || '@example.com', 'Linus', 'free', 0, "
    "TIMESTAMP '2025-06-01', NULL FROM range($rows + 1, $rows + 1 + $rows // 200) AS t(i)",
    "INSERT INTO users SELECT user_id, 'copy-' || email, first_name, plan_name, lifetime_value, "
    "signed_up_at, NULL FROM users WHERE user_id = 42",
]


class QuickstartExists(Exception):
    """The demo directory already holds files; nothing was changed."""


# What the demo creates (and what ``--force`` replaces); anything else there is left alone.
DEMO_FILES = ("lightning.yml", "warehouse.duckdb", "warehouse.duckdb.wal")
DEMO_DIRS = ("out",)
SYNC = "users_to_files"
# The sync_runs counters shown (transposed: one line per column, one column per run).
RUN_COUNTERS = [
    f"num_{kind}_{op}"
    for op in ("add", "change", "remove")
    for kind in ("planned", "succeeded", "failed")
]


def prepare_directory(directory: Path, force: bool) -> None:
    """Create the demo directory; an existing one with files in it needs ``force``."""
    if directory.exists() and not directory.is_dir():
        raise QuickstartExists(
            f"{directory} exists and is not a directory. Fix: pass --dir NEW_DIR."
        )
    existing = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    if existing and not force:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise QuickstartExists(
            f"{directory}/ already exists ({shown}), perhaps with your edits; nothing was "
            "changed. Fix: pass --force to replace the demo's files there (lightning.yml, "
            "warehouse.duckdb, out/), or --dir NEW_DIR to start a new one."
        )
    directory.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        (directory / name).unlink(missing_ok=True)
    for name in DEMO_DIRS:
        shutil.rmtree(directory / name, ignore_errors=True)


def run_quickstart(directory: Path, rows: int, console: Console, force: bool = False) -> None:
    """Create the demo project in ``directory`` and run it twice (see module doc)."""
    import duckdb

    prepare_directory(directory, force)
    project_file = directory / "lightning.yml"
    project_file.write_text(PROJECT_YAML, encoding="utf-8")
    warehouse = directory / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(GENERATE_USERS, {"rows": rows})
    console.print(
        f"Created {warehouse} with a users model of {rows:,} rows.", highlight=False, soft_wrap=True
    )

    project = load_project(project_file)
    first = run_sync(project, SYNC)
    _report(console, "Run 1 (every row new)", first)

    with duckdb.connect(str(warehouse)) as con:
        for statement in CHANGE_USERS:
            con.execute(statement, {"rows": rows} if "$rows" in statement else None)
    console.print("Changed 1% of users, soft-deleted 0.5%, added 0.5%, and duplicated key 42.")

    second = run_sync(project, SYNC)
    _report(console, "Run 2 (only the delta)", second)

    console.print()
    console.print(_runs_table(recent_runs(project, SYNC, limit=2)))
    console.print()
    written = directory / "out" / SYNC
    console.print(f"Files written under {written}.", highlight=False, soft_wrap=True)
    console.print()
    console.print("The rows that did not succeed, with SQL on the sync logs:")
    query = failed_rows_sql(SYNC, second.sync_run_id)
    print_code(console, sql_command(project_file, query))
    failed = read_query(project, query)
    console.print()
    console.print(rows_table(failed.columns, failed.rows))
    console.print()
    console.print(f"Next: edit {project_file}, then run:", highlight=False, soft_wrap=True)
    print_code(console, f"lightning-sync run {SYNC} --project {shlex.quote(str(project_file))}")


def _runs_table(runs: list[dict[str, Any]]) -> Table:
    """``sync_runs`` transposed to fit 80 columns: a line per column, a column per run."""
    runs = list(reversed(runs))  # oldest first
    table = Table(
        title="hightouch_audit.sync_runs",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
    )
    table.add_column("sync_run_id")
    for run in runs:
        table.add_column(str(run["sync_run_id"]), justify="right", no_wrap=True)
    table.add_row("status", *(str(run["status"]) for run in runs))
    for counter in RUN_COUNTERS:
        table.add_row(counter, *(f"{int(run[counter]):,}" for run in runs))
    return table


def _report(console: Console, title: str, result: RunResult) -> None:
    c = result.counters
    sent = ", ".join(f"{c.succeeded[op]:,} {op}" for op in ("added", "changed", "removed"))
    seconds = sum(result.timings.values())
    console.print(f"[bold]{title}[/]: {sent}, {sum(c.failed.values()):,} failed ({seconds:.2f}s).")
