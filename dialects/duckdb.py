"""DuckDB: the embedded default warehouse (a local file, no server).

DuckDB runs inside the Python process, so its memory counts as ours: ``memory_limit`` (a
source setting, default ``1GB``) caps it, and DuckDB spills to ``temp_directory`` beyond it.
Only one process can open a DuckDB file for writing; a second one is told who holds it.

Every connection (the stream's cursor too) pins the settings a row's text depends on (UTC,
the Gregorian calendar) and then turns off access to files, URLs and extensions: a model
reads the warehouse's tables only, and nothing it names can reach outside the database file.

The statements of a transaction or batch are run as one string (dialects/batched.py), their
``$name`` parameters written in as literals (``_literal_bound``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from dialects import array_forms as arrays
from dialects.base import Dialect, JsonText, substituted
from dialects.batched import BatchedRequests
from dialects.capabilities import Capabilities
from dialects.duckdb_json import INTEGER_TYPES, json_sql
from dialects.errors import ErrorKind, WarehouseError

DEFAULT_MEMORY_LIMIT = "1GB"

# A fixed tuple covering the types models use; its hash names the hash function's version,
# so a DuckDB upgrade that changes hash() is detected instead of turning into phantom changes.
_HASH_PROBE = (
    "SELECT hash(42, 'lightning', 1.5::DOUBLE, TRUE, NULL, "
    "TIMESTAMP '2024-01-02 03:04:05.123456', DATE '2024-01-02', 12.34::DECIMAL(10,2))"
)


# Functions a model may not call (engine/read_only.py): they change the database or the
# session, run SQL given as text, or read outside the warehouse (files, URLs, other
# databases); also blocked by ``enable_external_access = false``, whatever a model names.
_SIDE_EFFECT_FUNCTIONS = {
    "nextval": "advances a sequence",
    "setval": "sets a sequence",
    "setseed": "changes the session's random seed",
    "write_log": "writes to DuckDB's log",
    "checkpoint": "writes the database file",
    "force_checkpoint": "writes the database file",
    "enable_*": "changes the session's logging or profiling",
    "disable_*": "changes the session's logging or profiling",
    "truncate_duckdb_logs": "deletes DuckDB's logs",
    "*external_resource*": "changes the database's external resources",
    "*grammar_extension": "changes the SQL parser",
    "query": "runs SQL given as text",
    "json_execute_serialized_sql": "runs SQL given as text",
    "read_*": "reads files or URLs outside the warehouse",
    "parquet_*": "reads files outside the warehouse",
    "sniff_csv": "reads files outside the warehouse",
    "glob": "lists files outside the warehouse",
    "*_scan": "reads outside the warehouse",
    "iceberg_*": "reads outside the warehouse",
    "st_read*": "reads files outside the warehouse",
    "sqlite_*": "reaches another database",
    "postgres_*": "reaches another database",
    "mysql_*": "reaches another database",
    "python_map_function": "runs Python code",
    "getenv": "reads the engine's environment",
}
# Types Arrow hands over differently from DuckDB's own Python values: an interval as
# (months, days, nanoseconds), a time with a zone without it, a map as a list of pairs,
# nanoseconds as an error.
_ARROW_ALTERED = frozenset(
    {"interval", "time with time zone", "map", "timestamp_ns", "union", "bit", "bignum"}
    | {"varint"}
)
_NESTED = frozenset({"list", "array", "struct", "map", "union"})
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _bound(sql: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parameters a statement uses (DuckDB refuses unused named parameters)."""
    if not params:
        return None
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names} or None


# Values written in as literals by _literal_bound (others are bound by the driver).
_LITERAL_TYPES = (str, int, float, bool, dt.datetime, dt.date, decimal.Decimal)


def _literal_bound(sql: str, params: dict[str, Any] | None) -> str | None:
    """The statement with each ``$name`` parameter written in as its value's literal (None:
    a value of another type). sqlglot's tokenizer finds the parameters, so text in strings,
    quoted names and comments is left alone, and the rest of the statement is unchanged."""
    if not params:
        return sql
    used = _bound(sql, params) or {}
    if not all(v is None or isinstance(v, _LITERAL_TYPES) for v in used.values()):
        return None
    tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
    parts, last = [], 0
    for dollar, name in zip(tokens, tokens[1:], strict=False):
        if (
            dollar.token_type is TokenType.PARAMETER
            and name.start == dollar.end + 1
            and name.text in used
        ):
            parts += [sql[last : dollar.start], exp.convert(used[name.text]).sql("duckdb")]
            last = name.end + 1
    return "".join([*parts, sql[last:]])


