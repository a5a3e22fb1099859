"""A Spark session behind the connector's cursor interface.

:class:`dialects.databricks.DatabricksDialect` talks to a connection of
``databricks-sql-connector``: ``cursor()``, then ``execute(sql, parameters)`` with named
``:name`` parameters, ``fetchall``, ``fetchmany``, ``fetchmany_arrow`` and ``description``.
:class:`SparkConnection` offers the same over a Spark Connect session, so the ``spark``
source runs the Databricks dialect's own statement, parameter, cursor and Arrow-paging code on
a real Spark SQL engine (``type: spark``, and the tests' stand-in for a workspace).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any


def spark_value(value: Any) -> Any:
    """A parameter as Spark binds it: a naive timestamp is UTC (the engine's own are), as the
    connector's TIMESTAMP parameter is read in the session's zone, UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class SparkCursor:
    """One statement at a time, its result read as Arrow batches on demand."""

    def __init__(self, session: Any):
        self._session = session
        self._frame: Any = None
        self._batches: Iterator[Any] | None = None
        self._pending: Any = None  # the unread rest of the last Arrow table received

    def execute(self, operation: str, parameters: dict[str, Any] | None = None) -> SparkCursor:
        args = {name: spark_value(value) for name, value in (parameters or {}).items()}
        # A command (DDL, INSERT) runs here; a query runs when its rows are fetched.
        self._frame = self._session.sql(operation, args=args or None)
        self._batches = None
        self._pending = None
        return self

    @property
    def description(self) -> list[tuple[Any, ...]] | None:
        """(name, type, ...) of each result column, as DB-API describes them."""
        if self._frame is None:
            return None
        fields = self._frame.schema.fields
        return [(f.name, f.dataType.simpleString(), None, None, None, None, True) for f in fields]

    def _tables(self) -> Iterator[Any]:
        """The result's Arrow tables as the server streams them (Spark Connect's own
        ``toLocalIterator`` path)."""
        import pyarrow as pa

        client = self._session.client
        plan = self._frame._plan  # noqa: SLF001 - the streamed read toLocalIterator uses
        for part in client.to_table_as_iterator(plan.to_proto(client), plan.observations):
            if isinstance(part, pa.Table):
                yield part

    def fetchmany_arrow(self, size: int) -> Any:
        """Up to ``size`` rows as one Arrow table (empty at the end), as the connector's."""
        import pyarrow as pa

        if self._batches is None:
            self._batches = self._tables()
        parts = []
        wanted = size
        while wanted > 0:
            if self._pending is None or self._pending.num_rows == 0:
                self._pending = next(self._batches, None)
                if self._pending is None:
                    break
                continue
            take = self._pending.slice(0, wanted)
            self._pending = self._pending.slice(take.num_rows)
            parts.append(take)
            wanted -= take.num_rows
        if parts:
            return pa.concat_tables(parts)
        schema = self._frame.schema
        from pyspark.sql.pandas.types import to_arrow_schema

        # A TIMESTAMP column is an instant: Arrow needs its zone, the session's (UTC: see
        # SparkDialect.setup_statements).
        return to_arrow_schema(schema, timezone="UTC").empty_table()

    def fetchall_arrow(self) -> Any:
        return self._frame.toArrow()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return _rows(self._frame.toArrow())

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        return _rows(self.fetchmany_arrow(size))

    def close(self) -> None:
        self._frame = self._batches = self._pending = None


def _rows(table: Any) -> list[tuple[Any, ...]]:
    """An Arrow table's rows as tuples (by position: two columns may share a name)."""
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


class SparkConnection:
    """A Spark Connect session as the connector's connection (``cursor``, ``close``)."""

    def __init__(self, session: Any):
        self.session = session

    def cursor(self) -> SparkCursor:
        return SparkCursor(self.session)

    def close(self) -> None:
        self.session.stop()  # the client's session only: the server keeps running
