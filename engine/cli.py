"""``lightning-sync``: the command line.

Exit codes: 0 the command did its job (a run that completed, even with rejected rows);
1 a run or command failed (fatal error, run ended early or interrupted, warehouse error);
2 the project file, a setting or a ``sql`` query (not one read-only SELECT) is invalid, or
the quickstart directory already exists; 3 rows were rejected and
``--fail-on-rejections`` was given; 4 the sync is locked by another run.

Nothing printed shows a secret of the project (see :mod:`engine.secrets`): messages, run
errors, ``--json`` output and the traceback of an unexpected error are redacted.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from dialects.errors import WarehouseError
from engine.cli_output import err, out, print_plan, print_run_summary
from engine.config import ConfigError, Project
from engine.destinations.base import DestinationConfigError
from engine.dry_run import plan_sync
from engine.interrupts import RunInterrupted
from engine.lock_rows import SyncLockedError
from engine.model import ModelError
from engine.planner import DuplicateKeysError
from engine.project_file import load_project
from engine.read_query import ReadOnlyQueryError, read_query
from engine.rejection_writer import OutcomeWriteError
from engine.run import RunResult, run_sync
from engine.secrets import Redactor, no_secrets
from engine.sync_job import PrimaryKeyChangedError
from engine.terminal import rows_table
from engine.warehouse import PermissionProblem, connected, dialect_for

app = typer.Typer(
    help="Lightning: in-warehouse reverse ETL. Change data capture runs as SQL in your "
    "warehouse; only the delta is sent to destinations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: a flag reads `--json`, not `--json <bool>` as the rich panels show it.
    rich_markup_mode=None,
)

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
    ReadOnlyQueryError,
)


def _fail(message: str, code: int, redactor: Redactor | None = None) -> typer.Exit:
    message = (redactor or no_secrets()).redact(message)
    err.print("[bold red]Error:[/] ", end="", highlight=False, markup=True)
    err.print(message, highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(code)


def _load(project: Path | None) -> Project:
    try:
        return load_project(project)
    except ConfigError as error:
        raise _fail(str(error), 2) from error


def _guard(fn: Any, project: Project | None = None) -> Any:
    """Turn the engine's errors into a clear message and an exit code (secrets redacted)."""
    redactor = project.redactor if project is not None else no_secrets()
    try:
        return fn()
    except typer.Exit:
        raise
    except USER_ERRORS as error:
        raise _fail(str(error), 2, redactor) from None
    except SyncLockedError as error:
        raise _fail(str(error), 4, redactor) from None
    except PermissionProblem as error:
        raise _fail(str(error), 1, redactor) from None
    except (
        DuplicateKeysError,
        PrimaryKeyChangedError,
        WarehouseError,
        OutcomeWriteError,
    ) as error:
        raise _fail(str(error), 1, redactor) from None
    except RunInterrupted as error:
        raise _fail(error.describe(), 1, redactor) from None
    except KeyboardInterrupt:
        raise _fail(RunInterrupted("SIGINT").describe(), 1, redactor) from None
    except Exception as error:  # noqa: BLE001 - a bug: show it, without the secrets
        details = redactor.redact("".join(traceback.format_exception(error)))
        err.print(details, highlight=False, markup=False, soft_wrap=True)
        raise _fail(
            f"unexpected {type(error).__name__}: {error}. This is a bug in lightning-sync; "
            "the details are above.",
            1,
            redactor,
        ) from None


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
                target = escape(proj.redactor.redact(dialect.describe()))
                out.print(
                    f"[green]ok[/] source [bold]{name}[/] ({target}): schemas "
                    "hightouch_planner and hightouch_audit are ready; create, insert and drop "
                    "work."
                )

    _guard(work, proj)


@app.command()
def plan(
    sync: Annotated[str, typer.Argument(help="Sync name from the project file.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
    sample: Annotated[int, typer.Option(help="How many sample rows to show.")] = 5,
) -> None:
    """Dry run: count what a run would add, change and remove; send and commit nothing."""
    proj = _load(project)
    preview = _guard(lambda: plan_sync(proj, sync, sample_rows=sample), proj)
    if as_json:
        print(json.dumps(proj.redactor.redact_any(preview.as_dict()), default=str))
        return
    print_plan(sync, preview, proj.redactor)


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
            ),
            proj,
        )
    if as_json:
        print(json.dumps(proj.redactor.redact_any(result.as_dict()), default=str))
    else:
        print_run_summary(result, proj.redactor, _shown_path(project, proj))
    if result.status != "succeeded":
        raise typer.Exit(1)
    failed = sum(result.counters.failed.values()) + result.counters.aborted
    if fail_on_rejections and failed:
        raise typer.Exit(3)


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

    rows = proj.redactor.redact_any(_guard(work, proj))
    if as_json:
        print(json.dumps(rows, default=str))
        return
    columns = ["sync_run_id", "status", "started_at", "planned", "succeeded", "failed"]
    values = []
    for row in rows:
        totals = [
            sum(row[f"num_{kind}_{op}"] for op in ("add", "change", "remove"))
            for kind in ("planned", "succeeded", "failed")
        ]
        started = f"{row['started_at']:%Y-%m-%d %H:%M}"
        values.append([row["sync_run_id"], row["status"], started, *(f"{n:,}" for n in totals)])
    title = f"hightouch_audit.sync_runs for {sync}"
    out.print(rows_table(columns, values, title=title, right={"planned", "succeeded", "failed"}))
    for row in rows:
        if row["error"]:
            out.print(f"Run {row['sync_run_id']} error: {row['error']}", highlight=False)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SELECT query (WITH allowed).")],
    project: ProjectOption = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", "-s", help="Source to query (default: the only one).", show_default=False
        ),
    ] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows to show at most.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Run one read-only query on a source (e.g. the sync logs) and print its rows."""
    proj = _load(project)
    result = _guard(lambda: read_query(proj, query, source, max_rows), proj)
    if as_json:
        print(json.dumps(proj.redactor.redact_any(result.as_records()), default=str))
        return
    out.print(rows_table(result.columns, proj.redactor.redact_any(result.rows)))
    more = " (more rows not shown: raise --max-rows)" if result.truncated else ""
    out.print(f"{len(result.rows):,} row(s){more}.", highlight=False)


def _shown_path(given: Path | None, proj: Project) -> Path:
    """The project file as the user named it (relative stays relative)."""
    return given if given is not None else proj.path


@app.command()
def quickstart(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create the demo project.")
    ] = Path("quickstart"),
    rows: Annotated[int, typer.Option(help="Rows in the generated users model.")] = 100_000,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing demo directory.")
    ] = False,
) -> None:
    """Create a demo DuckDB warehouse, sync it to files twice, and show the sync logs."""
    from engine.quickstart import QuickstartExists, run_quickstart

    def work() -> None:
        try:
            run_quickstart(directory, rows, out, force=force)
        except QuickstartExists as error:
            raise _fail(str(error), 2) from None

    _guard(work)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m engine.cli``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
