"""What the command line prints about a plan and a run: counts, key findings, cost, samples.

``out`` and ``err`` are the consoles every command prints to (standard output and error).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.dry_run import PlanPreview
from engine.run import RunResult
from engine.secrets import Redactor
from engine.terminal import failed_rows_sql, print_code, sql_command

out = Console()
err = Console(stderr=True)


def print_plan(sync: str, preview: PlanPreview, redactor: Redactor) -> None:
    """``plan``: what a run would send, the key findings, the cost and a sample of rows."""
    redact = redactor.redact
    counts = preview.to_send
    out.print(
        f"Sync [bold]{sync}[/] would send: [green]{counts['added']:,} added[/], "
        f"[yellow]{counts['changed']:,} changed[/], [red]{counts['removed']:,} removed[/]"
    )
    keys = preview.keys
    if keys.null_key_rows:
        out.print(f"{keys.null_key_rows} row(s) with a NULL primary key would be skipped.")
    if keys.duplicate_keys:
        out.print(
            f"{keys.duplicate_keys} duplicated key(s) ({keys.duplicate_rows} rows) would be "
            f"rejected before sending, e.g. {redact(', '.join(keys.duplicate_sample))}",
            highlight=False,
        )
    if preview.rejected_before_send:
        out.print(
            f"{preview.rejected_before_send:,} planned op(s) would not be sent: a run logs "
            "them as failed, planned but never attempted."
        )
    if preview.cost is not None:
        out.print(f"Warehouse cost of this plan: {describe_cost(preview.cost)}", highlight=False)
    if preview.sample:
        table = Table("op_type", "row_id", "fields", title="Sample", show_lines=False)
        for op, row_id, fields in preview.sample:
            table.add_row(op, redact(str(row_id)), redact(str(fields))[:120])
        out.print(table)


def print_run_summary(result: RunResult, redactor: Redactor, project_file: Path) -> None:
    """A run's counts by op, key findings, status, timings and error, and the query
    listing the rows that did not succeed."""
    c = result.counters
    table = Table(title=f"{result.sync_name} run {result.sync_run_id} ({result.kind})")
    table.add_column("op")
    for name in ("planned", "attempted", "succeeded", "failed"):
        table.add_column(name, justify="right")
    for op in ("added", "changed", "removed"):
        table.add_row(
            op, str(c.planned[op]), str(c.attempted[op]), str(c.succeeded[op]), str(c.failed[op])
        )
    out.print(table)
    keys = result.keys
    if keys.null_key_rows:
        out.print(f"Skipped {keys.null_key_rows} row(s) whose primary key is NULL.")
    if keys.duplicate_keys:
        out.print(
            f"Rejected {keys.duplicate_keys} duplicated key(s) ({keys.duplicate_rows} rows) "
            "before sending (failed, not attempted), e.g. "
            f"{redactor.redact(', '.join(keys.duplicate_sample))}.",
            highlight=False,
        )
    if c.aborted:
        out.print(f"Aborted {c.aborted} row(s); the next run retries them.")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    out.print(f"Status: [bold]{result.status}[/]. Timings: {timing}")
    if result.cost is not None:
        out.print(f"Warehouse cost: {describe_cost(result.cost)}", highlight=False)
    if result.error:
        err.print("[bold red]Run ended early:[/] ", end="", highlight=False)
        err.print(redactor.redact(result.error), highlight=False, markup=False)
    failed = sum(c.failed.values()) + c.aborted
    if failed:
        out.print("See the rows that did not succeed:")
        query = failed_rows_sql(result.sync_name, result.sync_run_id)
        print_code(out, sql_command(project_file, query))


def describe_cost(cost: dict[str, int]) -> str:
    """A run's (or plan's) jobs and bytes, as the warehouse reported them."""
    parts = [f"{cost.get('jobs', 0):,} jobs"]
    for key, label in (
        ("bytes_processed", "bytes processed"),
        ("bytes_billed", "bytes billed"),
        ("model_read_bytes_estimate", "bytes a run's read of the model would scan (estimate)"),
    ):
        if key in cost:
            parts.append(f"{cost[key]:,} {label}")
    return ", ".join(parts)
