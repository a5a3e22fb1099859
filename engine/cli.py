"""``lightning-sync``: the command line.

Exit codes: 0 the command did its job (a run that completed, even with rejected rows);
1 a run or command failed (fatal error, run ended early or interrupted, warehouse error);
2 the project file or a setting is invalid; 3 rows were rejected and
``--fail-on-rejections`` was given; 4 the sync is locked by another run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dialects.base import WarehouseError
from engine.config import ConfigError, Project, load_project
from engine.destinations.base import DestinationConfigError
from engine.interrupts import RunInterrupted
from engine.model import ModelError
from engine.planner import DuplicateKeysError
from engine.run import (
    PermissionProblem,
    PrimaryKeyChangedError,
    RunResult,
    connected,
    dialect_for,
    plan_sync,
    run_sync,
)
from engine.state import SyncLockedError

app = typer.Typer(
    help="Lightning: in-warehouse reverse ETL. Change data capture runs as SQL in your "
    "warehouse; only the delta is sent to destinations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project file (default: ./lightning.yml, or $LIGHTNING_PROJECT).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    DestinationConfigError,
    ModelError,
)


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def _load(project: Path | None) -> Project:
    try:
        return load_project(project)
    except ConfigError as error:
        raise _fail(str(error), 2) from error


def _guard(fn: Any) -> Any:
    """Turn the engine's errors into a clear message and an exit code."""
    try:
        return fn()
    except typer.Exit:
        raise
    except USER_ERRORS as error:
        raise _fail(str(error), 2) from error
    except SyncLockedError as error:
        raise _fail(str(error), 4) from error
    except PermissionProblem as error:
        raise _fail(str(error), 1) from error
    except (DuplicateKeysError, PrimaryKeyChangedError, WarehouseError) as error:
        raise _fail(str(error), 1) from error
    except RunInterrupted as error:
        raise _fail(error.describe(), 1) from error
    except KeyboardInterrupt as error:
        raise _fail(RunInterrupted("SIGINT").describe(), 1) from error


@app.command()
def init(project: ProjectOption = None) -> None:
    """Create the hightouch_planner and hightouch_audit schemas and check privileges."""
    proj = _load(project)

    def work() -> None:
        for name in proj.sources:
            dialect = dialect_for(proj, name)
            with connected(dialect) as state:
                probe = state.planner_table("lightning_privilege_check")
                from sqlglot import exp

                create = exp.Create(
                    this=exp.Schema(
                        this=probe,
                        expressions=[
                            exp.ColumnDef(
                                this=exp.to_identifier("x", quoted=True),
                                kind=exp.DataType.build("int"),
                            )
                        ],
                    ),
                    kind="TABLE",
                )
                try:
                    dialect.execute(state.sql.expression(create))
                    dialect.execute(
                        state.sql.expression(exp.insert(exp.select(exp.Literal.number(1)), probe))
                    )
                finally:
                    state.drop("lightning_privilege_check")
                out.print(
                    f"[green]ok[/] source [bold]{name}[/] ({dialect.describe()}): schemas "
                    "hightouch_planner and hightouch_audit are ready; create, insert and drop "
                    "work."
                )

    _guard(work)


