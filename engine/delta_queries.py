"""The SQL that reads a run's delta out of the warehouse, as expressions: the query streaming
the rows to send (with the mapped values the warehouse writes as JSON), and the JSON of a
model row the sync logs and ``plan``'s sample show. Which mappings the warehouse leaves to
Python is decided here too (:func:`mappings_left_to_python`).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from engine.changed_fields import DELTA_COLUMN, changed_fields_for
from engine.config import Mapping, SyncConfig
from engine.joined_payload import joined_values_sql
from engine.model import BoundModel
from engine.sql import SqlRenderer, quoted_column


class DeltaQueries:
    """Builds the expressions reading one sync's delta (the run's tables are passed in)."""

    def __init__(
        self, dialect: Dialect, renderer: SqlRenderer, model: BoundModel, sync: SyncConfig
    ):
        self.dialect = dialect
        self.sql = renderer
        self.model = model
        self.sync = sync
        self.changed_fields = changed_fields_for(model, sync)

    def fields_json(self, alias: str, removed_aware: bool) -> exp.Expr:
        """JSON of the raw model row (the sync logs' ``fields``)."""
        types = self.model.column_types
        pairs = [
            exp.JSONKeyValue(
                this=exp.Literal.string(c),
                expression=self.dialect.log_json_value(
                    quoted_column(stored, alias), types.get(c, "")
                ),
            )
            for c, stored in self.model.stage_columns().items()
        ]
        as_json: exp.Expr = exp.JSONObject(expressions=pairs)
        if not removed_aware:
            return as_json
        key_name = self.model.key_columns[0] if len(self.model.key_columns) == 1 else "row_id"
        removed = exp.JSONObject(
            expressions=[
                exp.JSONKeyValue(
                    this=exp.Literal.string(key_name),
                    expression=quoted_column("_lightning_row_id", alias),
                )
            ]
        )
        is_removed = exp.EQ(
            this=quoted_column("_lightning_op", alias), expression=exp.Literal.string("removed")
        )
        return exp.Case(ifs=[exp.If(this=is_removed, true=removed)], default=as_json)

    def payload_json(self, alias: str) -> exp.Expr | None:
        """The mapped fields the warehouse writes as JSON, as their values' JSON texts joined
        in mapping order (engine/joined_payload.py: Python writes the names); None where it
        writes none of them. The others (:func:`mappings_left_to_python`) are streamed as
        columns and spliced into the object by Python."""
        stored = self.model.stage_columns()
        left = mappings_left_to_python(self.dialect, self.model, self.sync)
        if self.sync.mappings and len(left) == len(self.sync.mappings):
            return None
        values: list[exp.Expr] = []
        for mapping in self.sync.mappings:
            if mapping in left:
                continue
            source = str(mapping.from_)
            column = quoted_column(stored[source], alias)
            value = self.dialect.json_value(column, self.model.column_types.get(source, ""))
            assert value is not None  # not left to Python: the dialect has a form for it
            values.append(value)
        return joined_values_sql(self.dialect, values)

    def stream_sql(
        self,
        tables: dict[str, exp.Expr],
        payload_json: bool = False,
        read_columns: list[str] | None = None,
    ) -> str:
        """The query streaming the delta's rows to send, in a stable order.

        With ``payload_json`` the rows carry ``_lightning_payload``, the mapped fields the
        warehouse writes (their values joined, see :meth:`payload_json`), and besides
        ``read_columns`` of the model (the ones the destination reads besides the mappings)
        only the mapped columns it leaves to Python; otherwise (and without it) the payload is
        NULL and every sent column is streamed.
        """
        stored = self.model.stage_columns()
        payload = self.payload_json("d") if payload_json else None
        columns = self.model.sent_columns
        changed: list[exp.Expr] = []
        if self.changed_fields is not None:
            # A row sending some fields only gets them from Python (no payload), so every
            # sent column is streamed.
            changed = [quoted_column(DELTA_COLUMN, "d")]
            if payload is not None:
                unchanged = exp.Is(this=quoted_column(DELTA_COLUMN, "d"), expression=exp.Null())
                payload = exp.Case(ifs=[exp.If(this=unchanged, true=payload)])
        elif payload is not None:
            left = mappings_left_to_python(self.dialect, self.model, self.sync)
            read = [
                column
                for index, mapping in enumerate(self.sync.mappings)
                if mapping in left
                for _, column in self.model.reads_of(index, mapping)
            ]
            columns = list(dict.fromkeys([*(read_columns or []), *read]))
        exprs: dict[str, Any] = {
            "model_columns": [stored[column] for column in columns],
            "payload": payload if payload is not None else exp.Null(),
            "stream_changed_fields": changed,
        }
        return self.sql.one("delta_stream", tables, exprs)


def mappings_left_to_python(dialect: Dialect, model: BoundModel, sync: SyncConfig) -> list[Mapping]:
    """The mappings Python writes: all but plain column mappings (static values, variables,
    templates, casts, ``skip_nulls``, nested targets), and those whose column type the
    warehouse does not write as JSON itself (``Dialect.json_value`` is None)."""
    probe = exp.column("v", quoted=True)
    return [
        mapping
        for mapping in sync.mappings
        if not mapping.plain_column
        or dialect.json_value(probe, model.column_types.get(str(mapping.from_), "")) is None
    ]
