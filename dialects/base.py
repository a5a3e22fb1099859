"""The one interface every warehouse implements.

The engine talks to a warehouse only through :class:`Dialect`: it never tests a warehouse's
name. What differs between warehouses is declared as data (:class:`Capabilities`) or behind a
small method (a row hash, the key as text, a streamed read, a bulk load). The SQL itself comes
from ``sql_templates/`` and is rendered for the dialect by :mod:`engine.sql`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import sqlglot
from sqlglot import exp

from dialects.capabilities import Capabilities
from dialects.errors import ErrorKind, WarehouseError
from dialects.run_catalog import columns_by_table, with_values

if TYPE_CHECKING:
    from dialects.array_forms import ArrayElements, ArrayForms

# Catalog queries every warehouse answers the same way, in DuckDB's SQL like the templates
# (rendered for each dialect, placeholders in its driver's style).
_SCHEMAS = "SELECT schema_name FROM information_schema.schemata"
_TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"
_SCHEMA_TABLES = (
    "SELECT table_schema, table_name FROM information_schema.tables "
    "WHERE table_schema IN (:schema0, :schema1)"
)
_COLUMNS = (
    "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = :schema AND table_name = :name ORDER BY ordinal_position"
)
_SCHEMA_COLUMNS = (
    "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale, "
    "ordinal_position FROM information_schema.columns "
    "WHERE table_schema = :schema AND LOWER(table_name) LIKE :pattern"
)
# Source settings every warehouse takes (read by the engine, not the dialect).
COMMON_SETTINGS = frozenset({"stage_model"})


class JsonText(str):
    """A value a warehouse holds as JSON, handed over as its text (``Dialect.stream``):
    sent as the JSON value it holds, not as a string."""

    __slots__ = ()


class Dialect(ABC):
    """A connection to one warehouse, plus the few SQL fragments that differ per warehouse.

    Subclasses set ``name`` (the ``type`` in the project file), ``sqlglot_dialect`` (what
    sqlglot renders for) and ``capabilities``, and implement the abstract methods. A driver is
    imported inside :meth:`connect`, never at module import time.
    """

    name: ClassVar[str]
    sqlglot_dialect: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # The settings a source of this type may have (besides ``type`` and COMMON_SETTINGS);
    # any other key is refused as a typo.
    setting_names: ClassVar[frozenset[str]] = frozenset()
    # Functions a model may not call (see engine/read_only.py): a name or an fnmatch pattern
    # (lower case) -> what the function does, as the error names it.
    side_effect_functions: ClassVar[dict[str, str]] = {}
    # Pseudo-columns a model may not read (see engine/read_only.py): ``<name>.<column>`` where
    # ``<name>`` is no relation of the query (lower case) -> what reading it does.
    side_effect_columns: ClassVar[dict[str, str]] = {}
    # Settings every session of the engine pins (name -> value), so that nothing of the
    # machine it runs on (TZ, PGTZ, PGDATESTYLE, PGOPTIONS, the locale) changes how a key, a
    # hash or a payload renders; see :meth:`setup_statements`.
    session_settings: ClassVar[dict[str, str]] = {}

    # The row hash's version: ``hash_probe`` (a query hashing a fixed row) answered by the
    # warehouse, after ``hash_name``; see :meth:`hash_version`.
    hash_name: ClassVar[str]
    hash_probe: ClassVar[str]
    # Names the engine (and the sync, once known) to the warehouse where it can tag queries.
    label: str = "lightning-sync"
    # Statements sent since connect() (each one costs a round trip and warehouse time; see
    # :meth:`count_statement`); None before connect().
    statements_issued: int | None = None
    # Statements that loaded rows' outcomes (:meth:`loading`), counted apart.
    load_statements: int = 0
    _loading: bool = False

    def __init__(self, settings: dict[str, Any], project_dir: Path):
        self.settings = settings
        self.project_dir = project_dir
        self._con: Any = None  # the driver's connection, set by connect()
        self._hash_version: str | None = None

    # How an array column is read one row per element; None: array expansion is unsupported.
    array_forms: ClassVar[ArrayForms | None] = None

    # -- connection -------------------------------------------------------------------------
    @abstractmethod
    def connect(self, read_only: bool = False) -> None:
        """Open the connection (raises :class:`WarehouseError` of kind CONNECTION/IN_USE).

        With ``read_only`` the warehouse itself refuses every write on this connection (for
        ``lightning-sync sql``); the engine's own runs never ask for it.
        """

    def close(self) -> None:
        """Close the connection this dialect opened."""
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> Any:
        """The open driver connection."""
        if self._con is None:
            raise RuntimeError(f"{self.name} dialect used before connect()")
        return self._con

    @abstractmethod
    def describe(self) -> str:
        """A short human description of the target (file path, host/database) for messages."""

    # -- statements -------------------------------------------------------------------------
    def count_statement(self) -> None:
        """One more request to the warehouse (a statement, several in one request, or a catalog
        request): in ``statements_issued``, or in ``load_statements`` inside :meth:`loading`.
        Every dialect counts what its statement and catalog methods send, transaction control
        included; not the session settings of a new connection, nor the pages of a streamed
        read."""
        if self._loading:
            self.load_statements += 1
        else:
            self.statements_issued = (self.statements_issued or 0) + 1

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Statements sent inside are loads of rows' outcomes (counted apart: their number
        grows with the failures, the run's own statements do not)."""
        self._loading = True
        try:
            yield
        finally:
            self._loading = False

    @abstractmethod
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run one statement that returns nothing."""

    @abstractmethod
    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one query and return all its rows (only for small results)."""

    def query(self, sql: str, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one query as written (no parameters); its column names and first rows."""
        cursor = self.con.execute(sql)
        names = [str(column[0]) for column in cursor.description or []]
        return names, list(cursor.fetchmany(max_rows))

    @abstractmethod
    def stream(
        self, sql: str, params: dict[str, Any] | None, batch_rows: int
    ) -> Iterator[dict[str, list[Any]]]:
        """Yield a query's rows in batches of at most ``batch_rows`` rows, each batch as
        columns (column name -> its values, every list as long as the batch).

        The read must not block or be invalidated by statements run through :meth:`execute`
        while it is open (the runner writes rejections while it streams the delta), and it
        must hold at most one batch in Python memory.
        """

    @abstractmethod
    def bulk_insert(
        self, table: exp.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append rows to a table with the warehouse's fastest safe path (no values in SQL)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A transaction where the warehouse has one; otherwise a context that does nothing."""

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The block's statements (writes whose results nothing reads, e.g. the drops of
        finished tables) in one request where the warehouse can send several (a BigQuery
        script), else one by one. Not atomic: if the request fails, any of them may have run.
        """
        yield

    def list_tables(self, schema: str) -> list[str]:
        """Names of the tables in a schema (empty if the schema does not exist)."""
        rows = self.fetchall(self._catalog_sql(_TABLES), {"schema": schema})
        return [str(row[0]) for row in rows]

    def schema_tables(self, schemas: Sequence[str]) -> dict[str, list[str]]:
        """Names of the tables of each schema (none for a missing one), in one catalog read
        where the warehouse has one for several schemas."""
        return self._tables_by_schema(self._catalog_sql(_SCHEMA_TABLES), schemas)

    def _tables_by_schema(self, sql: str, schemas: Sequence[str]) -> dict[str, list[str]]:
        """``sql`` (rows of schema and table name, for ``:schema0``, ``:schema1``) by schema;
        more than two schemas are read by list_tables, one at a time."""
        if len(schemas) != 2:
            return {schema: self.list_tables(schema) for schema in schemas}
        found: dict[str, list[str]] = {schema: [] for schema in schemas}
        named = {schema.lower(): schema for schema in schemas}
        rows = self.fetchall(sql, {"schema0": schemas[0], "schema1": schemas[1]})
        for schema, name in rows:
            found[named.get(str(schema).lower(), str(schema))].append(str(name))
        return found

    def list_schemas(self) -> list[str]:
        """Names of the schemas of the current database."""
        return [str(row[0]) for row in self.fetchall(self._catalog_sql(_SCHEMAS))]

    def table_columns(self, table: exp.Table) -> list[tuple[str, str]]:
        """(name, type) of each column of a table, in order."""
        rows = self.fetchall(self._catalog_sql(_COLUMNS), {"schema": table.db, "name": table.name})
        return [(str(row[0]), str(row[1])) for row in rows]

    def schema_columns(self, schema: str, pattern: str) -> dict[str, list[tuple[str, str]]] | None:
        """(name, type) of each column, in order, of the tables of a schema whose lower-case
        name is LIKE ``pattern``, by table name, in one catalog read; None where the warehouse
        has no such read (then :meth:`list_tables` and :meth:`table_columns`)."""
        query = self.schema_columns_query(schema, pattern)
        if query is None:
            return None
        return self.columns_by_table(self.fetchall(query.sql(dialect=self.sqlglot_dialect)))

    def schema_columns_query(self, schema: str, pattern: str) -> exp.Query | None:
        """The catalog query :meth:`schema_columns` reads, rows of
        :data:`dialects.run_catalog.CATALOG_COLUMNS`, in any order (the lock read takes it
        along); None where there is none, or where naming the catalog in a query is billed."""
        return with_values(_SCHEMA_COLUMNS, "duckdb", schema=schema, pattern=pattern)

    def columns_by_table(self, rows: Sequence[Sequence[Any]]) -> dict[str, list[tuple[str, str]]]:
        """The rows of :meth:`schema_columns_query` as (name, type) of each table's columns."""
        return columns_by_table(rows, self.catalog_column)

    def catalog_column(self, name: Any, kind: Any, precision: Any, scale: Any) -> tuple[str, str]:
        """A column's (name, type) from a row of :meth:`schema_columns_query`."""
        return str(name), str(kind)

    def _catalog_sql(self, sql: str) -> str:
        return _rendered(sql, self.sqlglot_dialect)

    @abstractmethod
    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        """(name, type) of each column a query returns, without running it in full."""

    @abstractmethod
    def classify_error(self, error: BaseException) -> ErrorKind:
        """Map a driver exception to an :class:`ErrorKind`."""

    # -- SQL fragments that differ per warehouse --------------------------------------------
    @abstractmethod
    def row_hash(self, values: Sequence[exp.Expr], types: Sequence[str]) -> exp.Expr:
        """An expression hashing the given values (of the given column types, as
        :meth:`query_columns` names them); equal values give equal hashes."""

    def cost(self) -> dict[str, int] | None:
        """What the statements since connect() cost, where the warehouse reports it (e.g.
        jobs and bytes processed and billed); None where it does not."""
        return None

    def estimate_bytes(self, sql: str) -> int | None:
        """The bytes a query would scan, estimated without running it; None where the
        warehouse cannot say."""
        return None

    def hash_version(self) -> str:
        """A tag naming the hash definition; a change makes stored hashes incomparable. Read
        once per connection: from the run's lock read (:meth:`note_hash_probe`), else with a
        statement of its own."""
        if self._hash_version is None:
            self.note_hash_probe(self.fetchall(self.hash_probe)[0][0])
        assert self._hash_version is not None
        return self._hash_version

    def hash_probe_value(self) -> exp.Expr:
        """The probe's value (what :attr:`hash_probe` selects), for another statement to read
        it along (the run's lock read does): no statement of its own."""
        select = sqlglot.parse_one(self.hash_probe, read=self.sqlglot_dialect)
        return select.expressions[0].copy()

    def note_hash_probe(self, value: Any) -> None:
        """The probe's value as a statement read it (see :meth:`hash_probe_value`)."""
        self._hash_version = f"{self.hash_name}:{value}"

    def key_text(self, value: exp.Expr) -> exp.Expr:
        """The key as text, as ``row_id`` shows it."""
        return exp.cast(value, exp.DataType.build("text"))

    def json_value(self, value: exp.Expr, type_name: str) -> exp.Expr | None:
        """``value`` (of column type ``type_name``) as a value of a JSON object the warehouse
        builds for a delivery payload, written as the engine's Python encoder would write it
        (ISO 8601 timestamps, NaN and infinities as null). None where the dialect does not
        handle the type: that value is then written by Python (same result, more CPU) and
        spliced into the object. The formats are the README's "Value formats"."""
        return None

    def json_text(self, value: exp.Expr) -> exp.Expr:
        """The JSON text of one payload value (a :meth:`json_value` form): NULL (or ``null``)
        for NULL, and no unescaped control character in it, as JSON requires. The delta
        stream sends the mapped values' texts joined, the field names written once by Python
        (engine/joined_payload.py)."""
        return exp.cast(exp.func("TO_JSON", value), exp.DataType.build("text"))

    def array_elements(
        self, value: exp.Expr, type_name: str, element: exp.Expr
    ) -> ArrayElements | None:
        """An array column (``value``, of column type ``type_name``) as :attr:`array_forms`
        expands it, ``element`` being the unnested value; None where the type holds no array
        (nor JSON, nor text), or the warehouse has no array expansion."""
        forms = self.array_forms
        if forms is None:
            return None
        return forms.elements(value, type_name, element, self.sqlglot_dialect)

    def view_definition(self, table: exp.Table) -> str | None:
        """The query a view is defined as (None: not a view, or the warehouse won't say), so
        that a model's views are held to the model's rule (engine/read_only.py)."""
        return None

    def log_json_value(self, value: exp.Expr, type_name: str) -> exp.Expr:
        """``value`` as a value of the sync logs' ``fields`` JSON: as in a payload where
        :meth:`json_value` has a form for it, else as the warehouse writes it (never a NaN
        or Infinity token)."""
        return self.json_value(value, type_name) or value

    def exclusive_lock(self, table: exp.Table) -> str | None:
        """A statement that, run first in a transaction, keeps every other writer of ``table``
        waiting until that transaction ends; None where transactions on the table already
        exclude each other (or the warehouse has a single writer)."""
        return None

    def statistics_statement(self, table: exp.Table) -> str | None:
        """A statement that gives the warehouse's query planner the statistics of a table the
        engine just filled and joins next (the plan); None where the warehouse keeps them as
        it writes."""
        return None

    def is_driver_error(self, error: BaseException) -> bool:
        """Whether an exception came from the warehouse (its driver), not from the engine."""
        return self.classify_error(error) is not ErrorKind.TERMINAL

    def is_integer_type(self, type_name: str) -> bool:
        """Whether a column type is an integer (an integer key is stored as is, not as text)."""
        return False

    def setup_statements(self) -> list[str]:
        """Statements run on every connection the engine opens: ``session_settings``."""
        return [
            f"SET {name} = '{value.replace(chr(39), chr(39) * 2)}'"
            for name, value in self.session_settings.items()
        ]

    def grant_statements(self, user: str, schemas: Sequence[str]) -> list[str]:
        """The GRANT statements a user needs on the engine's schemas (printed by ``init``)."""
        return [f"GRANT ALL ON SCHEMA {schema} TO {user};" for schema in schemas]

    def current_user(self) -> str:
        """The user the connection runs as (for GRANT hints)."""
        return "<your_user>"

    # -- helpers shared by every dialect ----------------------------------------------------
    def wrap(self, error: BaseException, context: str) -> WarehouseError:
        """Wrap a driver error with its kind and a message that says what was being done."""
        kind = self.classify_error(error)
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return WarehouseError(f"{context}: {first_line}", kind, error)


def substituted(template: str, value: exp.Expr, read: str) -> exp.Expr:
    """A SQL expression template (in sqlglot dialect ``read``) with each ``__v__`` replaced
    by ``value``."""
    parsed = _parsed_template(template, read)
    return parsed.transform(
        lambda node: value.copy() if isinstance(node, exp.Column) and node.name == "__v__" else node
    )


@cache
def _parsed_template(template: str, read: str) -> exp.Expr:
    return sqlglot.parse_one(template, read=read)


@cache
def _rendered(sql: str, sqlglot_dialect: str) -> str:
    """A catalog query (DuckDB SQL) in another dialect."""
    return sqlglot.transpile(sql, read="duckdb", write=sqlglot_dialect)[0]
