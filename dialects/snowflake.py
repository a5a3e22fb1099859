"""Snowflake (``type: snowflake``), through the official ``snowflake-connector-python``.

Settings: ``account``, ``user``, ``password`` or key-pair auth (``private_key_path`` with
optional ``private_key_passphrase``, or ``private_key``: the key's PEM text, e.g. from
``${SNOWFLAKE_PRIVATE_KEY}``), optional ``authenticator`` (``externalbrowser``, ``oauth`` with
``token``, ...), ``warehouse``, ``role``, ``database``, ``schema``, ``query_tag`` (default:
``lightning-sync`` and the sync's name, to find the engine's queries and their cost in
``QUERY_HISTORY``), ``host``, ``port``, ``protocol`` (private endpoints, local emulators;
passed to the connector as they are) and the connector's ``login_timeout``,
``network_timeout``, ``socket_timeout`` (seconds).

Choices (each from Snowflake's documentation):

- Row hash: ``HASH(...)`` of the mapped values, Snowflake's native signed 64-bit hash
  (https://docs.snowflake.com/en/sql-reference/functions/hash), tagged with its answer on a
  fixed row like the other warehouses' hashes.
- ``fields`` and payloads: ``OBJECT_CONSTRUCT_KEEP_NULL`` (plain ``OBJECT_CONSTRUCT`` drops
  NULL-valued keys, so a field changed to NULL would vanish), stored as ``VARIANT``; a payload
  streamed as text is ``TO_JSON`` of that object.
- Parameters are bound by the server (the connector's ``numeric`` paramstyle): the statement
  text is sent as it is, so a ``%`` or an apostrophe in a comment or a model never meets
  client-side formatting. ``:name`` placeholders are found by parsing, not by a pattern.
- The delta is read with ``fetch_arrow_batches``: result chunks are downloaded one at a time;
  a NUMBER with a scale as a decimal (``arrow_number_to_decimal``), never through a double.
- Rejections are bulk loaded as Parquet: ``PUT`` to a temporary stage in the engine's schema,
  then one ``COPY INTO`` (what the connector's ``write_pandas`` does, without pandas), never
  one INSERT per row.
- DDL commits implicitly (https://docs.snowflake.com/en/sql-reference/transactions): declared
  in ``Capabilities.ddl_commits``; the engine's commit transaction holds only DML.
- Statements in a transaction read committed data, not one snapshot: the model is read once
  into a temporary stage.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlglot import exp

from dialects import array_forms as arrays
from dialects.base import Dialect, JsonText
from dialects.capabilities import Capabilities
from dialects.errors import ErrorKind, WarehouseError
from dialects.snowflake_catalog import SnowflakeCatalog
from dialects.snowflake_connect import NO_WAREHOUSE, classify, connect_arguments, connect_error
from dialects.snowflake_read_only import SIDE_EFFECT_COLUMNS, SIDE_EFFECT_FUNCTIONS
from dialects.snowflake_sql import numbered  # also registers sqlglot's "lightningsnowflake"

DEFAULT_QUERY_TAG = "lightning-sync"
# A fixed row covering the types models use; HASH's answer on it names the hash's version.
_HASH_PROBE = (
    "SELECT HASH(42, 'lightning', CAST(1.5 AS DOUBLE), TRUE, NULL, "
    "CAST('2024-01-02 03:04:05.123456' AS TIMESTAMP_NTZ), CAST('2024-01-02' AS DATE), "
    "CAST(12.34 AS NUMBER(10, 2)))"
)
_LOAD_STAGE = "LIGHTNING_LOAD"
_SEMI_STRUCTURED = frozenset({5, 9, 10})  # the connector's type codes of VARIANT, OBJECT, ARRAY
# Types whose JSON in an OBJECT is what the engine's Python encoder writes for the value.
_JSON_AS_IS = frozenset({"TEXT", "VARCHAR", "STRING", "BOOLEAN"})
# Floating point types (the connector names FLOAT "REAL"); in an OBJECT, their NaN and
# infinities are written as NaN / Infinity tokens, which are not JSON.
_FLOAT_TYPES = frozenset({"REAL", "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION"})
_FLOAT_SPECIALS = ("NaN", "inf", "-inf")
# Synonyms of NUMBER(38,0) (https://docs.snowflake.com/en/sql-reference/data-types-numeric).
_INTEGER_SYNONYMS = frozenset({"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"})


class SnowflakeDialect(SnowflakeCatalog, Dialect):
    """The Snowflake dialect (``type: snowflake``)."""

    name = "snowflake"
    array_forms = arrays.SNOWFLAKE
    sqlglot_dialect = "lightningsnowflake"
    hash_name = "snowflake-hash"
    hash_probe = _HASH_PROBE
    setting_names = frozenset(
        {"account", "user", "password", "authenticator", "token"}
        | {"private_key_path", "private_key_passphrase", "private_key"}
        | {"warehouse", "role", "database", "schema", "query_tag"}
        | {"host", "port", "protocol", "login_timeout", "network_timeout", "socket_timeout"}
    )
    side_effect_functions = SIDE_EFFECT_FUNCTIONS
    side_effect_columns = SIDE_EFFECT_COLUMNS
    capabilities = Capabilities(
        transactions=True,
        temp_tables=True,
        merge=True,
        delete=True,
        identifier_case="upper",
        read_only_sessions=False,
        max_string_bytes=16 * 1024 * 1024,
        snapshot_rereads=False,  # READ COMMITTED: each statement sees the latest commits
        ddl_commits=True,
    )

    def __init__(self, settings: dict[str, Any], project_dir: Path):
        super().__init__(settings, project_dir)
        self._stages: set[str] = set()

    # -- connection -------------------------------------------------------------------------
    def describe(self) -> str:
        where = f"account {self.settings.get('account') or '(none)'}"
        if self.settings.get("host"):
            where += f" at {self.settings['host']}:{self.settings.get('port') or 443}"
        return f"Snowflake {where}, database {self.settings.get('database') or '(default)'}"

    def connect_arguments(self) -> dict[str, Any]:
        """What the connector's ``connect()`` gets (secrets included: never print it)."""
        return connect_arguments(self.settings, self.project_dir, self.label)

    def connect(self, read_only: bool = False) -> None:
        """Snowflake has no read-only session: ``lightning-sync sql`` relies on its parse check
        (one read-only query) and on the role's privileges."""
        import snowflake.connector

        arguments = self.connect_arguments()
        try:
            self._con = snowflake.connector.connect(**arguments)
        except Exception as error:  # noqa: BLE001 - classified below
            raise connect_error(error, self.settings, self.describe()) from error
        self._stages = set()
        self.statements_issued = 0

    # -- statements -------------------------------------------------------------------------
    def _run(self, cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
        self.count_statement()
        if not params or ":" not in sql:
            return cursor.execute(sql)
        text, names = numbered(sql)
        if not names:
            return cursor.execute(sql)
        return cursor.execute(text, [params[name] for name in names])

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        if sql.lstrip().upper().startswith("CREATE SCHEMA"):
            self._create_schema(sql)
            return
        with self.con.cursor() as cursor:
            self._run(cursor, sql, params)

    def _create_schema(self, sql: str) -> None:
        # CREATE SCHEMA also makes the new schema the session's current one
        # (https://docs.snowflake.com/en/sql-reference/sql/create-schema); the models' unqualified
        # names must keep resolving in the schema the session had.
        with self.con.cursor() as cursor:
            current = "SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()"
            database, schema = self._run(cursor, current, None).fetchone()
            self._run(cursor, sql, None)
            if schema:
                target = exp.Table(
                    this=exp.to_identifier(schema, quoted=True),
                    db=exp.to_identifier(database, quoted=True) if database else None,
                )
                self._run(cursor, f"USE SCHEMA {target.sql(self.sqlglot_dialect)}", None)

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cursor:
            return list(self._run(cursor, sql, params).fetchall())

    def query(self, sql: str, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.con.cursor() as cursor:
            self._run(cursor, sql, None)
            names = [str(column.name) for column in cursor.description or []]
            return names, list(cursor.fetchmany(max_rows))

    def stream(
        self, sql: str, params: dict[str, Any] | None, batch_rows: int
    ) -> Iterator[dict[str, list[Any]]]:
        # The result stays on the server and its chunks are downloaded one at a time, so the
        # connection stays free for the rejection loads while this read is open.
        # VARIANT, OBJECT and ARRAY values arrive as JSON text and are handed over as
        # JsonText: sent as the JSON they hold, every digit of a number kept (a parse to
        # Python floats would round an integer beyond 64 bits or a 38-digit decimal).
        cursor = self.con.cursor()
        try:
            self._run(cursor, sql, params)
            semi = {d.name for d in cursor.description or [] if d.type_code in _SEMI_STRUCTURED}
            for table in cursor.fetch_arrow_batches():
                for batch in table.to_batches(max_chunksize=batch_rows):
                    if batch.num_rows:
                        columns = batch.to_pydict()
                        for name in semi & set(columns):
                            columns[name] = [
                                None if v is None else JsonText(v) for v in columns[name]
                            ]
                        yield columns
        finally:
            cursor.close()

    def bulk_insert(
        self, table: exp.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
        with tempfile.TemporaryDirectory(prefix="lightning-load-") as folder:
            path = Path(folder) / "rows.parquet"
            pq.write_table(data, path)
            # In the target's schema (the engine's own, where its role may create objects).
            stage = exp.Table(
                this=exp.to_identifier(_LOAD_STAGE, quoted=True), db=table.args.get("db")
            ).sql(self.sqlglot_dialect)
            if stage not in self._stages:
                self.execute(f"CREATE TEMPORARY STAGE IF NOT EXISTS {stage}")
                self._stages.add(stage)
            target = f"@{stage}/{Path(folder).name}"
            self.execute(f"PUT '{path.as_uri()}' {target} AUTO_COMPRESS=FALSE OVERWRITE=TRUE")
            parts = ", ".join(f'$1:"{name}"' for name in columns)
            into = exp.Schema(
                this=table.copy(), expressions=[exp.to_identifier(c, quoted=True) for c in columns]
            ).sql(self.sqlglot_dialect)
            self.execute(
                f"COPY INTO {into} FROM (SELECT {parts} FROM {target}) "
                "FILE_FORMAT = (TYPE = PARQUET) PURGE = TRUE"
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            if not self.con.is_closed():
                self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def classify_error(self, error: BaseException) -> ErrorKind:
        return classify(error)

    def is_driver_error(self, error: BaseException) -> bool:
        from snowflake.connector import errors

        return isinstance(error, errors.Error)

    def wrap(self, error: BaseException, context: str) -> WarehouseError:
        wrapped = super().wrap(error, context)
        if getattr(error, "errno", None) in NO_WAREHOUSE:
            return WarehouseError(
                f"{wrapped} Fix: set `warehouse` under the source to a warehouse the role may "
                "use (GRANT USAGE ON WAREHOUSE <warehouse> TO ROLE <role>), and resume it if "
                "it is suspended without auto-resume (ALTER WAREHOUSE <warehouse> RESUME).",
                wrapped.kind,
                error,
            )
        return wrapped

    def is_integer_type(self, type_name: str) -> bool:
        upper = type_name.upper().replace(" ", "")
        if upper in _INTEGER_SYNONYMS:
            return True
        return upper.startswith(("NUMBER(", "DECIMAL(", "NUMERIC(")) and upper.endswith(",0)")

    # -- SQL fragments ----------------------------------------------------------------------
    def row_hash(self, values: Sequence[exp.Expr], types: Sequence[str]) -> exp.Expr:
        if not values:
            return exp.Literal.number(0)
        return exp.Anonymous(this="HASH", expressions=list(values))

    def key_text(self, value: exp.Expr) -> exp.Expr:
        return exp.cast(value, exp.DataType.build("varchar"))

    def json_text(self, value: exp.Expr) -> exp.Expr:
        # TO_JSON takes a VARIANT (https://docs.snowflake.com/en/sql-reference/functions/to_json).
        variant = exp.Anonymous(this="TO_VARIANT", expressions=[value])
        return exp.Anonymous(this="TO_JSON", expressions=[variant])

    def json_value(self, value: exp.Expr, type_name: str) -> exp.Expr | None:
        as_is = type_name.upper() in _JSON_AS_IS or self.is_integer_type(type_name)
        return value if as_is else None

    def log_json_value(self, value: exp.Expr, type_name: str) -> exp.Expr:
        # NaN and the infinities are null in the sync logs' fields, as in a payload (Snowflake
        # compares NaN equal to itself: https://docs.snowflake.com/en/sql-reference/data-types-numeric).
        if type_name.upper() not in _FLOAT_TYPES:
            return super().log_json_value(value, type_name)
        specials = [
            exp.cast(exp.Literal.string(text), exp.DataType.build("double"))
            for text in _FLOAT_SPECIALS
        ]
        special = exp.In(this=value.copy(), expressions=specials)
        return exp.Case(ifs=[exp.If(this=special, true=exp.Null())], default=value)

    def current_user(self) -> str:
        return str(self.fetchall("SELECT CURRENT_USER()")[0][0])

    def grant_statements(self, user: str, schemas: Sequence[str]) -> list[str]:
        role = str(self.settings.get("role") or "LIGHTNING_ROLE")
        warehouse = str(self.settings.get("warehouse") or "<warehouse>")
        database = str(self.settings.get("database") or "<database>")
        statements = [
            "USE ROLE ACCOUNTADMIN;",
            f"CREATE ROLE IF NOT EXISTS {role};",
            f"GRANT ROLE {role} TO USER {user};",
            f"GRANT USAGE ON WAREHOUSE {warehouse} TO ROLE {role};",
            f"GRANT USAGE ON DATABASE {database} TO ROLE {role};",
            f"GRANT CREATE SCHEMA ON DATABASE {database} TO ROLE {role};",
        ]
        for schema in schemas:
            statements.append(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema.upper()};")
            statements.append(
                f"GRANT OWNERSHIP ON SCHEMA {database}.{schema.upper()} TO ROLE {role} "
                "COPY CURRENT GRANTS;"
            )
        statements.append(
            f"-- and read access to the models: GRANT USAGE ON ALL SCHEMAS IN DATABASE {database} "
            f"TO ROLE {role}; GRANT SELECT ON ALL TABLES IN DATABASE {database} TO ROLE {role};"
        )
        return statements
