"""Match the column names a project file uses to the names the warehouse reports.

A name matches its column exactly, or else the one column whose name differs from it only
in case. Warehouses fold unquoted names (Snowflake to upper case, PostgreSQL to lower
case), so ``select id, email from users`` returns ``ID``, ``EMAIL`` on Snowflake, and a sync
written as ``from: email`` must still find it. Where two columns differ only in case
(``"Email"`` and ``"EMAIL"``), only the exact spelling matches.

A column matched this way is known inside the engine by the project file's spelling (the
payloads, the match value, the sync logs' ``fields``); the SQL reads it by its warehouse name.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence


class ColumnNameError(Exception):
    """A name in the project file matches no column, or more than one; names the fix."""


class ColumnNames:
    """The model's columns, and the project file's spellings of those it uses."""

    def __init__(self, model_name: str, warehouse_columns: Sequence[str]):
        self.model_name = model_name
        self.warehouse_columns = list(warehouse_columns)
        self._spelling: dict[str, str] = {}  # warehouse name -> the project file's spelling

    def resolve(self, where: str, name: str) -> str:
        """The name the engine knows the column by (``name`` itself), once it is matched."""
        if name in self.warehouse_columns:
            return name
        folded = name.casefold()
        found = [c for c in self.warehouse_columns if c.casefold() == folded]
        if not found:
            raise self._unknown(where, name)
        if len(found) > 1:
            raise ColumnNameError(
                f"{where}: {name!r} matches the columns {', '.join(map(repr, found))} of model "
                f"{self.model_name!r}, which differ only in case. Fix: write the column's name "
                "exactly as the warehouse reports it."
            )
        column = found[0]
        earlier = self._spelling.setdefault(column, name)
        if earlier != name:
            raise ColumnNameError(
                f"{where}: {name!r} names column {column!r} of model {self.model_name!r}, which "
                f"is also written {earlier!r} elsewhere in the sync. Fix: spell it one way."
            )
        return name

    @property
    def columns(self) -> list[str]:
        """The model's columns, each by the name the engine knows it by."""
        return [self._spelling.get(c, c) for c in self.warehouse_columns]

    @property
    def warehouse_names(self) -> dict[str, str]:
        """The project file's spelling -> the warehouse's name, for columns spelled apart."""
        return {spelled: column for column, spelled in self._spelling.items()}

    def _unknown(self, where: str, name: str) -> ColumnNameError:
        columns = self.warehouse_columns
        by_case = {c.casefold(): c for c in columns}
        close = difflib.get_close_matches(name.casefold(), list(by_case), n=1)
        hint = f" Did you mean {by_case[close[0]]!r}?" if close else ""
        return ColumnNameError(
            f"{where}: {name!r} is not a column of model {self.model_name!r}.{hint} "
            f"(columns: {', '.join(columns)})"
        )
