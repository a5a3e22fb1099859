"""``send: changed_fields``: a ``changed`` row carries only the mapped fields whose values
changed since the last committed run (for destinations that update with PATCH semantics).

How (measured in ``bench/changed_fields.py``): the plan keeps one narrow hash (the row
hash's 64-bit function) per *field group*, the model columns one mapping reads (mappings
reading the same columns share a group; a template's group is the columns its ``row.*``
references name; static and variable mappings read none and have none), plus one group of
the columns the destination itself reads (a match column, a path or header column,
audiences). The diff compares the groups of the changed keys only and gives each changed row
a text of flags, one per group (``'1'``: changed); Python then builds only the mappings of
the changed groups. Nothing of this exists in the SQL of a sync without the option.

Every field is sent (the flags are NULL) for an added row; a row retried after a failure, an
abort or a run that died (the destination may hold any value it was sent, so comparing with
the last plan could miss one); every row re-sent after a mapping change or a new hash
function; a baseline without field hashes (the first run with the option); and a row whose
destination-read columns changed (it may address another record).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlglot import exp

from dialects.base import Dialect
from engine.config import SyncConfig
from engine.model import BoundModel
from engine.sql import quoted_column

#: The placeholders of plan.sql, delta.sql and delta_stream.sql this module fills.
CHANGED_FIELDS_PLACEHOLDERS = (
    "field_hashes",
    "changed_fields",
    "kept_changed_fields",
    "delta_changed_fields",
    "stream_changed_fields",
)
DELTA_COLUMN = "_lightning_changed_fields"
HASH_COLUMN = "field_hash_{}"
_TEXT = exp.DataType.build("text")


class ChangedFields:
    """The field groups of one sync, and the SQL and Python that use them (see module doc)."""

    def __init__(self, model: BoundModel, sync: SyncConfig):
        self.model = model
        groups: list[tuple[str, ...]] = []
        self.mapping_group: list[int | None] = []
        for index, mapping in enumerate(sync.mappings):
            columns = tuple(sorted({column for _, column in model.reads_of(index, mapping)}))
            if not columns:
                self.mapping_group.append(None)
                continue
            if columns not in groups:
                groups.append(columns)
            self.mapping_group.append(groups.index(columns))
        self.address_group: int | None = None
        if model.extra_columns:
            groups.append(tuple(sorted(set(model.extra_columns))))
            self.address_group = len(groups) - 1
        self.groups = groups
        self.every_mapping = frozenset(range(len(sync.mappings)))

    @property
    def hash_columns(self) -> list[str]:
        """The plan's field hash columns, one per group."""
        return [HASH_COLUMN.format(i) for i in range(len(self.groups))]

    def plan_hashes(self, dialect: Dialect) -> list[exp.Expr]:
        """``MIN(<hash of a group's stage columns>) AS field_hash_<i>`` for plan.sql."""
        stored = self.model.stage_columns()
        types = self.model.column_types
        return [
            exp.alias_(
                exp.func(
                    "min",
                    dialect.row_hash(
                        [quoted_column(stored[c]) for c in group],
                        [types.get(c, "") for c in group],
                    ),
                ),
                name,
                quoted=True,
            )
            for name, group in zip(self.hash_columns, self.groups, strict=True)
        ]

    def stored_in(self, columns: Sequence[str]) -> bool:
        """Whether a plan table with these columns holds this sync's field hashes."""
        present = {column.lower() for column in columns}
        return all(name in present for name in self.hash_columns)

    def delta_exprs(self, comparable: bool) -> dict[str, list[exp.Expr]]:
        """delta.sql's placeholders. ``comparable``: the baseline holds field hashes and no
        row is re-sent whole; otherwise every row carries every field (flags NULL)."""
        flags: exp.Expr = exp.cast(exp.Null(), _TEXT)
        if comparable and self.groups:
            parts = [
                exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.EQ(
                                this=quoted_column(name, "c"), expression=quoted_column(name, "p")
                            ),
                            true=exp.Literal.string("0"),
                        )
                    ],
                    default=exp.Literal.string("1"),
                )
                for name in self.hash_columns
            ]
            joined = parts[0] if len(parts) == 1 else exp.Concat(expressions=parts, safe=True)
            both = exp.and_(
                exp.Not(this=exp.Is(this=quoted_column("row_id", "c"), expression=exp.Null())),
                exp.Not(this=exp.Is(this=quoted_column("row_id", "p"), expression=exp.Null())),
            )
            flags = exp.Case(ifs=[exp.If(this=both, true=joined)])
        not_retried = exp.Is(this=quoted_column("row_id", "t"), expression=exp.Null())
        kept = exp.Case(ifs=[exp.If(this=not_retried, true=quoted_column("changed_fields", "ch"))])
        return {
            "changed_fields": [exp.alias_(flags, "changed_fields", quoted=True)],
            "kept_changed_fields": [exp.alias_(kept, "changed_fields", quoted=True)],
            "delta_changed_fields": [
                exp.alias_(quoted_column("changed_fields", "a"), DELTA_COLUMN, quoted=True)
            ],
        }

    def included(self, flags: str | None) -> frozenset[int] | None:
        """The indexes of the mappings a changed row with these flags sends; None: all."""
        return _included(self, flags)


@lru_cache(maxsize=4096)
def _included(fields: ChangedFields, flags: str | None) -> frozenset[int] | None:
    if flags is None or len(flags) != len(fields.groups) or "1" not in flags:
        return None
    if fields.address_group is not None and flags[fields.address_group] == "1":
        return None
    return frozenset(
        index
        for index, group in enumerate(fields.mapping_group)
        if group is not None and flags[group] == "1"
    )


def no_changed_fields() -> dict[str, list[exp.Expr]]:
    """The placeholders of a sync sending every field: nothing (the plain SQL)."""
    return {name: [] for name in CHANGED_FIELDS_PLACEHOLDERS}


def changed_fields_for(model: BoundModel, sync: SyncConfig) -> ChangedFields | None:
    """The sync's field groups when it sends changed fields only, else None."""
    return ChangedFields(model, sync) if sync.send == "changed_fields" else None
