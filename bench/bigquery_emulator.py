"""A model of N rows on the BigQuery emulator: time, jobs, bytes and the run's peak RSS.

``python -m bench.bigquery_emulator --rows 200000`` starts local-bigquery (see
tests/bigquery_emulator.py), fills a users table in SQL, and runs ``lightning-sync plan`` and
then ``lightning-sync run`` as child processes three times (first run: every row added; a
delta run after changing 1% of the rows; a run with nothing changed), printing for each the
wall time, the jobs it ran, the bytes processed and billed as the emulator reports them (it
reports 0), and the child's peak RSS. The warehouse work runs in the emulator's DuckDB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

from bench.snowflake_emulator import _peak_rss_mb, emulator_project
from tests import bigquery_emulator

PROJECT = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    python = bigquery_emulator.emulator_python()
    if python is None:
        sys.exit(bigquery_emulator.HOW_TO_ENABLE)
    from google.cloud import bigquery

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        server = bigquery_emulator.LocalBigQuery(python, root)
        endpoint = server.start()
        try:
            client = bigquery_emulator.client(endpoint, PROJECT)
            dataset = bigquery.Dataset(f"{PROJECT}.lightning")
            dataset.location = "US"
            client.create_dataset(dataset)
            client.query(
                "CREATE TABLE lightning.users AS SELECT i AS id, "
                "CONCAT('user', CAST(i AS STRING), '@example.com') AS email, "
                "CONCAT('Name ', CAST(i AS STRING)) AS name, MOD(i, 7) AS plan "
                f"FROM UNNEST(GENERATE_ARRAY(1, {args.rows})) AS i"
            ).result()
            source = {"type": "bigquery", "project": PROJECT, "location": "US"}
            source |= {"dataset": "lightning", "api_endpoint": endpoint, "anonymous": True}
            project = emulator_project(source, "select * from users")
            (root / "lightning.yml").write_text(yaml.safe_dump(project), encoding="utf-8")
            seconds, peak, result = _peak_rss_mb(
                [sys.executable, "-m", "engine.cli", "plan", "s", "--json"], root
            )
            print(
                f"{args.rows} rows, plan: {seconds:.1f} s, peak RSS {peak:.0f} MB, "
                f"cost {result['cost']}"
            )
            command = [sys.executable, "-m", "engine.cli", "run", "s", "--json"]
            for label in ("first run", "delta run (1% changed)", "nothing changed"):
                if label.startswith("delta"):
                    client.query(
                        "UPDATE lightning.users SET name = 'changed' WHERE MOD(id, 100) = 0"
                    ).result()
                seconds, peak, result = _peak_rss_mb(command, root)
                counts = result["counts"]["succeeded"]
                print(
                    f"{args.rows} rows, {label}: {seconds:.1f} s, cost {result['cost']}, "
                    f"peak RSS {peak:.0f} MB, sent {counts}, timings {result['timings']}"
                )
            client.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
