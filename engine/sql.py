"""Render the engine's SQL templates for a dialect.

Templates are real ``.sql`` files in ``sql_templates/`` written in DuckDB's dialect (the
canonical one) and parsed by sqlglot. They use three kinds of placeholder:

- ``__name__`` as a *table*: replaced by a qualified table (or a subquery);
- ``__name__`` as a *column*: replaced by an expression built in Python (a row hash, the key
  as text), or, when given a list of column names, spliced in as that many quoted columns
  (``d.__model_columns__`` becomes ``d."a", d."b"``), or, when given a mapping of column
  names to aliases, as that many aliased columns (``m.__x__`` becomes ``m."a" AS "c0"``), or,
  when given a list of expressions, as those (an empty list removes the placeholder);
- ``:name`` as a *value*: left as a bound parameter, rendered in the driver's paramstyle.

Every identifier the engine emits is quoted and folded, in one place (:func:`fold_identifiers`,
run on every statement after substitution), to the case the warehouse folds unquoted names to,
so users can query the engine's objects without quotes. Names that are not the engine's (a
model's columns, a model's own SQL) are marked *verbatim* where they enter (:func:`user_column`,
:func:`verbatim`) and left exactly as the warehouse reported or the user wrote them.
A dialect overrides a template by placing a file of the same name in
``sql_templates/<dialect>/``, only where transpiling cannot express it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

import sql_templates
from dialects.base import Dialect

TEMPLATE_DIR = Path(sql_templates.__file__).resolve().parent
CANONICAL_DIALECT = "duckdb"
_PLACEHOLDER = re.compile(r"^__([a-z0-9_]+)__$")
_VERBATIM = "lightning_verbatim"  # meta flag on identifiers that are not the engine's

Substitute = exp.Expr | Sequence[str] | Sequence[exp.Expr] | Mapping[str, str]


@cache
def _parse_template(path: Path) -> tuple[exp.Expr, ...]:
    text = path.read_text(encoding="utf-8")
    return tuple(e for e in sqlglot.parse(text, read=CANONICAL_DIALECT) if e is not None)


def template_path(name: str, dialect_name: str) -> Path:
    """The file a template is read from: the dialect's override, else the canonical one."""
    override = TEMPLATE_DIR / dialect_name / f"{name}.sql"
    if override.exists():
        return override
    path = TEMPLATE_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL template named {name!r} in {TEMPLATE_DIR}")
    return path


def fold_case(name: str, dialect: Dialect) -> str:
    """The engine's own identifier as the warehouse stores an unquoted one."""
    case = dialect.capabilities.identifier_case
    if case == "upper":
        return name.upper()
    if case == "lower":
        return name.lower()
    return name


def table(schema: str, name: str, dialect: Dialect) -> exp.Table:
    """A quoted, qualified table for one of the engine's own tables."""
    return exp.Table(
        this=exp.to_identifier(fold_case(name, dialect), quoted=True),
        db=exp.to_identifier(fold_case(schema, dialect), quoted=True),
    )


def quoted_column(name: str, qualifier: str | None = None) -> exp.Column:
    """One of the engine's own columns, every part quoted (folded when rendered)."""
    return exp.column(name, table=qualifier, quoted=True)


def user_column(name: str, qualifier: str | None = None) -> exp.Column:
    """A model's column: quoted, and kept exactly as named (never folded); the qualifier, if
    any, is the engine's alias."""
    column = exp.column(name, table=qualifier, quoted=True)
    column.this.meta[_VERBATIM] = True
    return column


def verbatim(tree: exp.Expr) -> exp.Expr:
    """Mark every identifier of ``tree`` as not the engine's to fold: a model's own SQL, or a
    statement already rendered (and folded) for the warehouse."""
    for ident in tree.find_all(exp.Identifier):
        ident.meta[_VERBATIM] = True
    return tree


def fold_identifiers(tree: exp.Expr, dialect: Dialect) -> exp.Expr:
    """Quote every identifier of ``tree`` and fold it to the warehouse's case, except the
    verbatim ones (see module doc). The one place the engine's names get their case."""
    for ident in tree.find_all(exp.Identifier):
        if not ident.meta.get(_VERBATIM):
            ident.set("this", fold_case(ident.name, dialect))
            ident.set("quoted", True)
    return tree


def engine_names(columns: Mapping[str, Any]) -> dict[str, Any]:
    """A result keyed by the engine's own column names (all lower case) as the engine spells
    them: a warehouse that folds to upper case reports them upper case."""
    return {name.lower(): values for name, values in columns.items()}


