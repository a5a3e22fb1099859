"""A sync's ``array_expansion``: the model read as one row per element of an array column.

``array_expansion: {column: emails}`` wraps the model's query (sql_templates/array_expansion.sql)
before anything else reads it, so the stage, the plan and the delta all see one row per
element, with the element in the generated column ``_ht_emails_element`` (Hightouch's name for
it). That column is a model column like the others: a mapping, a destination's match field
or the primary key may name it. Each warehouse supplies its own way to read the array (its
``Dialect.array_forms``): a native array, a JSON array, or text holding a JSON array.

The sync's key is the model's primary key plus the element (unless the primary key already
names the element column: then it is the key as written), so a row's ``row_id`` is
``<key>|<element>`` and the same from run to run; an element found twice in one array is a
duplicated key, rejected as one, and a NULL element a NULL key.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from dialects.base import Dialect
from engine.column_names import ColumnNameError, ColumnNames
from engine.config import SyncConfig
from engine.sql import SqlRenderer, quoted_column, user_column, verbatim

README_SECTION = 'the README\'s "Array expansion"'


class ArrayExpansionError(Exception):
    """The sync's ``array_expansion`` does not fit its model; the message names the fix."""


def element_column(column: str) -> str:
    """The generated column holding the elements of ``column``."""
    return f"_ht_{column}_element"


def key_columns(sync: SyncConfig, keys: Sequence[str]) -> list[str]:
    """The sync's key: the model's primary key, plus the element column when the sync expands
    an array and the primary key does not name that column already."""
    if sync.array_expansion is None:
        return list(keys)
    generated = element_column(sync.array_expansion.column)
    if any(key.casefold() == generated.casefold() for key in keys):
        return list(keys)
    return [*keys, generated]


def expanded_query(
    model_name: str,
    sync_name: str,
    sync: SyncConfig,
    query: exp.Query,
    described: Sequence[tuple[str, str]],
    dialect: Dialect,
) -> exp.Query:
    """The model's query read one row per element of the sync's array column.

    ``described`` is the model's (column, type) pairs as the warehouse reports them.
    """
    assert sync.array_expansion is not None
    written = sync.array_expansion.column
    where = f"syncs.{sync_name}.array_expansion.column"
    names = ColumnNames(model_name, [column for column, _ in described])
    try:
        names.resolve(where, written)
    except ColumnNameError as error:
        raise ArrayExpansionError(f"{error} Fix: name the model's array column.") from None
    column = names.warehouse_names.get(written, written)
    kind = dict(described)[column]
    generated = element_column(written)
    clashes = [name for name, _ in described if name.casefold() == generated.casefold()]
    if clashes:
        raise ArrayExpansionError(
            f"{where}: model {model_name!r} already has a column {clashes[0]!r}, the name of "
            f"the column that would hold the elements of {written!r}. Fix: rename that column "
            "in the model's SQL (the name _ht_<column>_element is the engine's)."
        )
    forms = dialect.array_forms
    elements = None
    if forms is not None:  # the unnested rows are ``expanded`` in array_expansion.sql
        unnested = quoted_column(forms.element_column, "expanded")
        elements = dialect.array_elements(user_column(column, "model_row"), kind, unnested)
    if elements is None:
        raise ArrayExpansionError(
            f"{where}: column {written!r} of model {model_name!r} is {kind}, which holds no "
            "array. Fix: expand a column holding an array: a native array, JSON holding an "
            f"array, or text holding a JSON array (see {README_SECTION})."
        )
    alias = verbatim(exp.to_identifier(generated, quoted=True))
    renderer = SqlRenderer(dialect)
    sql = renderer.one(
        "array_expansion",
        {"model": query},
        {"elements": elements.array, "element": exp.alias_(elements.element, alias)},
    )
    return renderer.parsed(sql)  # type: ignore[return-value]
