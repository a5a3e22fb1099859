"""A model as the engine uses it: one parsed SELECT, its columns, its key and its row hash.

The key is compared as text (``row_id``). A composite key joins its parts with ``|`` after
escaping ``\\`` as ``\\\\`` and ``|`` as ``\\|`` in each part, so different keys never give the
same ``row_id``; a key with any NULL part is a NULL key (dropped and counted).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from dialects.base import Dialect
from dialects.errors import ErrorKind, WarehouseError
from engine.array_expansion import ArrayExpansionError, expanded_query, key_columns
from engine.column_names import ColumnNameError, ColumnNames
from engine.config import Mapping, ModelConfig, SyncConfig
from engine.read_only import NotReadOnly, check_read_only, check_views
from engine.sql import user_column, verbatim
from engine.templates import row_columns

KEY_SEPARATOR = "|"


class ModelError(Exception):
    """The model or a sync's use of it is invalid; the message names the fix."""


def parse_model(name: str, model: ModelConfig, dialect: Dialect) -> exp.Query:
    """The model as one sqlglot query; anything but exactly one query that only reads is
    refused (see engine/read_only.py)."""
    if model.table is not None:
        try:
            table = exp.to_table(model.table, dialect=dialect.sqlglot_dialect)
        except (ParseError, ValueError) as error:
            raise ModelError(f"models.{name}.table: {model.table!r} is not a table name") from error
        for part in table.parts:
            part.set("quoted", True) if isinstance(part, exp.Identifier) else None
        return verbatim(exp.select("*").from_(table))  # type: ignore[return-value]
    sql = (model.sql or "").strip().rstrip(";").strip()
    try:
        parsed = sqlglot.parse(sql, read=dialect.sqlglot_dialect)
        # A comment after the last ``;`` parses as a statement of its own that holds nothing.
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except ParseError as error:
        raise ModelError(
            f"models.{name}.sql could not be parsed as {dialect.name} SQL: "
            f"{str(error).splitlines()[0].rstrip('.!')}. Fix: the model must be one SELECT query."
        ) from error
    if len(statements) != 1:
        raise ModelError(
            f"models.{name}.sql holds {len(statements)} statements. Fix: the model must be "
            "exactly one SELECT query (WITH allowed), with no other statements."
        )
    query = statements[0]
    if not isinstance(query, exp.Query):
        first = sql.split(None, 1)[0] if sql else ""
        if isinstance(query, exp.Command) or query.key == first.lower():
            kind = first.upper()
            article = "an" if kind[:1] in "AEIOU" else "a"
            what = f"is {article} {kind} statement, not a SELECT"
        else:
            what = f"is not a SELECT query (it begins with {first!r} and does not parse as one)"
        raise ModelError(
            f"models.{name}.sql {what}. Fix: the model must be one SELECT query (WITH "
            "allowed); the engine never runs other statements from it."
        )
    try:
        check_read_only(query, dialect)
    except NotReadOnly as found:
        raise ModelError(
            f"models.{name}.sql does not only read: it holds {found}. Fix: the model must be "
            "one query that only reads (SELECT, WITH ... SELECT); make changes in your "
            "warehouse itself, not through a model."
        ) from None
    return verbatim(query)  # type: ignore[return-value]


