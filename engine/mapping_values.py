"""The value of each mapping for one row, built in Python: static values, run variables,
templates, inline arrays, casts, ``skip_nulls`` and nested targets (``address.city``).

Plain column mappings are usually built in the warehouse (see
:meth:`engine.planner.Planner.payload_json`); the rest are written here and spliced in. A
mapping that cannot produce its value (a template that raises, a value that does not cast)
fails the row with a reason naming the mapping, never the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from engine.config import Mapping, SyncConfig
from engine.inline_arrays import inline_array
from engine.templates import TemplateFailed, render
from engine.value_casts import cast, put

_SKIP = object()


class MappingFailed(Exception):
    """A mapping could not produce its value for a row (the message is the row's reason)."""


def describe(index: int, mapping: Mapping) -> str:
    """``mappings[2] (template to first)``: how a reason names a mapping."""
    return f"mappings[{index}] ({mapping.kind} to {mapping.to})"


class MappedRow:
    """Builds the mapped fields of rows for a list of (index, mapping) pairs.

    ``reads[i]`` are (name in the template or mapping, model column) pairs the i-th mapping
    reads; ``variables`` are the run's (``operation`` is set per row).
    """

    def __init__(
        self,
        mappings: Sequence[tuple[int, Mapping]],
        reads: Sequence[Sequence[tuple[str, str]]],
        variables: dict[str, Any],
    ):
        self.mappings = list(mappings)
        self.reads = [list(r) for r in reads]
        self.variables = dict(variables)

    def fields(
        self, values: dict[str, Any], operation: str, only: frozenset[int] | None = None
    ) -> dict[str, Any]:
        """The nested payload of one row (model column -> value in ``values``); with
        ``only``, of the mappings with those indexes only."""
        context = {**self.variables, "operation": operation}
        out: dict[str, Any] = {}
        for (index, mapping), reads in zip(self.mappings, self.reads, strict=True):
            if only is not None and index not in only:
                continue
            try:
                value = self._value(mapping, reads, values, context)
                if value is not _SKIP and mapping.cast is not None and value is not None:
                    value = cast(value, mapping.cast)
            except (TemplateFailed, ValueError) as error:
                raise MappingFailed(f"{describe(index, mapping)}: {error}") from None
            if value is not _SKIP:
                put(out, mapping.to.split("."), value)
        return out

    @staticmethod
    def _value(
        mapping: Mapping,
        reads: list[tuple[str, str]],
        values: dict[str, Any],
        context: dict[str, Any],
    ) -> Any:
        kind = mapping.kind
        if kind == "static":
            return mapping.static
        if kind == "variable":
            return context[mapping.variable]  # type: ignore[index]
        if kind in ("column", "array"):
            value = values[reads[0][1]]
            if value is None:
                return _SKIP if mapping.skip_nulls else None
            if kind == "array":
                where = f"column {mapping.array!r}"
                return inline_array(value, mapping.fields or [], context, where)
            return value
        row = {written: values[column] for written, column in reads}
        return render(mapping.template, row, context)  # type: ignore[arg-type]


def run_variables(
    sync: SyncConfig, sync_name: str, run_id: int, now: dt.datetime
) -> dict[str, Any]:
    """The run's variables (``context`` in templates) but ``operation``, set per row."""
    return {
        "model_id": sync.model,
        "model_name": sync.model,
        "sync_id": sync_name,
        "sync_run_id": str(run_id),
        "current_timestamp": now.isoformat() + "Z",
    }


def skips_first_run(sync: SyncConfig, commits: Sequence[Any], full_resync: bool) -> bool:
    """``first_run: skip`` on a sync never committed: its first run records the current
    rows as the baseline (as ``--reset-cdc`` does) and sends none of them."""
    return sync.first_run == "skip" and not commits and not full_resync
