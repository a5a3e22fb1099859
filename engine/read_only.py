"""A model only reads: the rule every model's SQL is checked against before anything runs.

A model is one query expression (``SELECT``, ``WITH ... SELECT``, a set operation, a
parenthesised query), parsed with sqlglot in its source's dialect. Anywhere in its tree it may
not hold:

- a statement or clause that writes, locks or changes the session (``_FORBIDDEN``): a
  data-modifying ``WITH`` (``WITH x AS (DELETE ... RETURNING *) SELECT ...``), ``SELECT ...
  INTO``, ``FOR UPDATE`` / ``FOR SHARE``, ``COPY``, ``SET``, ``PRAGMA``, ``ATTACH``, ``CALL``
  and any statement sqlglot does not know (kept as a raw command);
- a call of a function its warehouse lists as having side effects
  (``Dialect.side_effect_functions``: advancing a sequence, ending another session, taking
  an advisory lock, reaching files or other servers, running SQL given as text).
- a read of a pseudo-column its warehouse lists as having side effects
  (``Dialect.side_effect_columns``: Snowflake's ``seq.NEXTVAL`` advances the sequence), where
  the name before the dot is no table, alias or CTE of the query.

Comments and one trailing ``;`` are fine. The views a model reads are held to the same rule
(their definitions, read from the warehouse, recursively). What a user-defined function does
is not visible in SQL: the engine's user should hold only ``SELECT`` on what models read.
Dialects add their own guard where the warehouse has one (DuckDB runs without file or network
access; PostgreSQL describes the model in a read-only transaction).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from dialects.base import Dialect


def _classes(*names: str) -> tuple[type[exp.Expr], ...]:
    """The named sqlglot classes this sqlglot version has."""
    return tuple(getattr(exp, name) for name in names if hasattr(exp, name))


# What each forbidden node is, as the error names it (first match wins: Into before Select).
_FORBIDDEN: tuple[tuple[tuple[type[exp.Expr], ...], str], ...] = (
    (_classes("Into"), "SELECT ... INTO, which creates a table"),
    (_classes("Lock"), "a locking clause (FOR UPDATE / FOR SHARE), which locks rows"),
    (_classes("Insert", "ConditionalInsert", "MultitableInserts"), "an INSERT"),
    (_classes("Update"), "an UPDATE"),
    (_classes("Delete"), "a DELETE"),
    (_classes("Merge"), "a MERGE"),
    (_classes("Copy"), "a COPY"),
    (_classes("Returning", "OnConflict"), "a RETURNING clause, which belongs to a write"),
    (_classes("Create", "Drop", "Alter", "TruncateTable", "Undrop", "SwapTable"), "DDL"),
    (_classes("Comment", "Grant", "Revoke"), "DDL"),
    (_classes("Set", "AlterSession", "Use", "Pragma"), "a statement that changes the session"),
    (_classes("Attach", "Detach", "Install", "LoadData", "Export", "Put", "Get"),
     "a statement that reaches outside the warehouse"),
    (_classes("Transaction", "Commit", "Rollback", "LockingStatement"), "transaction control"),
    (_classes("Declare", "Execute", "ExecuteSql", "StoredProcedure", "Command"),
     "a statement the engine does not run as a query"),
    (_classes("Analyze", "Refresh", "Cache", "Uncache", "Kill", "Describe", "Show"),
     "a statement the engine does not run as a query"),
    (_classes("Summarize"), "a statement the engine does not run as a query"),
    (_classes("NextValueFor"), "NEXT VALUE FOR, which advances a sequence"),
)


class NotReadOnly(Exception):
    """The model is not a plain read; the message says what was found (no key path)."""


def function_names(node: exp.Func, dialect: Dialect) -> set[str]:
    """The names a function call goes by: as written and as the warehouse will receive it."""
    sent = node.sql(dialect=dialect.sqlglot_dialect).split("(", 1)[0]
    written = {sent.strip().strip('"`').lower()}
    if isinstance(node, exp.Anonymous):
        written.add(node.name.lower())
    qualifier = _qualifier(node)
    if qualifier:  # BigQuery's ML.PREDICT, AI.GENERATE: sqlglot keeps the prefix outside
        written |= {f"{qualifier}.{name.rsplit('.', 1)[-1]}" for name in written if name}
    return {name for name in written | {node.sql_name().lower()} if name}


def _qualifier(node: exp.Func) -> str:
    """The name a call is qualified by (``ml`` of ``ml.predict(...)``), lower case, or ''."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        return parent.this.sql().strip('"`').lower()
    if isinstance(parent, exp.Table) and parent.this is node:
        parts = (parent.args.get("catalog"), parent.args.get("db"))
        return ".".join(part.name.lower() for part in parts if part)
    return ""


def _side_effect(name: str, dialect: Dialect) -> str | None:
    for pattern, what in dialect.side_effect_functions.items():
        if fnmatchcase(name, pattern):
            return what
    return None


def _statement_kind(node: exp.Expr) -> str:
    """A raw command's first word (CALL, VACUUM, ...) for the message."""
    if isinstance(node, exp.Command):
        return f"a {str(node.this).upper()} statement"
    return ""


def first_write(query: exp.Expr) -> str | None:
    """What the first statement or clause in ``query`` that is not a read is, or None."""
    for node in query.walk():
        for classes, what in _FORBIDDEN:
            if classes and isinstance(node, classes):
                return _statement_kind(node) or what
    return None


def check_read_only(query: exp.Expr, dialect: Dialect) -> None:
    """Raise :class:`NotReadOnly` naming the first thing in ``query`` that is not a read."""
    found = first_write(query)
    if found is not None:
        raise NotReadOnly(found)
    check_side_effects(query, dialect)


def check_side_effects(query: exp.Expr, dialect: Dialect) -> None:
    """Raise :class:`NotReadOnly` naming a function call or pseudo-column in ``query`` that
    the warehouse lists as having side effects."""
    for node in query.walk():
        if isinstance(node, exp.Func):
            for name in sorted(function_names(node, dialect)):
                effect = _side_effect(name, dialect)
                if effect:
                    raise NotReadOnly(f"a call of {name}(), which {effect}")
    if dialect.side_effect_columns:
        _check_pseudo_columns(query, dialect)


def _relation_names(query: exp.Expr) -> set[str]:
    """Every name a column of ``query`` may be qualified by: tables, aliases, CTEs."""
    names: set[str] = set()
    for node in query.walk():
        if isinstance(node, exp.Table):
            names.update({node.name.lower(), node.alias_or_name.lower()})
        elif isinstance(node, exp.TableAlias | exp.CTE | exp.Subquery) and node.alias_or_name:
            names.add(node.alias_or_name.lower())
    return names


def _check_pseudo_columns(query: exp.Expr, dialect: Dialect) -> None:
    """A qualified column named like one of the warehouse's pseudo-columns with side effects
    (Snowflake's ``seq.NEXTVAL``) whose qualifier is no relation of the query."""
    relations = _relation_names(query)
    for column in query.find_all(exp.Column):
        what = dialect.side_effect_columns.get(column.name.lower())
        if what and column.table and column.table.lower() not in relations:
            raise NotReadOnly(f"{column.sql(dialect=dialect.sqlglot_dialect)}, which {what}")


def _named_tables(query: exp.Expr) -> list[exp.Table]:
    """The tables and views a query names (not its CTEs, not table functions), bare."""
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    found: dict[str, exp.Table] = {}
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or (not table.db and table.name in ctes):
            continue
        bare = exp.Table(
            this=table.this.copy(),
            db=table.args["db"].copy() if table.args.get("db") else None,
            catalog=table.args["catalog"].copy() if table.args.get("catalog") else None,
        )
        found.setdefault(bare.sql(), bare)
    return list(found.values())


def check_views(query: exp.Expr, dialect: Dialect, seen: set[str] | None = None) -> None:
    """Raise :class:`NotReadOnly` if a view the query reads (or a view that view reads, ...)
    does not only read. A definition sqlglot cannot parse is left to the warehouse."""
    seen = set() if seen is None else seen
    for table in _named_tables(query):
        name = table.sql(dialect=dialect.sqlglot_dialect)
        if name in seen:
            continue
        seen.add(name)
        definition = dialect.view_definition(table)
        if definition is None:
            continue
        try:
            view = sqlglot.parse_one(definition.strip().rstrip(";"), read=dialect.sqlglot_dialect)
        except ParseError:
            continue
        try:
            check_read_only(view, dialect)
        except NotReadOnly as found:
            raise NotReadOnly(f"view {name}, which holds {found}") from None
        check_views(view, dialect, seen)
