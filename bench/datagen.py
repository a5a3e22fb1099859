"""Deterministic benchmark data in DuckDB: a previous and a current state of a model.

One DuckDB file per (N, seed) holds:

- ``users_prev``: the state the previous committed run saw, N rows, keys 1..N;
- ``users``: the current state (the model): 0.5% of the previous rows removed, 1%
  changed in one mapped column, 0.5% new keys added, and 2% changed only in unmapped
  columns (not a change for a sync);
- ``bench_rejected_keys``: 0.1% of the unchanged keys, the rows the previous run failed
  to deliver and that this run must retry.

Which rows change is chosen by ``hash(user_id, seed, ...)``, so every file is the same
for the same N, seed and DuckDB version, and the exact counts are stored beside it in a
JSON file, which is written last and marks the file as complete.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import KEY, MODEL_TABLE, PREV_TABLE, WORK_DIR

# Bump when the generated data changes, so cached files are rebuilt.
GENERATOR_VERSION = 1

_FIRST = [
    "Alice",
    "Bob",
    "Carmen",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiroshi",
    "Ingrid",
    "Jamal",
    "Katarzyna",
    "Luis",
    "Mei",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tatiana",
    "Umar",
    "Valentina",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zofia",
]
_LAST = [
    "Anderson",
    "Bianchi",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fernandez",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrovic",
    "Quispe",
    "Rahman",
    "Schneider",
    "Tanaka",
    "Urquhart",
    "Vasquez",
    "Williams",
    "Xu",
    "Yamamoto",
    "Zimmermann",
]
_CITY = [
    "Amsterdam",
    "Buenos Aires",
    "Casablanca",
    "Dublin",
    "Edinburgh",
    "Frankfurt",
    "Guadalajara",
    "Helsinki",
    "Istanbul",
    "Johannesburg",
    "Kyoto",
    "Lisbon",
    "Montreal",
    "Nairobi",
    "Oslo",
    "Porto Alegre",
    "Quebec City",
    "Rotterdam",
    "San Francisco",
    "Toronto",
    "Ulaanbaatar",
    "Valparaiso",
    "Wellington",
    "Yokohama",
    "Zaragoza",
]
_REGION = ["North", "South", "East", "West", "Central", "Upper", "Lower", "Greater"]
_DOMAIN = ["example.com", "mail.example.org", "corp.example.net", "example.co.uk"]


@dataclass(frozen=True)
class Dataset:
    """A generated data file and what a correct diff of it must find."""

    n: int
    seed: int
    db_path: Path
    meta: dict[str, Any]

    @property
    def rejected_keys(self) -> list[int]:
        """The keys the previous run failed to deliver (to be retried)."""
        return list(self.meta["rejected_keys"])

    @property
    def expected(self) -> dict[str, int]:
        """Exact op counts of a correct diff (mirror mode: removals included)."""
        return dict(self.meta["expected"])


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], salt: int) -> str:
    """SQL picking one element of ``values`` by a hash of the row's key."""
    return f"{_sql_list(values)}[1 + (hash(id, $seed, {salt}) % {len(values)})::INTEGER]"


def _clamp_len(expr: str) -> str:
    """SQL making a string 20 to 40 characters long."""
    return f"rpad(({expr}), least(40, greatest(20, length({expr})))::INTEGER, '_')"


def _row_columns(generation: int) -> str:
    """Column expressions of one generated row, from a ``id`` BIGINT column.

    ``generation`` salts every value, so keys added in the current state get values of
    their own.
    """
    g = generation * 100
    name = (
        f"{_pick(_FIRST, g + 1)} || ' ' || {_pick(_FIRST, g + 2)} || ' ' || {_pick(_LAST, g + 3)}"
    )
    email = (
        f"lower({_pick(_FIRST, g + 1)}) || '.' || lower({_pick(_LAST, g + 3)}) || "
        f"(hash(id, $seed, {g + 4}) % 10000)::VARCHAR || '@' || {_pick(_DOMAIN, g + 5)}"
    )
    city = (
        f"{_pick(_CITY, g + 6)} || ', ' || {_pick(_REGION, g + 7)} || ' ' || "
        f"lpad((hash(id, $seed, {g + 8}) % 100000)::VARCHAR, 5, '0')"
    )
    return f"""
        id AS {KEY},
        (18 + hash(id, $seed, {g + 10}) % 70)::INTEGER AS age,
        (hash(id, $seed, {g + 11}) % 1000000000)::BIGINT AS score,
        {_clamp_len(email)} AS email,
        {_clamp_len(name)} AS name,
        {_clamp_len(city)} AS city,
        TIMESTAMP '2015-01-01' + to_seconds((hash(id, $seed, {g + 12}) % 315360000)::BIGINT)
            AS created_at,
        CASE WHEN hash(id, $seed, {g + 13}) % 10 = 0 THEN NULL
             ELSE (hash(id, $seed, {g + 14}) % 10000000)::DOUBLE / 100 END AS balance,
        hash(id, $seed, {g + 15}) % 3 <> 0 AS active,
        TIMESTAMP '2024-01-01' + to_seconds((hash(id, $seed, {g + 16}) % 31536000)::BIGINT)
            AS last_seen_at,
        'note ' || (hash(id, $seed, {g + 17}) % 1000)::VARCHAR AS notes,
        (hash(id, $seed, {g + 18}) % 500)::INTEGER AS login_count
    """