class DuckDBDialect(BatchedRequests, Dialect):
    """The DuckDB dialect (``type: duckdb``; settings ``path``, ``memory_limit``, ``threads``)."""

    name = "duckdb"
    array_forms = arrays.DUCKDB
    sqlglot_dialect = "duckdb"
    hash_name = "duckdb-hash"
    hash_probe = _HASH_PROBE
    setting_names = frozenset({"path", "memory_limit", "threads"})
    side_effect_functions = _SIDE_EFFECT_FUNCTIONS
    # TimeZone and Calendar come from the machine (TZ, the locale) unless pinned; both are
    # per connection. External access goes off last: it cannot be turned back on.
    session_settings = {
        "TimeZone": "UTC",
        "Calendar": "gregorian",
        "preserve_insertion_order": "false",
        "enable_external_access": "false",
    }
    capabilities = Capabilities(
        transactions=True,
        temp_tables=True,
        merge=True,
        delete=True,
        identifier_case="preserve",
        max_string_bytes=None,
        snapshot_rereads=True,  # MVCC: a transaction reads one snapshot
        single_writer=True,  # one process at a time opens the file for writing
    )

    @property
    def path(self) -> Path:
        raw = str(self.settings.get("path", "warehouse.duckdb"))
        path = Path(raw)
        return path if path.is_absolute() else (self.project_dir / path)

    def describe(self) -> str:
        return f"DuckDB file {self.path}"

    def connect(self, read_only: bool = False) -> None:
        import duckdb

        config: dict[str, Any] = {
            "memory_limit": str(self.settings.get("memory_limit") or DEFAULT_MEMORY_LIMIT),
        }
        if self.settings.get("threads"):
            config["threads"] = int(self.settings["threads"])
        try:
            if read_only:
                self._con = duckdb.connect(str(self.path), read_only=True, config=config)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._con = duckdb.connect(str(self.path), config=config)
        except Exception as error:  # noqa: BLE001 - classified below
            raise self._connect_error(error) from error
        for statement in self.setup_statements():
            self._con.execute(statement)
        self.statements_issued = 0

    def _connect_error(self, error: BaseException) -> WarehouseError:
        kind = self.classify_error(error)
        text = str(error)
        if kind is ErrorKind.IN_USE:
            pid = re.search(r"PID (\d+)", text)
            holder = f" (process {pid.group(1)})" if pid else ""
            return WarehouseError(
                f"{self.describe()} is in use by another process{holder}. DuckDB lets one "
                "process write a file at a time: wait for that run to finish or stop that "
                "process, then run again.",
                kind,
                error,
            )
        first = (text.strip().splitlines() or [type(error).__name__])[0].rstrip(".!")
        return WarehouseError(
            f"Cannot open {self.describe()}: {first}. Check `path` under the source in "
            "lightning.yml and that its directory exists (or can be created) and is writable.",
            ErrorKind.CONNECTION,
            error,
        )

    # -- statements (several in one request: dialects.batched) ----------------------------
    def _bind(self, sql: str, params: dict[str, Any] | None) -> str | None:
        return _literal_bound(sql, params)

    def _run(self, sql: str, params: dict[str, Any] | None) -> Any:
        return self.con.execute(sql, _bound(sql, params))

    def _send_many(self, statements: list[str]) -> Any:
        return self.con.execute(";\n".join(statements))  # the last statement's result

    def _rollback(self) -> None:
        import duckdb

        self.count_statement()
        with suppress(duckdb.TransactionException):  # none open: BEGIN was never sent
            self.con.execute("ROLLBACK")

    def stream(
        self, sql: str, params: dict[str, Any] | None, batch_rows: int
    ) -> Iterator[dict[str, list[Any]]]:
        # A cursor is a second connection to the same database: the main connection stays
        # free for writes while this read is open (it must read persistent tables only).
        # Pages come through Arrow (fast) unless a column has a type Arrow hands over
        # differently from DuckDB's own values (see _ARROW_ALTERED).
        self._send_pending()
        self.count_statement()
        cursor = self.con.cursor()
        try:
            for statement in self.setup_statements():
                cursor.execute(statement)
            relation = cursor.sql(sql, params=_bound(sql, params))
            kinds = zip(relation.columns, relation.types, strict=True)
            json_columns = [name for name, kind in kinds if str(kind) == "JSON"]
            if not any(_arrow_alters(kind) for kind in relation.types):
                for batch in relation.to_arrow_reader(batch_rows):
                    if batch.num_rows:
                        yield _json_marked(batch.to_pydict(), json_columns)
                return
            result = cursor.execute(sql, _bound(sql, params))
            names = [column[0] for column in result.description or []]
            while rows := result.fetchmany(batch_rows):
                columns = zip(*rows, strict=True)
                page = {name: list(values) for name, values in zip(names, columns, strict=True)}
                yield _json_marked(page, json_columns)
        finally:
            cursor.close()

    def bulk_insert(
        self, table: exp.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        import pyarrow as pa

        data = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
        view = "__lightning_bulk_rows"
        self._send_pending()
        self.count_statement()
        self.con.register(view, data)
        try:
            insert = exp.insert(
                exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(view),
                table,
                columns=[exp.to_identifier(c, quoted=True) for c in columns],
            )
            self.con.execute(insert.sql(self.sqlglot_dialect))
        finally:
            self.con.unregister(view)

    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        self._send_pending()
        self.count_statement()
        relation = self.con.sql(sql)
        return [
            (name, str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
        ]

    def classify_error(self, error: BaseException) -> ErrorKind:
        import duckdb

        text = str(error)
        if "Could not set lock on file" in text or "Conflicting lock" in text:
            return ErrorKind.IN_USE
        if isinstance(error, duckdb.PermissionException) and "disabled by configuration" in text:
            return ErrorKind.SQL  # a model named a file, URL or extension (access is off)
        if isinstance(error, duckdb.PermissionException):
            return ErrorKind.PERMISSION
        if isinstance(
            error,
            duckdb.ParserException
            | duckdb.BinderException
            | duckdb.CatalogException
            | duckdb.ConversionException
            | duckdb.InvalidInputException,
        ):
            return ErrorKind.SQL
        if isinstance(error, duckdb.TransactionException):
            return ErrorKind.TRANSIENT
        if isinstance(error, duckdb.IOException | duckdb.ConnectionException):
            return ErrorKind.CONNECTION
        return ErrorKind.TERMINAL

    def is_driver_error(self, error: BaseException) -> bool:
        import duckdb

        return isinstance(error, duckdb.Error)

    def is_integer_type(self, type_name: str) -> bool:
        return type_name.upper() in INTEGER_TYPES

    def row_hash(self, values: Sequence[exp.Expr], types: Sequence[str]) -> exp.Expr:
        return exp.func("hash", *values) if values else exp.Literal.number(0)

    def key_text(self, value: exp.Expr) -> exp.Expr:
        return exp.cast(value, exp.DataType.build("varchar"))

    def json_value(self, value: exp.Expr, type_name: str) -> exp.Expr | None:
        return self._json_expression(value, type_name, strict=True)

    def log_json_value(self, value: exp.Expr, type_name: str) -> exp.Expr:
        # A type left to Python keeps DuckDB's own JSON in the logs, minus its NaN tokens.
        return self._json_expression(value, type_name, strict=False) or value

    def _json_expression(self, value: exp.Expr, type_name: str, strict: bool) -> exp.Expr | None:
        import duckdb

        try:
            kind = duckdb.sqltype(type_name)
        except Exception:  # noqa: BLE001 - a type DuckDB cannot name again: left to Python
            return None
        sql = json_sql(kind, "__v__", 0, strict)
        return None if sql is None else substituted(sql, value, read=self.sqlglot_dialect)

    def view_definition(self, table: exp.Table) -> str | None:
        rows = self.fetchall(
            "SELECT sql FROM duckdb_views() WHERE NOT internal AND view_name = $name "
            "AND schema_name = coalesce($schema, current_schema()) "
            "AND database_name = coalesce($catalog, current_database())",
            {"name": table.name, "schema": table.db or None, "catalog": table.catalog or None},
        )
        if not rows:
            return None
        try:  # DuckDB keeps the CREATE VIEW statement; the query is its AS part
            created = sqlglot.parse_one(str(rows[0][0]), read=self.sqlglot_dialect)
        except sqlglot.errors.ParseError:
            return None
        query = created.expression if isinstance(created, exp.Create) else None
        return query.sql(self.sqlglot_dialect) if query is not None else None

    def grant_statements(self, user: str, schemas: Sequence[str]) -> list[str]:
        return [f"-- DuckDB has no users: make {self.path} and its directory writable."]


def _json_marked(page: dict[str, list[Any]], json_columns: list[str]) -> dict[str, list[Any]]:
    """The page with the values of JSON columns as JsonText."""
    for name in json_columns:
        page[name] = [None if v is None else JsonText(v) for v in page[name]]
    return page


def _arrow_alters(kind: Any) -> bool:
    """Whether a DuckDB type (a DuckDBPyType), or one nested in it, is in _ARROW_ALTERED."""
    if kind.id in _ARROW_ALTERED:
        return True
    return kind.id in _NESTED and any(_arrow_alters(child) for _, child in kind.children)
