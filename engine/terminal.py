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


# Values up to this many characters are kept on one line in a table.
SHORT = 26


def cell(value: Any) -> str:
    """A value as a table shows it (NULL for None; numbers as SQL writes them)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def rows_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    title: str | None = None,
    right: set[str] | None = None,
) -> Table:
    """A table of rows, compact enough for 80 columns; the ``right`` columns (default: those
    holding only numbers) are right-aligned."""
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for index, name in enumerate(columns):
        # Short values (ids, numbers, times) are never wrapped; long text wraps at words.
        short = all(len(cell(row[index])) <= SHORT for row in rows)
        if right is None:
            values = [row[index] for row in rows if row[index] is not None]
            numeric = bool(values) and all(
                isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values
            )
        else:
            numeric = name in right
        justify = "right" if numeric else "left"
        table.add_column(name, justify=justify, overflow="fold", no_wrap=short)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    return table