# Per-row selector in [0, 10000): which rows the current state changes.
_SEL = f"(hash({KEY}, $seed, 9999) % 10000)"
_DELETED = f"{_SEL} < 50"  # 0.5%
_CHANGED = f"{_SEL} >= 50 AND {_SEL} < 150"  # 1%
_REJECTED = f"{_SEL} >= 150 AND {_SEL} < 160"  # 0.1%, unchanged otherwise
_UNMAPPED_ONLY = f"{_SEL} >= 160 AND {_SEL} < 360"  # 2%, not a change for a sync
# Which mapped column a changed row changes.
_WHICH = f"(hash({KEY}, $seed, 7777) % 8)"


def _flip_first(col: str) -> str:
    return f"CASE WHEN left({col}, 1) = 'z' THEN 'y' ELSE 'z' END || substr({col}, 2)"


def _changed_columns() -> str:
    """Column list of ``users``: one mapped column changed where _CHANGED holds."""

    def change(idx: int, col: str, new: str) -> str:
        return f"CASE WHEN {_CHANGED} AND {_WHICH} = {idx} THEN {new} ELSE {col} END AS {col}"

    def touch(col: str, new: str) -> str:
        return f"CASE WHEN {_UNMAPPED_ONLY} THEN {new} ELSE {col} END AS {col}"

    return ",\n".join(
        [
            KEY,
            change(0, "age", "age + 1"),
            change(1, "score", "score + 1"),
            change(2, "email", _flip_first("email")),
            change(3, "name", _flip_first("name")),
            change(4, "city", _flip_first("city")),
            change(5, "created_at", "created_at + INTERVAL 1 SECOND"),
            change(6, "balance", "CASE WHEN balance IS NULL THEN 0.0 ELSE NULL END"),
            change(7, "active", "NOT active"),
            touch("last_seen_at", "last_seen_at + INTERVAL 1 DAY"),
            "notes",
            touch("login_count", "login_count + 1"),
        ]
    )


def dataset_paths(n: int, seed: int) -> tuple[Path, Path]:
    """Paths of the data file and its metadata for (n, seed)."""
    stem = f"duckdb_n{n}_s{seed}_g{GENERATOR_VERSION}"
    return WORK_DIR / f"{stem}.duckdb", WORK_DIR / f"{stem}.json"


def load_dataset(n: int, seed: int) -> Dataset | None:
    """The cached dataset for (n, seed), or None if it was never completed."""
    db_path, meta_path = dataset_paths(n, seed)
    if not (db_path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    return Dataset(n=n, seed=seed, db_path=db_path, meta=meta)


def generate(n: int, seed: int, *, force: bool = False) -> Dataset:
    """Build (or reuse) the data file for N rows; returns it with its expected diff."""
    import duckdb

    cached = None if force else load_dataset(n, seed)
    if cached is not None:
        return cached
    db_path, meta_path = dataset_paths(n, seed)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    tmp_path = db_path.with_suffix(".duckdb.tmp")
    for stale in (tmp_path, Path(str(tmp_path) + ".wal"), meta_path, db_path):
        stale.unlink(missing_ok=True)

    started = time.perf_counter()
    con = duckdb.connect(str(tmp_path))
    try:
        params = {"seed": seed, "n": n, "added": max(1, n // 200)}
        con.execute(
            f"CREATE TABLE {PREV_TABLE} AS SELECT {_row_columns(0)} "
            "FROM range(1, $n + 1) AS r(id) ORDER BY id",
            {k: params[k] for k in ("seed", "n")},
        )
        con.execute(
            f"CREATE TABLE {MODEL_TABLE} AS "
            f"SELECT {_changed_columns()} FROM {PREV_TABLE} WHERE NOT ({_DELETED}) "
            f"UNION ALL SELECT {_row_columns(1)} "
            "FROM range($n + 1, $n + $added + 1) AS r(id)",
            params,
        )
        con.execute(
            f"CREATE TABLE bench_rejected_keys AS SELECT {KEY} FROM {PREV_TABLE} "
            f"WHERE {_REJECTED} ORDER BY {KEY}",
            {"seed": seed},
        )
        counts = con.execute(
            f"SELECT count(*) FILTER (WHERE {_DELETED}), count(*) FILTER (WHERE {_CHANGED}), "
            f"count(*) FILTER (WHERE {_REJECTED}), count(*) FILTER (WHERE {_UNMAPPED_ONLY}) "
            f"FROM {PREV_TABLE}",
            {"seed": seed},
        ).fetchone()
        assert counts is not None
        removed, changed, retried, unmapped_only = (int(c) for c in counts)
        rows = con.execute(f"SELECT count(*) FROM {MODEL_TABLE}").fetchone()
        assert rows is not None
        rejected = [
            int(r[0])
            for r in con.execute(f"SELECT {KEY} FROM bench_rejected_keys ORDER BY 1").fetchall()
        ]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp_path, db_path)
    added = max(1, n // 200)
    meta = {
        "n": n,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "duckdb_version": duckdb.__version__,
        "rows_prev": n,
        "rows_current": int(rows[0]),
        "generate_s": round(time.perf_counter() - started, 3),
        "file_mb": round(db_path.stat().st_size / 2**20, 1),
        "unmapped_only_changes": unmapped_only,
        # Retried keys are unchanged rows whose earlier delivery failed: sent as changed.
        "expected": {
            "added": added,
            "changed": changed + retried,
            "removed": removed,
            "retried": retried,
            "total": added + changed + retried + removed,
        },
        "rejected_keys": rejected,
    }
    meta_path.write_text(json.dumps(meta))
    return Dataset(n=n, seed=seed, db_path=db_path, meta=meta)


def generate_entry(n: int, seed: int) -> dict[str, Any]:
    """``generate`` for a child process (keeps the harness's own memory small)."""
    data = generate(n, seed)
    return {"db_path": str(data.db_path), "generate_s": data.meta["generate_s"]}
