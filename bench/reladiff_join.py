"""reladiff (the maintained fork of data-diff) joindiff on the same two tables.

Both tables are in the same DuckDB file; the diff is consumed to the end. Settings
are reladiff's defaults for ``diff_tables(..., algorithm=JOINDIFF)``, as a user would
run it (key uniqueness validated, the library's own segmentation).

On PostgreSQL (``run_postgres``) both tables are in the same database, reached through
reladiff's PostgreSQL driver (psycopg2) with a ``postgresql://`` URI.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import KEY, MAPPED, MODEL_TABLE, PREV_TABLE


def run(db_path: str, key: str = KEY, mapped: list[str] | None = None) -> dict[str, Any]:
    """Diff ``users_prev`` against ``users`` over the mapped columns."""
    # The URI form is duckdb://<database>@<file>; "duckdb://file.duckdb" would read the
    # file name as the database name and silently open an empty in-memory database.
    return _joindiff(f"duckdb://main@{db_path}", key, mapped)


def run_postgres(uri: str, key: str = KEY, mapped: list[str] | None = None) -> dict[str, Any]:
    """``run`` on the PostgreSQL database at ``uri`` (``postgresql://...``)."""
    return _joindiff(uri, key, mapped)


def _joindiff(uri: str, key: str, mapped: list[str] | None) -> dict[str, Any]:
    import reladiff
    from reladiff import Algorithm, connect_to_table, diff_tables

    db = reladiff.connect(uri)
    try:
        extra = tuple(mapped or MAPPED)
        prev = connect_to_table(db, PREV_TABLE, key, extra_columns=extra)
        cur = connect_to_table(db, MODEL_TABLE, key, extra_columns=extra)
        started = time.perf_counter()
        minus: set[str] = set()
        plus: set[str] = set()
        with diff_tables(prev, cur, algorithm=Algorithm.JOINDIFF) as diff:
            for sign, row in diff:
                (minus if sign == "-" else plus).add(row[0])
        total_s = time.perf_counter() - started
    finally:
        db.close()
    changed = len(minus & plus)
    return {
        "total_s": total_s,
        "phases": {},
        "delta_rows": len(minus | plus),
        "ops": {
            "added": len(plus) - changed,
            "changed": changed,
            "removed": len(minus) - changed,
        },
    }
