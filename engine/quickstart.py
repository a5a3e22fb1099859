"""``lightning-sync quickstart``: a demo project on an embedded DuckDB warehouse.

It writes ``lightning.yml`` and ``warehouse.duckdb`` into a directory, generates a users
model, syncs it to JSON Lines files, changes, adds and removes some rows (and slips in a
duplicated key so there is a rejection to look at), syncs again, and prints both
``sync_runs`` rows and the SQL to see failed rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.config import load_project
from engine.history import recent_runs
from engine.run import RunResult, run_sync

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


def run_quickstart(directory: Path, rows: int, console: Console) -> None:
    """Create the demo project in ``directory`` and run it twice (see module doc)."""
    import duckdb

    directory.mkdir(parents=True, exist_ok=True)
    project_file = directory / "lightning.yml"
    project_file.write_text(PROJECT_YAML, encoding="utf-8")
    warehouse = directory / "warehouse.duckdb"
    for stale in (warehouse, directory / "warehouse.duckdb.wal"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(directory / "out", ignore_errors=True)

    with duckdb.connect(str(warehouse)) as con:
        con.execute(GENERATE_USERS, {"rows": rows})
    console.print(f"Created {warehouse} with a users model of {rows:,} rows.")

    project = load_project(project_file)
    first = run_sync(project, "users_to_files")
    _report(console, "First run (every row is new)", first)

    with duckdb.connect(str(warehouse)) as con:
        for statement in CHANGE_USERS:
            con.execute(statement, {"rows": rows} if "$rows" in statement else None)
    console.print("Changed 1% of users, soft-deleted 0.5%, added 0.5%, and duplicated key 42.")

    second = run_sync(project, "users_to_files")
    _report(console, "Second run (only the delta is sent)", second)

    runs = recent_runs(project, "users_to_files", limit=2)
    table = Table(title="hightouch_audit.sync_runs")
    columns = ["sync_run_id", "status", "num_planned_add", "num_planned_change"]
    columns += ["num_planned_remove", "num_succeeded_change", "num_failed_change"]
    for column in columns:
        table.add_column(column, justify="right")
    for row in reversed(runs):
        table.add_row(*(str(row[c]) for c in columns))
    console.print(table)
    console.print(f"Files written under {directory / 'out' / 'users_to_files'}.")
    console.print("See the failed rows with SQL (e.g. duckdb " + str(warehouse) + "):")
    console.print(
        "  select row_id, op_type, status, failure_reason\n"
        "  from hightouch_audit.sync_changelog\n"
        f"  where sync_id = 'users_to_files' and sync_run_id = {second.sync_run_id}\n"
        "    and status <> 'succeeded';",
        highlight=False,
    )
    console.print(
        f"Next: edit {project_file} and run `lightning-sync run users_to_files "
        f"--project {project_file}`.",
        highlight=False,
    )


def _report(console: Console, title: str, result: RunResult) -> None:
    c = result.counters
    console.print(
        f"[bold]{title}[/]: run {result.sync_run_id} {result.status}: "
        f"added {c.succeeded['added']:,}, changed {c.succeeded['changed']:,}, "
        f"removed {c.succeeded['removed']:,}, failed {sum(c.failed.values()):,} "
        f"in {sum(result.timings.values()):.2f}s"
    )
