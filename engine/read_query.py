"""``lightning-sync sql``: one read-only query on a project's source, e.g. the sync logs.

The query must be one SELECT (WITH and set operations allowed) and is refused before it runs
if it holds anything that writes (INSERT, UPDATE, DELETE, MERGE, DDL, ``SELECT ... INTO``,
including inside a CTE). It then runs on a connection the warehouse itself keeps read-only,
so a write that looks like a read (a function that writes) fails in the warehouse too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from dialects.base import Dialect
from engine.config import ConfigError, Project
from engine.read_only import NotReadOnly, check_side_effects, first_write
from engine.warehouse import dialect_for


class ReadOnlyQueryError(Exception):
    """The statement is not one read-only query; the message names the fix."""


@dataclass(frozen=True)
class QueryResult:
    """Column names and the first rows of a query; ``truncated`` if it had more."""

    source: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool

    def as_records(self) -> list[dict[str, Any]]:
        """Rows as column -> value (for ``--json``)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def pick_source(project: Project, source: str | None) -> str:
    """The source to query: the one named, else the project's only source."""
    if source is not None:
        if source not in project.sources:
            raise ConfigError(
                f"--source: no source named {source!r} in {project.path}. Fix: use one of "
                f"{', '.join(sorted(project.sources))}."
            )
        return source
    if len(project.sources) == 1:
        return next(iter(project.sources))
    raise ConfigError(
        f"{project.path} has {len(project.sources)} sources. Fix: pick one with --source "
        f"({', '.join(sorted(project.sources))})."
    )


def check_read_only(sql: str, dialect: Dialect) -> str:
    """The statement, if it is one query that only reads; else ReadOnlyQueryError."""
    fix = (
        "Fix: give one SELECT query (WITH allowed); `lightning-sync sql` only reads, so change "
        "data with your warehouse's own client."
    )
    text = sql.strip().rstrip(";").strip()
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect.sqlglot_dialect) if s]
    except ParseError as error:
        first = str(error).splitlines()[0].rstrip(".!")
        raise ReadOnlyQueryError(
            f"The query could not be parsed as {dialect.name} SQL: {first}. {fix}"
        ) from error
    if len(statements) != 1:
        raise ReadOnlyQueryError(f"The text holds {len(statements)} statements. {fix}")
    (statement,) = statements
    # The models' rule for statements and clauses (engine/read_only.py); a function that
    # writes is left to the read-only connection below, where the warehouse has one.
    kind = first_write(statement)
    if kind is None and not isinstance(statement, exp.Query):
        kind = f"a {statement.key.upper()} statement"
    if kind is None and not dialect.capabilities.read_only_sessions:
        try:
            check_side_effects(statement, dialect)
        except NotReadOnly as found:
            kind = str(found)
    if kind is not None:
        raise ReadOnlyQueryError(f"The statement is not a read-only query: it holds {kind}. {fix}")
    return text


def read_query(
    project: Project, sql: str, source: str | None = None, max_rows: int = 100
) -> QueryResult:
    """Run one read-only query on a source and return its first ``max_rows`` rows."""
    name = pick_source(project, source)
    dialect = dialect_for(project, name)
    text = check_read_only(sql, dialect)
    dialect.connect(read_only=True)
    try:
        columns, rows = dialect.query(text, max_rows + 1)
    except Exception as error:
        if dialect.is_driver_error(error):
            raise dialect.wrap(error, f"The query failed on source {name!r}") from error
        raise
    finally:
        dialect.close()
    return QueryResult(name, columns, rows[:max_rows], len(rows) > max_rows)


