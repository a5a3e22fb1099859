"""What the command line prints besides prose: commands, SQL and tables of rows.

Commands and SQL are printed as written, one line each (every line the engine builds is
shorter than 80 columns), never re-wrapped by the console: a narrow terminal may fold a long
line, but copying it gives the command back whole, never a command broken mid-token.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table


def print_code(console: Console, text: str, indent: int = 2) -> None:
    """Print a command or SQL verbatim, indented, with no wrapping, markup or highlighting."""
    pad = " " * indent
    for line in text.splitlines():
        console.print(pad + line, soft_wrap=True, markup=False, highlight=False)


def sql_command(project_file: Path | str, sql: str) -> str:
    """``lightning-sync sql`` running ``sql`` (its lines kept), quoted for a POSIX shell:
    in double quotes when nothing in it is special there, so its own quotes stay legible."""
    body = "\n" + sql.strip("\n")
    quoted = f'"{body}"' if not set(body) & set('"$`\\!') else shlex.quote(body)
    return f"lightning-sync sql --project {shlex.quote(str(project_file))} {quoted}"


def failed_rows_sql(sync: str, sync_run_id: int) -> str:
    """The query listing a run's rows that did not succeed (each line under 80 columns)."""
    return (
        "select row_id, op_type, status, failure_reason\n"
        "from hightouch_audit.sync_changelog\n"
        f"where sync_id = '{sync}' and sync_run_id = {sync_run_id}\n"
        "  and status <> 'succeeded'"
    )


def cell(value: Any) -> str:
    """A value as a table shows it (NULL for None, thousands separated integers)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def rows_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> Table:
    """A table of query rows (numbers right-aligned), compact enough for 80 columns."""
    table = Table(
        title=title, box=box.SIMPLE_HEAD, title_justify="left", show_edge=False, pad_edge=False
    )
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in rows)
        for i in range(len(columns))
    ]
    for name, is_number in zip(columns, numeric, strict=True):
        table.add_column(name, justify="right" if is_number else "left", overflow="fold")
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    return table
