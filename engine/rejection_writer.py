"""Writing the rows that did not succeed into a run's rejections table, so that one row can
never keep a sync from committing.

Reasons arrive already storable (:mod:`engine.storable`); if the warehouse still refuses a
page of rows, they are written one at a time, and a row refused again is written with a
plain reason in place of its own. Only when even that fails (the row's key itself cannot be
stored) does the run stop, with an error naming the row and the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from dialects.errors import ErrorKind
from engine.sql import fold_case
from engine.storable import storable_text

REJECTION_COLUMNS = ("row_id", "op_type", "status", "failure_reason", "match_value")
#: Warehouse errors that say nothing about the rows written (retrying row by row is no use).
_NOT_ABOUT_ROWS = frozenset(
    {ErrorKind.CONNECTION, ErrorKind.TRANSIENT, ErrorKind.PERMISSION, ErrorKind.IN_USE}
)


class OutcomeWriteError(Exception):
    """A row's outcome could not be written to the warehouse."""


class RejectionWriter:
    """Appends (row_id, op_type, status, failure_reason, match_value) rows to a table."""

    def __init__(self, dialect: Dialect, table: exp.Table, destination: str):
        self.dialect = dialect
        self.table = table
        self.destination = destination  # e.g. "http destination 'api'", for errors
        # The engine's own column names, as the warehouse folds them.
        self.columns = [fold_case(name, dialect) for name in REJECTION_COLUMNS]

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write the rows; see the module doc for what happens when the warehouse refuses."""
        if not rows:
            return
        with self.dialect.loading():
            self._write(rows)

    def _write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        try:
            self.dialect.bulk_insert(self.table, self.columns, rows)
        except Exception as error:  # noqa: BLE001 - classified below
            if self.dialect.classify_error(error) in _NOT_ABOUT_ROWS:
                raise
            for row in rows:
                self._write_one(row)

    def _write_one(self, row: tuple[Any, ...]) -> None:
        try:
            self.dialect.bulk_insert(self.table, self.columns, [row])
            return
        except Exception as error:  # noqa: BLE001 - retried with a plain reason
            first = error
        row_id, op_type, status, _, match_value = row
        plain = (
            row_id,
            op_type,
            status,
            f"{status}: the destination's answer for this row could not be stored in the "
            f"warehouse ({type(first).__name__})",
            None if match_value is None else storable_text(str(match_value), 1000),
        )
        try:
            self.dialect.bulk_insert(self.table, self.columns, [plain])
        except Exception as error:
            shown = storable_text(repr(row_id), 200)
            detail = storable_text(str(error).strip().split("\n")[0], 500)
            raise OutcomeWriteError(
                f"Cannot record the outcome ({status}) of row {shown} ({op_type}) sent to the "
                f"{self.destination} in {self.table.sql()}: {detail}. The run was not "
                "committed; its sends are retried next run. Fix: check the model's key "
                "values for this row, then run again."
            ) from error