@app.command()
def plan(
    sync: Annotated[str, typer.Argument(help="Sync name from the project file.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
    sample: Annotated[int, typer.Option(help="How many sample rows to show.")] = 5,
) -> None:
    """Dry run: count what a run would add, change and remove; send and commit nothing."""
    proj = _load(project)
    preview = _guard(lambda: plan_sync(proj, sync, sample_rows=sample))
    if as_json:
        print(json.dumps(preview.as_dict(), default=str))
        return
    counts = preview.counts
    out.print(
        f"Sync [bold]{sync}[/] would send: [green]{counts['added']} added[/], "
        f"[yellow]{counts['changed']} changed[/], [red]{counts['removed']} removed[/]"
    )
    keys = preview.keys
    if keys.null_key_rows:
        out.print(f"{keys.null_key_rows} row(s) with a NULL primary key would be skipped.")
    if keys.duplicate_keys:
        out.print(
            f"{keys.duplicate_keys} duplicated key(s) ({keys.duplicate_rows} rows) would be "
            f"rejected, e.g. {', '.join(keys.duplicate_sample)}"
        )
    if preview.sample:
        table = Table("op_type", "row_id", "fields", title="Sample", show_lines=False)
        for op, row_id, fields in preview.sample:
            table.add_row(op, str(row_id), str(fields)[:120])
        out.print(table)


@app.command()
def run(
    sync: Annotated[str, typer.Argument(help="Sync name from the project file.")],
    project: ProjectOption = None,
    full_resync: Annotated[
        bool, typer.Option("--full-resync", help="Forget the baseline: send every row as added.")
    ] = False,
    reset_cdc: Annotated[
        bool,
        typer.Option("--reset-cdc", help="Send nothing; make the current rows the baseline."),
    ] = False,
    fail_on_rejections: Annotated[
        bool, typer.Option("--fail-on-rejections", help="Exit 3 if any row was rejected.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a sync: plan, diff, send the delta, write the sync logs, commit."""
    proj = _load(project)
    show_progress = err.is_terminal and not as_json
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not show_progress,
    )
    task = progress.add_task(f"{sync}: planning", total=None)

    def planned(total: int) -> None:
        progress.update(task, description=f"{sync}: sending", total=total, completed=0)

    def advance(n: int) -> None:
        progress.advance(task, n)

    with progress:
        result: RunResult = _guard(
            lambda: run_sync(
                proj,
                sync,
                full_resync=full_resync,
                reset_cdc=reset_cdc,
                on_planned=planned,
                on_progress=advance,
            )
        )
    if as_json:
        print(json.dumps(result.as_dict(), default=str))
    else:
        _print_summary(result)
    if result.status != "succeeded":
        raise typer.Exit(1)
    failed = sum(result.counters.failed.values()) + result.counters.aborted
    if fail_on_rejections and failed:
        raise typer.Exit(3)


def _print_summary(result: RunResult) -> None:
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
            f"Rejected {keys.duplicate_keys} duplicated key(s) ({keys.duplicate_rows} rows), "
            f"e.g. {', '.join(keys.duplicate_sample)}."
        )
    if c.aborted:
        out.print(f"Aborted {c.aborted} row(s); the next run retries them.")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    out.print(f"Status: [bold]{result.status}[/]. Timings: {timing}")
    if result.error:
        err.print(f"[bold red]Run ended early:[/] {result.error}", highlight=False)
    failed = sum(c.failed.values()) + c.aborted
    if failed:
        out.print(
            "See failed rows: select row_id, op_type, status, failure_reason from "
            f"hightouch_audit.sync_changelog where sync_id = '{result.sync_name}' and "
            f"sync_run_id = {result.sync_run_id} and status <> 'succeeded';"
        )


@app.command()
def runs(
    sync: Annotated[str, typer.Argument(help="Sync name from the project file.")],
    project: ProjectOption = None,
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Show the sync's most recent rows of hightouch_audit.sync_runs."""
    proj = _load(project)

    def work() -> list[dict[str, Any]]:
        from engine.history import recent_runs

        return recent_runs(proj, sync, limit)

    rows = _guard(work)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = Table(title=f"hightouch_audit.sync_runs for {sync}")
    columns = ("sync_run_id", "status", "started_at", "planned", "succeeded", "failed", "error")
    for column in columns:
        table.add_column(column)
    for row in rows:
        planned = sum(row[f"num_planned_{op}"] for op in ("add", "change", "remove"))
        succeeded = sum(row[f"num_succeeded_{op}"] for op in ("add", "change", "remove"))
        failed = sum(row[f"num_failed_{op}"] for op in ("add", "change", "remove"))
        table.add_row(
            str(row["sync_run_id"]),
            str(row["status"]),
            f"{row['started_at']:%Y-%m-%d %H:%M:%S}",
            str(planned),
            str(succeeded),
            str(failed),
            (row["error"] or "")[:60],
        )
    out.print(table)


@app.command()
def quickstart(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create the demo project.")
    ] = Path("quickstart"),
    rows: Annotated[int, typer.Option(help="Rows in the generated users model.")] = 100_000,
) -> None:
    """Create a demo DuckDB warehouse, sync it to files twice, and show the sync logs."""
    from engine.quickstart import run_quickstart

    _guard(lambda: run_quickstart(directory, rows, out))


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m engine.cli``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
