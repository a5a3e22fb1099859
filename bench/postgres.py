"""PostgreSQL for the benchmark: the server, one cached database per dataset, copies.

The server is ``--postgres-dsn`` (or ``$LIGHTNING_BENCH_POSTGRES_DSN``), a DSN of a user
allowed to create databases; without one the harness starts a throwaway server with the
test helper ``tests.postgres_server.TempPostgres`` and stops (removes) it at the end.

Each dataset (N, seed) is the DuckDB file ``bench.datagen`` generated, loaded as is into
a database ``bench_n<N>_s<seed>`` with COPY: ``users`` and ``users_prev`` with the same
columns and types, no keys or indexes (as in DuckDB), then ``VACUUM ANALYZE``. A table
``bench_dataset`` holding the dataset's metadata is written last and marks the database
as complete, so a later run on the same server skips the load.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from bench.common import MODEL_TABLE, PREV_TABLE, WORK_DIR, quote_ident

DSN_ENV = "LIGHTNING_BENCH_POSTGRES_DSN"
MARKER_TABLE = "bench_dataset"
COPY_CHUNK_BYTES = 1 << 20
# DuckDB column types of the generated tables and the PostgreSQL types they load into.
_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "VARCHAR": "text",
    "TIMESTAMP": "timestamp",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
}
# Server settings recorded with the results.
_SHOWN = (
    "server_version",
    "shared_buffers",
    "work_mem",
    "max_parallel_workers_per_gather",
    "fsync",
    "synchronous_commit",
)


class NotAvailable(RuntimeError):
    """No server to run on (no DSN given and no server binaries, or no psycopg)."""


@dataclass
class Server:
    """The server the PostgreSQL runs use."""

    dsn: str
    started_here: bool
    settings: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """Where the server is and how it is set up (no password)."""
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(self.dsn)
        return {
            "source": "throwaway (tests/postgres_server.TempPostgres)"
            if self.started_here
            else "given DSN",
            "host": info.get("host") or "localhost",
            "port": info.get("port") or "5432",
            "settings": self.settings,
        }


def _connect(dsn: str) -> Any:
    import psycopg

    return psycopg.connect(dsn, autocommit=True)


def _server_settings(dsn: str) -> dict[str, str]:
    with _connect(dsn) as con:
        return {name: str(con.execute(f"SHOW {name}").fetchone()[0]) for name in _SHOWN}


@contextmanager
def server(dsn: str | None) -> Iterator[Server]:
    """The given server, or a throwaway one for the duration of the block."""
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        raise NotAvailable("psycopg is not installed (pip install -e '.[postgres,bench]')")
    if dsn:
        yield Server(dsn, False, _server_settings(dsn))
        return
    from tests.postgres_server import PostgresNotInstalled, TempPostgres

    try:
        temp = TempPostgres(durable=True)  # PostgreSQL's default fsync and commit settings
    except PostgresNotInstalled as error:
        raise NotAvailable(
            "no server given (--postgres-dsn or $" + DSN_ENV + ") and no server binaries "
            "(initdb, pg_ctl) to start one; install PostgreSQL (Debian/Ubuntu: apt-get "
            "install postgresql) or give a server's DSN"
        ) from error
    try:
        started = temp.start()
        yield Server(started, True, _server_settings(started))
    finally:
        temp.stop()


def database_uri(server_dsn: str, dbname: str) -> str:
    """A ``postgresql://`` URI of database ``dbname`` on the server of ``server_dsn``.

    URIs suit every client here: psycopg, the engine's ``dsn`` setting and reladiff (whose
    PostgreSQL driver takes only URIs). Other connection settings go in the query string.
    """
    from psycopg.conninfo import conninfo_to_dict

    info = {k: str(v) for k, v in conninfo_to_dict(server_dsn).items() if v is not None}
    info.pop("dbname", None)
    user = info.pop("user", "")
    password = info.pop("password", None)
    host = info.pop("host", "")
    port = info.pop("port", None)
    auth = quote(user, safe="")
    if password is not None:
        auth += ":" + quote(password, safe="")
    netloc = (auth + "@" if auth else "") + quote(host, safe="") + (f":{port}" if port else "")
    query = "?" + urlencode(info) if info else ""
    return f"postgresql://{netloc}/{quote(dbname, safe='')}{query}"


def database_name(n: int, seed: int) -> str:
    """The cached database of dataset (n, seed)."""
    return f"bench_n{n}_s{seed}"


def lightning_database_name(n: int, seed: int) -> str:
    """The engine's copy of the cached database (it writes its schemas there)."""
    return f"bench_lightning_n{n}_s{seed}"


def _exists(con: Any, dbname: str) -> bool:
    return (
        con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone() is not None
    )


def _cached_meta(server_dsn: str, dbname: str) -> dict[str, Any] | None:
    with _connect(server_dsn) as con:
        if not _exists(con, dbname):
            return None
    with _connect(database_uri(server_dsn, dbname)) as con:
        found = con.execute("SELECT to_regclass(%s)", [MARKER_TABLE]).fetchone()
        if found is None or found[0] is None:
            return None
        row = con.execute(f"SELECT meta FROM {MARKER_TABLE}").fetchone()
    return None if row is None else dict(json.loads(row[0]))


