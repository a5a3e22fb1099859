"""PostgreSQL (``type: postgres``), through psycopg 3.

Settings: ``dsn`` (a libpq connection string or URI), or ``host``, ``port``, ``database``,
``user``, ``password``, ``sslmode``; anything left out falls back to libpq's own environment
variables (``PGHOST``, ``PGPASSWORD``, ...), so secrets need not live in the project file.

- Each session pins the settings that a row's text depends on (UTC, ISO dates, shortest
  exact floats, ``C`` money and number formats; see ``_SESSION``), so the key and the row
  hash of the same values are the same from any client, whatever its environment.
- A model is described (its columns read) in a read-only transaction.
- The row hash is ``hash_record_extended`` (64 bits) of the mapped values, each hashed by
  its type's own hash function (see ``HASH_SEED`` for NULL against zero); a type without one
  (json, xml, geometric, user-defined) is hashed as its text.
- Plan and diff run in one REPEATABLE READ transaction, so the model is read twice (plan,
  then the delta's fields) at one snapshot instead of being copied into a stage.
- The statements of a transaction or batch go in one request with the next read or at the
  block's end, their parameters written in as literals (dialects/batched.py); elsewhere
  parameters are bound by the server.
- The delta streams through a server-side cursor on a second connection, so the run can
  write rejections while it reads, and Python holds one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres

from dialects import array_forms as arrays
from dialects.base import Dialect
from dialects.batched import BatchedRequests
from dialects.capabilities import Capabilities
from dialects.errors import ErrorKind, WarehouseError
from dialects.postgres_json import INTEGER_TYPES, json_expression
from dialects.postgres_read_only import SIDE_EFFECT_FUNCTIONS
from dialects.postgres_requests import bound, send, with_params

MIN_SERVER_VERSION = 140000  # hash_record_extended came with PostgreSQL 14
# Session settings the row's text (hence its hash and its key), the engine's own SQL and the
# sync logs' timestamps depend on: pinned on every connection, so that PGTZ, PGDATESTYLE,
# PGOPTIONS, PGCLIENTENCODING or the server's locale never change them.
_SESSION = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",  # shortest exact floats
    "bytea_output": "hex",
    "client_encoding": "UTF8",
    "standard_conforming_strings": "on",  # a backslash in a string literal is a backslash
    "timezone_abbreviations": "Default",  # what 'IST' or 'EST' in a literal means
    "lc_monetary": "C",  # money renders (and hashes, as text) alike everywhere
    "lc_numeric": "C",  # to_char() of numbers
    "lc_time": "C",  # to_char() month and day names
    "xmlbinary": "base64",
    "xmloption": "content",
    # The engine's statements are a few long scans and joins: compiling them costs more
    # (about 0.5 s each) than it saves.
    "jit": "off",
    # Only ANALYZE reads it, and the engine's sessions analyze only the plan they just made
    # (statistics_statement): a sample of 3,000 rows, not 30,000, is enough for the diff's
    # join estimates (about 15 ms at 1M rows against 150 ms).
    "default_statistics_target": "10",
}
# hash_record_extended hashes a NULL as 0 and hands the seed to each type's function, which
# hashes a float zero as the seed and a numeric zero as the seed minus one: with seed 0 or 1,
# NULL -> 0 would not be a change. Any other seed keeps them apart.
HASH_SEED = 7_523_094_288_207_667_809
_HASH_PROBE = (
    "SELECT hash_record_extended(ROW(42, CAST('lightning' AS TEXT), "
    "CAST(1.5 AS DOUBLE PRECISION), TRUE, CAST(NULL AS TEXT), "
    "TIMESTAMP '2024-01-02 03:04:05.123456', DATE '2024-01-02', "
    "CAST(12.34 AS NUMERIC(10, 2)), CAST('{\"k\": 1}' AS JSONB), "
    f"CAST('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AS UUID)), {HASH_SEED})"
)
# Types with an extended hash function (their hash equals iff the values are equal), as
# psycopg and information_schema name them.
_HASHABLE_TYPES = INTEGER_TYPES | frozenset(
    {"text", "varchar", "character varying", "bpchar", "character", "char", "name"}
    | {"bool", "boolean", "float4", "float8", "real", "double precision", "numeric"}
    | {"date", "time", "timetz", "timestamp", "timestamptz", "interval", "uuid", "bytea"}
    | {"jsonb", "inet", "cidr", "macaddr", "oid"}
    | {"timestamp without time zone", "timestamp with time zone", "time without time zone"}
)
# SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_TRANSIENT_STATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})
_CONNECTION_CLASSES = ("08", "28", "3D")
_SQL_CLASSES = ("42", "22", "0A", "21", "23", "2B", "34")
_READ_ONLY_VIOLATION = "25006"  # a model's read tried to write (described read-only)


class LightningPostgres(Postgres):
    """sqlglot's PostgreSQL, writing JSON objects as ``json_build_object`` (PostgreSQL 15
    has no SQL/JSON ``JSON_OBJECT``) and JSON columns as ``jsonb`` (comparable, indexable:
    the sync logs' ``fields`` can be filtered and grouped on)."""

    class Generator(Postgres.Generator):  # type: ignore[name-defined,misc,valid-type]
        TYPE_MAPPING = {**Postgres.Generator.TYPE_MAPPING, exp.DataType.Type.JSON: "JSONB"}
        TRANSFORMS = {
            **Postgres.Generator.TRANSFORMS,
            exp.JSONObject: lambda self, e: self.func(
                "JSON_BUILD_OBJECT",
                *[part for kv in e.expressions for part in (kv.this, kv.expression)],
            ),
        }


class PostgresDialect(BatchedRequests, Dialect):
    """The PostgreSQL dialect (``type: postgres``)."""

    name = "postgres"
    array_forms = arrays.POSTGRES
    sqlglot_dialect = "lightningpostgres"
    hash_name = "postgres-hash_record_extended"
    hash_probe = _HASH_PROBE
    side_effect_functions = SIDE_EFFECT_FUNCTIONS
    session_settings = _SESSION
    setting_names = frozenset(
        {"dsn", "host", "port", "database", "dbname", "user", "password", "sslmode"}
        | {"connect_timeout"}
    )
    capabilities = Capabilities(
        transactions=True,
        temp_tables=True,
        merge=True,
        delete=True,
        identifier_case="lower",
        max_string_bytes=None,
        snapshot_rereads=True,  # REPEATABLE READ: a transaction reads one snapshot
        drop_many=True,
    )

    # -- connection -------------------------------------------------------------------------
    def _conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        names = {"host": "host", "port": "port", "database": "dbname", "user": "user"}
        names |= {"password": "password", "sslmode": "sslmode", "dbname": "dbname"}
        parts = {
            libpq: str(self.settings[key])
            for key, libpq in names.items()
            if self.settings.get(key) not in (None, "")
        }
        parts.setdefault("application_name", "lightning-sync")
        parts.setdefault("connect_timeout", str(self.settings.get("connect_timeout", 10)))
        return make_conninfo(str(self.settings.get("dsn") or ""), **parts)

    def describe(self) -> str:
        from psycopg.conninfo import conninfo_to_dict

        try:
            info = conninfo_to_dict(self._conninfo())
        except Exception:  # noqa: BLE001 - only a description
            return "PostgreSQL"
        host = info.get("host") or "localhost"
        port = info.get("port") or "5432"
        return f"PostgreSQL database {info.get('dbname') or '(default)'} at {host}:{port}"

    def _open(self) -> Any:
        import psycopg

        con = psycopg.connect(self._conninfo(), autocommit=True)
        # Every setting in one round trip (a query without parameters may hold several).
        con.execute("; ".join(self.setup_statements()))
        return con

    def connect(self, read_only: bool = False) -> None:
        try:
            self._con = self._open()
            if read_only:
                self._con.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except Exception as error:  # noqa: BLE001 - classified below
            first = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".!")
            raise WarehouseError(
                f"Cannot connect to {self.describe()}: {first}. Check host, port, database, "
                "user and password under the source in lightning.yml (or the PG* environment "
                "variables) and that the server accepts connections from this machine.",
                ErrorKind.CONNECTION,
                error,
            ) from error
        self.statements_issued = 0
        version = int(self._con.info.server_version)
        if version < MIN_SERVER_VERSION:
            self.close()
            raise WarehouseError(
                f"{self.describe()} runs PostgreSQL {version // 10000}; the engine needs "
                f"{MIN_SERVER_VERSION // 10000} or newer (for hash_record_extended). Fix: "
                "upgrade the server, or point the source at a newer one.",
                ErrorKind.CONNECTION,
            )

    # -- statements (several in one request: dialects.batched) ----------------------------
    begin_statement = "BEGIN ISOLATION LEVEL REPEATABLE READ"

    def _bind(self, sql: str, params: dict[str, Any] | None) -> str:
        return bound(self.con, sql, params)

    def _run(self, sql: str, params: dict[str, Any] | None) -> Any:
        return self.con.execute(*with_params(sql, params))

    def _send_many(self, statements: list[str]) -> Any:
        return send(self.con, statements)

    def _rollback(self) -> None:
        from psycopg.pq import TransactionStatus

        if not self.con.closed and self.con.info.transaction_status != TransactionStatus.IDLE:
            self.count_statement()
            self.con.execute("ROLLBACK")

    def stream(
        self, sql: str, params: dict[str, Any] | None, batch_rows: int
    ) -> Iterator[dict[str, list[Any]]]:
        self._send_pending()  # what the read may depend on
        self.count_statement()  # the read (its transaction and pages are not counted)
        con = self._open()
        try:
            with con.transaction(), con.cursor(name="lightning_delta_stream") as cursor:
                cursor.itersize = batch_rows
                cursor.execute(*with_params(sql, params))
                names = [d.name for d in cursor.description or []]
                while rows := cursor.fetchmany(batch_rows):
                    columns = zip(*rows, strict=True)
                    yield {name: list(v) for name, v in zip(names, columns, strict=True)}
        finally:
            con.close()

    def bulk_insert(
        self, table: exp.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        target = exp.Schema(
            this=table.copy(), expressions=[exp.to_identifier(c, quoted=True) for c in columns]
        ).sql(self.sqlglot_dialect)
        self._send_pending()
        self.count_statement()
        with self.con.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def query_columns(self, sql: str) -> list[tuple[str, str]]:
        # Read-only (and rolled back), so that whatever of the model the server runs to
        # describe it, or a view it reads that locks rows, cannot write.
        from psycopg.pq import TransactionStatus

        describe = f"SELECT * FROM ({sql}) AS lightning_described LIMIT 0"
        self._send_pending()
        if self.con.info.transaction_status != TransactionStatus.IDLE:
            # Inside a transaction psycopg makes this a savepoint; leaving it restores
            # read-write.
            for _ in range(4):  # a savepoint, read-only, describe, roll back
                self.count_statement()
            with self.con.transaction(force_rollback=True):
                self.con.execute("SET LOCAL transaction_read_only = on")
                cursor = self.con.execute(describe)
        else:
            # One round trip: a query without parameters may hold several statements. The
            # model's SQL is one statement, rendered by sqlglot.
            self.count_statement()
            try:
                cursor = self.con.execute(f"BEGIN READ ONLY; {describe}; ROLLBACK")
            except Exception:
                if self.con.info.transaction_status == TransactionStatus.INERROR:
                    self.execute("ROLLBACK")  # what failed skipped the rest, ROLLBACK too
                raise
            cursor.nextset()  # BEGIN's result, then the description's
        types = self.con.adapters.types
        described = []
        for column in cursor.description or []:
            info = types.get(column.type_code)
            name = info.name if info else str(column.type_code)
            if info is not None and info.oid != column.type_code:  # an array of info's type
                name += "[]"
            described.append((column.name, name))
        return described

    def classify_error(self, error: BaseException) -> ErrorKind:
        import psycopg

        if not isinstance(error, psycopg.Error):
            return ErrorKind.TERMINAL
        state = getattr(error, "sqlstate", None) or ""
        if state == "42501":
            return ErrorKind.PERMISSION
        if state in _TRANSIENT_STATES or state.startswith("53"):
            return ErrorKind.TRANSIENT
        if state.startswith(_CONNECTION_CLASSES) or isinstance(error, psycopg.OperationalError):
            return ErrorKind.CONNECTION
        if state.startswith(_SQL_CLASSES) or state == _READ_ONLY_VIOLATION:
            return ErrorKind.SQL
        if isinstance(error, psycopg.ProgrammingError):
            return ErrorKind.SQL
        return ErrorKind.TERMINAL

    def is_driver_error(self, error: BaseException) -> bool:
        import psycopg

        return isinstance(error, psycopg.Error)

    def statistics_statement(self, table: exp.Table) -> str | None:
        # Without them the planner guesses a new table's key distribution and, at 1M rows,
        # sorted both plans (and the current one again) onto disk for merge joins.
        return f"ANALYZE {table.sql(self.sqlglot_dialect)}"

    def exclusive_lock(self, table: exp.Table) -> str | None:
        # Two runs taking the sync lock at once would otherwise both read "no lock" in their
        # snapshots and both insert one. EXCLUSIVE still lets plain reads through.
        return f"LOCK TABLE {table.sql(self.sqlglot_dialect)} IN EXCLUSIVE MODE"

    def is_integer_type(self, type_name: str) -> bool:
        return type_name.lower() in INTEGER_TYPES

    # -- SQL fragments ----------------------------------------------------------------------
    def row_hash(self, values: Sequence[exp.Expr], types: Sequence[str]) -> exp.Expr:
        if not values:
            return exp.Literal.number(0)
        # Each value through its type's own hash function; a type without one (json, xml,
        # geometric, user-defined) is hashed as its text, which the session pins.
        hashed = [
            value if kind.lower().removesuffix("[]") in _HASHABLE_TYPES else exp.cast(value, "text")
            for value, kind in zip(values, types, strict=True)
        ]
        row = exp.Anonymous(this="ROW", expressions=hashed)
        return exp.func("hash_record_extended", row, exp.Literal.number(HASH_SEED))

    def json_value(self, value: exp.Expr, type_name: str) -> exp.Expr | None:
        return json_expression(value, type_name)

    def view_definition(self, table: exp.Table) -> str | None:
        rows = self.fetchall(
            "SELECT pg_get_viewdef(c.oid) FROM pg_class AS c "
            "WHERE c.oid = to_regclass(%(name)s) AND c.relkind = 'v'",
            {"name": table.sql(self.sqlglot_dialect)},
        )
        return str(rows[0][0]) if rows and rows[0][0] else None

    def current_user(self) -> str:
        return str(self.fetchall("SELECT current_user")[0][0])

    def grant_statements(self, user: str, schemas: Sequence[str]) -> list[str]:
        statements = []
        for schema in schemas:
            statements.append(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {user};")
            statements.append(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {user};")
        statements.append(
            f"-- and SELECT on what the models read, e.g. GRANT SELECT ON ALL TABLES IN "
            f"SCHEMA public TO {user};"
        )
        return statements
