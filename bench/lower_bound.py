"""Lower bound: the work no in-warehouse diff can avoid, measured in the same engine.

Two parts, timed separately:

- ``copy_s``: one scan of the model query into a temporary table
  (``CREATE TEMP TABLE ... AS SELECT * FROM users``);
- ``join_s``: one hash join of two N-row (key, hash) tables on the key (a FULL OUTER
  JOIN comparing the hashes), the tables being built beforehand, outside the timing.

On PostgreSQL (``run_postgres``) the same two statements run on temporary tables, with
the engine's session settings; the (key, hash) tables hash a row as the engine does,
``hash_record_extended(ROW(mapped columns), HASH_SEED)``, and are ANALYZEd before the join.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.common import KEY, MAPPED, MODEL_TABLE, PREV_TABLE, quote_ident
from dialects.postgres import HASH_SEED


def run(db_path: str, key: str = KEY, mapped: list[str] | None = None) -> dict[str, Any]:
    """Measure both parts on the data file at ``db_path`` (opened read-only)."""
    import duckdb

    con = duckdb.connect(db_path, read_only=True)
    try:
        return _measure(con, key, mapped or MAPPED, lambda cols: f"hash({cols})", analyze=False)
    finally:
        con.close()


def run_postgres(dsn: str, key: str = KEY, mapped: list[str] | None = None) -> dict[str, Any]:
    """Measure both parts in the PostgreSQL database at ``dsn`` (temporary tables only)."""
    import psycopg

    from bench.postgres import session_statements

    with psycopg.connect(dsn, autocommit=True) as con:
        for statement in session_statements():
            con.execute(statement)
        return _measure(
            con,
            key,
            mapped or MAPPED,
            lambda cols: f"hash_record_extended(ROW({cols}), {HASH_SEED})",
            analyze=True,
        )


def _measure(
    con: Any, key: str, mapped: list[str], row_hash: Callable[[str], str], analyze: bool
) -> dict[str, Any]:
    """The copy, then the key join of two prebuilt (key, hash) temporary tables, on a
    connection of either warehouse (both drivers' ``execute`` return a cursor)."""
    cols = ", ".join(quote_ident(c) for c in mapped)
    k = quote_ident(key)
    started = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE model_copy AS SELECT * FROM {MODEL_TABLE}")
    copy_s = time.perf_counter() - started
    copied = con.execute("SELECT count(*) FROM model_copy").fetchone()
    con.execute("DROP TABLE model_copy")

    for name, table in (("cur_kh", MODEL_TABLE), ("prev_kh", PREV_TABLE)):
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT {k}, {row_hash(cols)} AS h FROM {table}")
        if analyze:
            con.execute(f"ANALYZE {name}")
    started = time.perf_counter()
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE c.h IS DISTINCT FROM p.h) "
        f"FROM cur_kh AS c FULL OUTER JOIN prev_kh AS p ON c.{k} = p.{k}"
    ).fetchone()
    join_s = time.perf_counter() - started
    assert copied is not None and row is not None
    return {
        "total_s": copy_s + join_s,
        "phases": {"copy": copy_s, "join": join_s},
        "rows_copied": int(copied[0]),
        # Keys whose hash differs or that exist on one side only (no rejections here).
        "delta_rows": int(row[0]),
    }
