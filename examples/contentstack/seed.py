"""Create ``warehouse.duckdb`` beside this file with a ``users`` table to sync.

python examples/contentstack/seed.py            # 1,000 users
python examples/contentstack/seed.py 100000     # or any number
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent

#: A native Personalize audience (24-character ObjectId) and one synced from Data &
#: Insights (32 hex characters): the two shapes audience IDs come in.
AUDIENCES = ("65f1c2e3d4b5a69788796a5b", "0123456789abcdef0123456789abcdef")


def seed(warehouse: Path, rows: int) -> None:
    """Replace the ``users`` table of ``warehouse`` with ``rows`` synthetic users."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            f"""
            CREATE OR REPLACE TABLE users AS
            SELECT
                i AS user_id,
                'user' || i || '@example.com' AS email,
                'crm-' || i AS external_id,
                'First' || i AS first_name,
                CASE i % 3 WHEN 0 THEN 'free' WHEN 1 THEN 'pro' ELSE 'enterprise' END AS plan,
                round((i * 37) % 100000 / 100.0, 2) AS lifetime_value,
                CASE WHEN i % 2 = 0 THEN ['{AUDIENCES[0]}']
                     ELSE ['{AUDIENCES[0]}', '{AUDIENCES[1]}'] END AS audience_ids,
                'pu' || lpad(CAST(i AS VARCHAR), 12, '0') AS personalize_uid
            FROM range(1, ? + 1) AS t(i)
            """,
            [rows],
        )


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    seed(HERE / "warehouse.duckdb", count)
    print(f"{HERE / 'warehouse.duckdb'}: users table with {count:,} rows")