def _duckdb_columns(con: Any, table: str) -> list[tuple[str, str]]:
    rows = con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()
    columns = []
    for name, duck_type, *_ in rows:
        if duck_type not in _TYPES:
            raise TypeError(f"{table}.{name}: no PostgreSQL type for DuckDB {duck_type}")
        columns.append((str(name), _TYPES[duck_type]))
    return columns


def _copy_table(duck: Any, pg: Any, table: str) -> int:
    """CREATE the table in PostgreSQL and COPY the DuckDB table's rows into it (as CSV)."""
    columns = _duckdb_columns(duck, table)
    column_sql = ", ".join(f"{quote_ident(n)} {t}" for n, t in columns)
    pg.execute(f"CREATE TABLE {quote_ident(table)} ({column_sql})")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK_DIR, prefix="pg_load_") as tmp:
        csv_path = Path(tmp) / f"{table}.csv"
        # Unquoted empty fields are NULLs in both DuckDB's CSV and PostgreSQL's; the data
        # has no empty strings.
        duck.execute(
            f"COPY (SELECT * FROM {quote_ident(table)}) TO '{csv_path}' "
            "(FORMAT csv, HEADER false, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S.%f')"
        )
        with (
            pg.cursor() as cursor,
            cursor.copy(f"COPY {quote_ident(table)} FROM STDIN (FORMAT csv)") as copy,
            open(csv_path, "rb") as f,
        ):
            while chunk := f.read(COPY_CHUNK_BYTES):
                copy.write(chunk)
    row = pg.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()
    return int(row[0])


def load(server_dsn: str, n: int, seed: int, db_path: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Load dataset (n, seed) from its DuckDB file into its database, unless cached there.

    Runs in a child process (``pg_load``). Returns the database name, whether it was
    cached and the load's seconds.
    """
    import duckdb

    dbname = database_name(n, seed)
    wanted = {k: meta[k] for k in ("n", "seed", "generator_version", "rows_prev", "rows_current")}
    cached = _cached_meta(server_dsn, dbname)
    if cached is not None and {k: cached.get(k) for k in wanted} == wanted:
        return {"database": dbname, "cached": True, "load_s": cached.get("load_s")}
    started = time.perf_counter()
    with _connect(server_dsn) as con:
        con.execute(f"DROP DATABASE IF EXISTS {quote_ident(dbname)} WITH (FORCE)")
        con.execute(f"CREATE DATABASE {quote_ident(dbname)}")
    duck = duckdb.connect(db_path, read_only=True)
    try:
        with _connect(database_uri(server_dsn, dbname)) as pg:
            rows = {t: _copy_table(duck, pg, t) for t in (PREV_TABLE, MODEL_TABLE)}
            if rows != {PREV_TABLE: meta["rows_prev"], MODEL_TABLE: meta["rows_current"]}:
                raise RuntimeError(f"loaded {rows} rows, expected {wanted}")
            pg.execute(f"VACUUM ANALYZE {quote_ident(PREV_TABLE)}")
            pg.execute(f"VACUUM ANALYZE {quote_ident(MODEL_TABLE)}")
            load_s = round(time.perf_counter() - started, 3)
            pg.execute(f"CREATE TABLE {MARKER_TABLE} (meta text NOT NULL)")
            pg.execute(
                f"INSERT INTO {MARKER_TABLE} VALUES (%s)",
                [json.dumps({**wanted, "load_s": load_s})],
            )
    finally:
        duck.close()
    return {"database": dbname, "cached": False, "load_s": load_s}


def copy_database(server_dsn: str, source: str, target: str) -> None:
    """``target`` as a fresh copy of ``source`` (CREATE DATABASE ... TEMPLATE)."""
    import psycopg

    with _connect(server_dsn) as con:
        con.execute(f"DROP DATABASE IF EXISTS {quote_ident(target)} WITH (FORCE)")
        for attempt in range(20):
            try:
                con.execute(f"CREATE DATABASE {quote_ident(target)} TEMPLATE {quote_ident(source)}")
                return
            except psycopg.errors.ObjectInUse:
                # The template must have no other session (autovacuum may visit it).
                if attempt == 19:
                    raise
                time.sleep(0.5)


def drop_database(server_dsn: str, dbname: str) -> None:
    """Drop ``dbname`` if it exists."""
    with _connect(server_dsn) as con:
        con.execute(f"DROP DATABASE IF EXISTS {quote_ident(dbname)} WITH (FORCE)")


def rename_tables(dsn: str, pairs: list[tuple[str, str]]) -> None:
    """``ALTER TABLE old RENAME TO new`` for each pair, in one transaction."""
    import psycopg

    with psycopg.connect(dsn) as con:  # commits at the end of the block
        for old, new in pairs:
            con.execute(f"ALTER TABLE {quote_ident(old)} RENAME TO {quote_ident(new)}")


def session_statements() -> list[str]:
    """The engine's session settings (time zone, date style, float digits)."""
    from dialects.postgres import PostgresDialect

    return PostgresDialect({}, Path(os.getcwd())).setup_statements()