class SqlRenderer:
    """Renders templates for one dialect."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect

    def statements(
        self,
        name: str,
        tables: Mapping[str, exp.Expr] | None = None,
        exprs: Mapping[str, Substitute] | None = None,
        temporary: bool = True,
    ) -> list[str]:
        """The template's statements rendered as SQL text for this dialect.

        With ``temporary=False`` a ``CREATE TEMPORARY TABLE`` becomes a plain table (for
        warehouses without session temporary tables).
        """
        path = template_path(name, self.dialect.name)
        read = self.dialect.sqlglot_dialect if path.parent.name == self.dialect.name else None
        parsed = _parse_template(path) if read is None else self._parse_override(path)
        rendered = []
        for statement in parsed:
            tree = self._substitute(statement.copy(), tables or {}, exprs or {})
            fold_identifiers(tree, self.dialect)
            if not temporary:
                for prop in list(tree.find_all(exp.TemporaryProperty)):
                    prop.pop()
            rendered.append(tree.sql(dialect=self.dialect.sqlglot_dialect))
        return rendered

    def one(
        self,
        name: str,
        tables: Mapping[str, exp.Expr] | None = None,
        exprs: Mapping[str, Substitute] | None = None,
    ) -> str:
        """The template's single statement as SQL text."""
        statements = self.statements(name, tables, exprs)
        if len(statements) != 1:
            raise ValueError(f"template {name!r} holds {len(statements)} statements, not one")
        return statements[0]

    def expression(self, expression: exp.Expr) -> str:
        """Render an expression built in Python (DDL the engine builds with sqlglot), its
        identifiers folded like a template's."""
        tree = fold_identifiers(expression.copy(), self.dialect)
        return tree.sql(dialect=self.dialect.sqlglot_dialect)

    def parsed(self, sql: str) -> exp.Expr:
        """A statement this renderer made, parsed back to substitute it into another (as a
        table); already folded, so marked verbatim."""
        return verbatim(sqlglot.parse_one(sql, read=self.dialect.sqlglot_dialect))

    @cache  # noqa: B019 - one renderer per dialect, few templates
    def _parse_override(self, path: Path) -> tuple[exp.Expr, ...]:
        text = path.read_text(encoding="utf-8")
        return tuple(
            e for e in sqlglot.parse(text, read=self.dialect.sqlglot_dialect) if e is not None
        )

    def _substitute(
        self,
        tree: exp.Expr,
        tables: Mapping[str, exp.Expr],
        exprs: Mapping[str, Substitute],
    ) -> exp.Expr:
        # 1. Column lists spliced into SELECT lists (a mapping's keys are a model's columns).
        for select in list(tree.find_all(exp.Select)):
            spliced: list[exp.Expr] = []
            changed = False
            for item in select.expressions:
                key = _placeholder_name(item) if isinstance(item, exp.Column) else None
                value = exprs.get(key) if key else None
                if key and value is not None and not isinstance(value, exp.Expr):
                    qualifier = item.table or None
                    if isinstance(value, Mapping):
                        spliced.extend(
                            exp.alias_(user_column(col, qualifier), alias, quoted=True)
                            for col, alias in value.items()
                        )
                    elif all(isinstance(col, exp.Expr) for col in value):
                        spliced.extend(col.copy() for col in value)  # type: ignore[union-attr]
                    else:
                        spliced.extend(quoted_column(col, qualifier) for col in value)
                    changed = True
                else:
                    spliced.append(item)
            if changed:
                select.set("expressions", spliced)

        # 2. Tables and single expressions.
        def replace(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Table) and not node.db:
                key = _placeholder_name(node)
                if key is not None:
                    if key not in tables:
                        raise KeyError(f"template needs table __{key}__")
                    replacement = tables[key].copy()
                    alias = node.args.get("alias")
                    if alias is not None:
                        if isinstance(replacement, exp.Table):
                            replacement.set("alias", alias)
                        else:
                            replacement = exp.Subquery(this=replacement, alias=alias)
                    elif not isinstance(replacement, exp.Table):
                        # Named after the placeholder: some warehouses require an alias.
                        replacement = exp.Subquery(
                            this=replacement,
                            alias=exp.TableAlias(this=exp.to_identifier(key, quoted=True)),
                        )
                    return replacement
            if isinstance(node, exp.Column) and not node.table:
                key = _placeholder_name(node)
                if key is not None:
                    value = exprs.get(key)
                    if not isinstance(value, exp.Expr):
                        raise KeyError(f"template needs expression __{key}__")
                    return value.copy()
            return node

        return tree.transform(replace, copy=False)


def _placeholder_name(node: exp.Expr) -> str | None:
    name = node.name if isinstance(node, exp.Column | exp.Table) else None
    if not name:
        return None
    match = _PLACEHOLDER.match(name)
    return match.group(1) if match else None
