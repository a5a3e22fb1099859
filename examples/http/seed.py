"""Create ``warehouse.duckdb`` beside this file with a ``customers`` table whose ``emails``
column is an array (one to three addresses per customer, none for every tenth).

python examples/http/seed.py            # 1,000 customers
python examples/http/seed.py 100000     # or any number
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
FIRST = [
    ("Ada", "Lovelace", "London", "GB"),
    ("Grace", "Hopper", "Arlington", "US"),
    ("Alan", "Turing", "Manchester", "GB"),
    ("Edsger", "Dijkstra", "Nuenen", "NL"),
]


def seed(warehouse: Path, rows: int) -> None:
    """Replace the ``customers`` table of ``warehouse`` with ``rows`` customers."""
    people = ", ".join(f"('{f}', '{la}', '{c}', '{co}')" for f, la, c, co in FIRST)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            f"""
            CREATE OR REPLACE TABLE customers AS
            WITH names(n, first_name, last_name, city, country) AS (
                SELECT row_number() OVER () - 1, * FROM (VALUES {people})
            )
            SELECT
                i AS customer_id,
                names.first_name,
                names.last_name,
                names.city,
                names.country,
                CASE
                    WHEN i % 10 = 0 THEN CAST([] AS VARCHAR[])
                    ELSE list_transform(
                        range(1 + i % 3),
                        lambda k: lower(names.first_name) || i
                        || CASE WHEN k = 0 THEN '' ELSE '+' || k END || '@example.com'
                    )
                END AS emails
            FROM range(1, ? + 1) AS t(i)
            JOIN names ON names.n = i % {len(FIRST)}
            """,
            [rows],
        )


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    seed(HERE / "warehouse.duckdb", count)
    print(f"{HERE / 'warehouse.duckdb'}: customers table with {count:,} rows")