@dataclass(frozen=True)
class BoundModel:
    """A model checked against the warehouse and a sync: columns, key, hashed columns."""

    name: str
    query: exp.Query
    columns: list[str]
    key_columns: list[str]
    hashed_columns: list[str]
    match_column: str | None
    column_types: dict[str, str] = field(default_factory=dict)
    warehouse_names: dict[str, str] = field(default_factory=dict)  # see engine/column_names.py
    # Per mapping: the (name as written, model column) pairs it reads (see mapping_reads).
    mapping_reads: list[list[tuple[str, str]]] = field(default_factory=list)
    # The model columns the destination reads besides the mappings (match, path, audiences).
    extra_columns: list[str] = field(default_factory=list)

    def reads_of(self, index: int, mapping: Mapping) -> list[tuple[str, str]]:
        """The (name as written, model column) pairs ``sync.mappings[index]`` reads."""
        if index < len(self.mapping_reads):
            return self.mapping_reads[index]
        column = mapping.column
        return [] if column is None else [(column, column)]

    def column(self, name: str) -> exp.Expr:
        """A model column in SQL, by its warehouse name."""
        return user_column(self.warehouse_names.get(name, name))

    @property
    def stored_columns(self) -> list[str]:
        """The names the model's columns have in the stage and the delta, by position.

        A model column may be named anything, ``_lightning_op`` included: inside the engine's
        tables it is stored as ``_lightning_col_<i>`` so it never collides with the engine's
        own columns.
        """
        return [f"_lightning_col_{index}" for index in range(len(self.columns))]

    def stage_columns(self) -> dict[str, str]:
        """Model column -> stored name."""
        return dict(zip(self.columns, self.stored_columns, strict=True))

    def stage_select(self) -> dict[str, str]:
        """Warehouse column name -> stored name (the stage's select list)."""
        return {self.warehouse_names.get(c, c): s for c, s in self.stage_columns().items()}

    @property
    def sent_columns(self) -> list[str]:
        """The model columns a delivery reads: mapped ones and those the destination reads."""
        return self.hashed_columns

    def integer_key(self, dialect: Dialect) -> bool:
        """A single integer key column: stored as an integer (equal as text iff equal)."""
        if len(self.key_columns) != 1:
            return False
        return dialect.is_integer_type(self.column_types.get(self.key_columns[0], ""))

    def row_id_expression(self, dialect: Dialect, as_text: bool = True) -> exp.Expr:
        """The key: as text (composite keys escaped and joined, see module doc), or as the
        integer itself when ``as_text`` is False and :meth:`integer_key` holds."""
        if not as_text and self.integer_key(dialect):
            return self.column(self.key_columns[0])
        parts = [dialect.key_text(self.column(c)) for c in self.key_columns]
        if len(parts) == 1:
            return parts[0]
        escaped: list[exp.Expr] = []
        for part in parts:
            step = exp.func("replace", part, exp.Literal.string("\\"), exp.Literal.string("\\\\"))
            step = exp.func("replace", step, exp.Literal.string("|"), exp.Literal.string("\\|"))
            escaped.append(step)
        joined: exp.Expr = escaped[0]
        for part in escaped[1:]:
            joined = exp.DPipe(
                this=exp.DPipe(this=joined, expression=exp.Literal.string(KEY_SEPARATOR)),
                expression=part,
                safe=False,
            )
        return joined

    def hash_expression(self, dialect: Dialect) -> exp.Expr:
        """The row hash over the mapped (and destination-read) columns only."""
        return dialect.row_hash(
            [self.column(c) for c in self.hashed_columns],
            [self.column_types.get(c, "") for c in self.hashed_columns],
        )

    def match_expression(self, dialect: Dialect) -> exp.Expr:
        """The match value kept in the plan (NULL when the key itself addresses the row)."""
        if self.match_column is None:
            return exp.cast(exp.Null(), exp.DataType.build("text"))
        return dialect.key_text(self.column(self.match_column))

    def signature(self, sync: SyncConfig, sent_settings: dict[str, Any] | None = None) -> str:
        """Changes when what is sent for a row changes without its values changing: the
        mappings, the hashed and match columns, and the destination's ``sent_settings``."""
        payload: dict[str, Any] = {
            "mappings": [m.signature() for m in sync.mappings],
            "hashed": self.hashed_columns,
            "match": self.match_column,
        }
        if sent_settings:  # absent when empty, so the signature of other syncs is unchanged
            payload["destination"] = sent_settings
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def bind_model(
    name: str,
    model: ModelConfig,
    sync_name: str,
    sync: SyncConfig,
    extra_columns: Sequence[tuple[str, str]],
    match_column: str | None,
    dialect: Dialect,
) -> BoundModel:
    """Check the model against the warehouse and the sync; raise ModelError on a bad column.

    ``extra_columns`` are (setting path, column) pairs a destination reads besides the
    mappings (a match column, an audiences column).
    """
    query = parse_model(name, model, dialect)
    described = _describe(name, model, query, dialect)
    if sync.array_expansion is not None:
        try:
            query = expanded_query(name, sync_name, sync, query, described, dialect)
        except ArrayExpansionError as error:
            raise ModelError(str(error)) from None
        where = f"syncs.{sync_name}.array_expansion"
        described = _describe(name, model, query, dialect, expanded=where)
    columns = [c for c, _ in described]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise ModelError(
            f"models.{name} returns the column name(s) {', '.join(dupes)} more than once. Fix: "
            "alias them so every column name is unique."
        )
    names = ColumnNames(name, columns)
    try:
        keys = [names.resolve(f"models.{name}.primary_key", key) for key in model.key_columns]
        keys = key_columns(sync, keys)
        hashed: list[str] = []
        reads = mapping_reads(sync_name, sync, names)
        used = [column for pairs in reads for _, column in pairs]
        extra = [names.resolve(where, column) for where, column in extra_columns]
        for column in [*used, *extra]:
            if column not in hashed:
                hashed.append(column)
    except ColumnNameError as error:
        raise ModelError(str(error)) from None
    types = dict(zip(names.columns, (kind for _, kind in described), strict=True))
    return BoundModel(
        name=name,
        query=query,
        columns=names.columns,
        key_columns=keys,
        hashed_columns=hashed,
        match_column=match_column,
        column_types=types,
        warehouse_names=names.warehouse_names,
        mapping_reads=reads,
        extra_columns=extra,
    )


