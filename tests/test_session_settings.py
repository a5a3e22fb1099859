"""The machine's environment never changes what a row renders as: the same sync, run as a real
process under two time zones, two sets of PG* variables and two locales, plans no change the
second time, and sends the same payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Workspace

pytestmark = pytest.mark.each_warehouse

# What libpq and the C library read from the environment (PGOPTIONS sets any server setting).
WEST = {
    "TZ": "America/Los_Angeles",
    "PGTZ": "America/Los_Angeles",
    "PGDATESTYLE": "SQL, DMY",
    "PGOPTIONS": "-c IntervalStyle=sql_standard -c extra_float_digits=-3 "
    "-c timezone_abbreviations=India -c bytea_output=escape",
    "PGCLIENTENCODING": "LATIN1",
    "LC_ALL": "C",
    "LANG": "C",
}
EAST = {
    "TZ": "Asia/Kolkata",
    "PGTZ": "Asia/Kolkata",
    "PGDATESTYLE": "Postgres, MDY",
    "PGOPTIONS": "-c IntervalStyle=iso_8601 -c extra_float_digits=0 "
    "-c standard_conforming_strings=off",
    "PGCLIENTENCODING": "UTF8",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
}
ROWS = [
    # at_tz is 02:30 UTC: the 9th in Los Angeles, the 10th in Kolkata.
    (1, "2024-03-10 02:30:00+00", "2024-03-10 01:02:03.5", "2024-02-29", "23:59:59", b"\\\x00|"),
    (2, "2024-11-03 09:15:30.123456+00", "1999-12-31 23:59:59", "2000-01-01", "00:00:01", b"a|b"),
]


def _has_intervals(kind: str) -> bool:
    """Snowflake has no INTERVAL column type (intervals are only constants in date
    arithmetic: https://docs.snowflake.com/sql-reference/data-types-datetime)."""
    return kind != "snowflake"


def _model_sql(kind: str) -> str:
    # The model's own SQL depends on the session too (a timestamptz as text or as a date, an
    # abbreviation in a literal): pinned, it is the same from any machine.
    ist = ", cast('2024-03-10 12:00 IST' as timestamptz) as ist" if kind == "postgres" else ""
    span = "span, cast(span as varchar) as span_text, " if _has_intervals(kind) else ""
    span_key = "|| '/' || cast(span as varchar) " if _has_intervals(kind) else ""
    return (
        f"select at_tz, at_ts, day, t, raw, label, amount, {span}"
        "cast(at_tz as date) as local_day, "
        "cast(amount as varchar) as amount_text, "
        f"cast(at_tz as varchar) || '/' || cast(day as varchar) {span_key}"
        f"|| '/' || cast(amount as varchar) as text_key{ist} from events"
    )


def _project(ws: Workspace) -> None:
    mapped = ["at_tz", "at_ts", "day", "t", "local_day", "amount", "amount_text"]
    mapped += ["label"] + (["ist"] if ws.kind == "postgres" else [])
    mapped += ["span_text"] if _has_intervals(ws.kind) else []
    sql = _model_sql(ws.kind)
    key_parts = ["at_tz", "at_ts", "day", "t", "raw"]
    key_parts += ["span"] if _has_intervals(ws.kind) else []
    models = {
        "parts": {"source": "wh", "primary_key": key_parts, "sql": sql},
        "text": {"source": "wh", "primary_key": "text_key", "sql": sql},
    }
    mappings = [{"from": c, "to": c} for c in mapped]
    syncs = {
        name: {"model": model, "destination": "dest", "mode": "mirror", "mappings": mappings}
        for name, model in (("s_parts", "parts"), ("s_text", "text"), ("s_fresh", "parts"))
    }
    ws.write_project(
        {
            "sources": {"wh": ws.source()},
            "models": models,
            "destinations": {"dest": {"type": "file", "path": "out"}},
            "syncs": syncs,
        }
    )


def _events(ws: Workspace) -> None:
    span = (" span INTERVAL,", " INTERVAL '1 day 02:03:04.5',")
    span = span if _has_intervals(ws.kind) else ("", "")
    ws.sql(
        "CREATE TABLE events (id INTEGER, at_tz TIMESTAMPTZ, at_ts TIMESTAMP, day DATE, t TIME,"
        f"{span[0]} raw BLOB, label VARCHAR, amount DOUBLE)"
    )
    for i, at_tz, at, day, t, raw in ROWS:
        ws.insert_many(
            "INSERT INTO events VALUES (?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMP), "
            f"CAST(? AS DATE), CAST(? AS TIME),{span[1]} ?, ?, 1.0 / 3)",
            [(i, at_tz, at, day, t, raw, f"caf\u00e9 {i}")],
        )


def _sent(ws: Workspace, sync: str) -> list[dict[str, Any]]:
    """What the sync's first run sent."""
    run_dir = sorted((ws.root / "out" / sync).iterdir())[0]
    lines = (run_dir / "added.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted((json.loads(line) for line in lines), key=lambda r: r["fields"]["label"])


def test_another_machine_environment_plans_no_change(ws: Workspace) -> None:
    _events(ws)
    _project(ws)
    for sync in ("s_parts", "s_text"):
        first = ws.cli_process("run", sync, env=WEST)
        assert first.exit_code == 0, first.stderr
        assert len(_sent(ws, sync)) == len(ROWS)
    for sync in ("s_parts", "s_text"):
        plan = ws.cli_process("plan", sync, "--json", env=EAST)
        assert plan.exit_code == 0, plan.stderr
        assert plan.json()["counts"] == {"added": 0, "changed": 0, "removed": 0}, sync
        again = ws.cli_process("run", sync, env=EAST)
        assert again.exit_code == 0, again.stderr
        assert [r["status"] for r in ws.runs(sync)] == ["succeeded", "succeeded"]
        assert ws.runs(sync)[-1]["num_planned_add"] == 0
        assert ws.runs(sync)[-1]["num_planned_remove"] == 0
    fresh = ws.cli_process("run", "s_fresh", env=EAST)
    assert fresh.exit_code == 0, fresh.stderr
    # What is sent is the same too: keys and fields, timestamps in UTC.
    assert _sent(ws, "s_fresh") == _sent(ws, "s_parts")
    row = _sent(ws, "s_parts")[0]["fields"]
    assert row["at_tz"] == "2024-03-10T02:30:00+00:00" and row["local_day"] == "2024-03-10"