def _describe(
    name: str, model: ModelConfig, query: exp.Query, dialect: Dialect, expanded: str = ""
) -> list[tuple[str, str]]:
    """The (column, type) pairs of the model's query, after holding the views it reads to
    the models' rule; ``expanded``: the setting that wrapped the query (its views are held
    already)."""
    try:
        if not expanded:
            check_views(query, dialect)
        return dialect.query_columns(query.sql(dialect=dialect.sqlglot_dialect))
    except NotReadOnly as found:
        where = "table" if model.table is not None else "sql"
        raise ModelError(
            f"models.{name}.{where} does not only read: it reads {found}. Fix: read the "
            "tables behind that view, or a view that only reads."
        ) from None
    except Exception as error:  # noqa: BLE001 - classified by the dialect
        wrapped = error if isinstance(error, WarehouseError) else dialect.wrap(error, "")
        if wrapped.kind is not ErrorKind.SQL:  # the warehouse failed, not the model's SQL
            raise WarehouseError(
                f"Reading model {name!r} from {dialect.describe()} failed: "
                f"{str(wrapped).lstrip(': ')}",
                wrapped.kind,
                error,
            ) from error
        raise ModelError(
            f"{expanded or f'models.{name}'} failed in the warehouse: "
            f"{str(wrapped).lstrip(': ').rstrip('.!')}. "
            "Fix the model's SQL (run it in your warehouse's console to see the full error)."
        ) from error


def mapping_reads(
    sync_name: str, sync: SyncConfig, names: ColumnNames
) -> list[list[tuple[str, str]]]:
    """Per mapping, the (name as written, model column) pairs it reads: its ``from`` column,
    the columns its template's ``row.*`` references name (every column when it reads ``row``
    by a computed name), nothing for a static or variable mapping. Only these are hashed,
    so nothing else makes a row ``changed``."""
    reads: list[list[tuple[str, str]]] = []
    for index, mapping in enumerate(sync.mappings):
        where = f"syncs.{sync_name}.mappings[{index}]"
        if mapping.from_ is not None:
            reads.append([(mapping.from_, names.resolve(f"{where}.from", mapping.from_))])
        elif mapping.array is not None:
            reads.append([(mapping.array, names.resolve(f"{where}.array", mapping.array))])
        elif mapping.template is not None:
            written = row_columns(mapping.template)
            if written is None:
                reads.append([(column, column) for column in names.columns])
            else:
                at = f"{where}.template: row.{{}}"
                reads.append([(n, names.resolve(at.format(n), n)) for n in written])
        else:
            reads.append([])
    return reads
