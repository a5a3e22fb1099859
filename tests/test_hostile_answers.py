"""Whatever a destination answers is stored bounded and readable, and never keeps a sync
from committing: huge, binary, NUL-laden and invalid UTF-8 bodies, on every warehouse."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.delivery import ERROR_LIMIT, REASON_LIMIT
from engine.rejection_writer import OutcomeWriteError, RejectionWriter
from engine.storable import storable_text
from engine.warehouse import dialect_for
from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink, StreamedBody

HUGE = 50 * 1024 * 1024
#: What a client that stopped reading can have been sent: kernel socket buffers on both
#: ends of a loopback connection plus aiohttp's read-ahead (a few MiB), far below HUGE.
MOST_BYTES_SENT_UNREAD = 16 * 1024 * 1024
UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

HOSTILE_BODIES: dict[str, tuple[int, Any]] = {
    "1": (400, StreamedBody(HUGE)),
    "2": (422, bytes(range(256)) * 16),
    "3": (400, "bad\x00value\x00" * 10),
    "4": (409, b"\xff\xfe not \xc3\x28 utf-8 \xed\xa0\x80 (a surrogate)"),
    "5": (400, "\x1b[31mred\x1b[0m\r\nsecond line\twith a tab\x07"),
    "6": (500, StreamedBody(HUGE)),
}


def assert_storable(reason: str) -> None:
    assert len(reason) <= REASON_LIMIT
    assert not UNSTORABLE.search(reason), reason
    reason.encode("utf-8")  # no lone surrogate


def http_project(ws: Workspace, sink: HttpSink, n: int, concurrency: int = 4) -> None:
    ws.users([(i, f"u{i}@x", f"n{i}") for i in range(1, n + 1)])
    request = {"method": "PUT", "path": "/users/{row_id}"}
    ws.simple_project(
        destination={"type": "http", "base_url": sink.url, "max_attempts": 2},
        sync={"http": {"added": request, "changed": request, "concurrency": concurrency}},
    )


def run(ws: Workspace, exit_code: int = 0) -> dict[str, Any]:
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == exit_code, result.stdout + result.stderr
    report: dict[str, Any] = result.json()
    assert report["committed"] is True
    return report


def last_run_reasons(ws: Workspace) -> dict[str, tuple[str, str | None]]:
    rows = ws.changelog()
    last = max(r[0] for r in rows)
    return {r[2]: (r[3], r[4]) for r in rows if r[0] == last}


@pytest.mark.each_warehouse
def test_hostile_error_bodies_are_stored_bounded_and_runs_keep_committing(ws: Workspace) -> None:
    with HttpSink(fail_rows=HOSTILE_BODIES) as sink:
        http_project(ws, sink, 10)
        report = run(ws)
        assert report["status"] == "succeeded"
        assert report["counts"]["failed"]["added"] == len(HOSTILE_BODIES)
        reasons = last_run_reasons(ws)
        for row_id, (status, _) in HOSTILE_BODIES.items():
            state, reason = reasons[row_id]
            assert state == "failed" and reason is not None
            assert reason.startswith(f"HTTP {status} "), reason
            assert_storable(reason)
        assert "bad\\x00value\\x00" in reasons["3"][1]  # type: ignore[operator]
        assert "\\xff\\xfe not \\xc3( utf-8" in reasons["4"][1]  # type: ignore[operator]
        assert "\\x1b[31mred" in reasons["5"][1]  # type: ignore[operator]
        # The 50 MB bodies were never read whole: the client stopped and hung up.
        streamed = sink.streamed
        assert len(streamed) == 3  # row 1 once, row 6 twice (retried)
        assert max(streamed) < MOST_BYTES_SENT_UNREAD, streamed

        report = run(ws)  # the same answers again: the run still commits
        assert report["status"] == "succeeded"
        assert report["counts"]["planned"]["added"] == len(HOSTILE_BODIES)
        sink.clear_failures()
        report = run(ws)
        assert report["counts"]["succeeded"]["added"] == len(HOSTILE_BODIES)
        assert len(sink.records["users"]) == 10
    assert [r["status"] for r in ws.runs()] == ["succeeded"] * 3


@pytest.mark.each_warehouse
def test_a_fatal_answer_with_hostile_bytes_is_stored_in_sync_runs(ws: Workspace) -> None:
    with HttpSink(fail_rows={"1": (401, b"denied\x00\xff" + b"y" * 100_000)}) as sink:
        http_project(ws, sink, 3, concurrency=1)
        report = run(ws, exit_code=1)
        assert report["status"] == "failed"
        error = ws.runs()[-1]["error"]
        assert "HTTP 401" in error and "denied\\x00\\xff" in error
        assert len(error) <= ERROR_LIMIT and not UNSTORABLE.search(error)
        for _, reason in last_run_reasons(ws).values():
            if reason is not None:
                assert_storable(reason)
        sink.clear_failures()
        report = run(ws)
        assert report["status"] == "succeeded"
        assert len(sink.records["users"]) == 3


@pytest.mark.each_warehouse
def test_contentstack_hostile_error_bodies_are_stored_bounded(ws: Workspace) -> None:
    ws.sql("CREATE OR REPLACE TABLE users (id BIGINT, ext VARCHAR, plan VARCHAR)")
    ws.insert_many("INSERT INTO users VALUES (?, ?, ?)", [[i, f"e{i}", "pro"] for i in range(8)])
    answers = {
        "e1": (400, StreamedBody(HUGE)),
        "e2": (400, b'{"errors":[{"code":"BADREQ-001","message":"nul\\u0000 here"}]}'),
        "e3": (422, b"\x00\x01\x02\xff\xfe binary"),
    }
    with HttpSink(fail_rows=answers) as sink:
        ws.write_project(
            {
                "sources": {"wh": ws.source()},
                "models": {
                    "users": {"source": "wh", "primary_key": "id", "sql": "select * from users"}
                },
                "destinations": {
                    "cs": {"type": "contentstack", "access_token": "t", "api_base_url": sink.url}
                },
                "syncs": {
                    "s": {
                        "model": "users",
                        "destination": "cs",
                        "mode": "upsert",
                        "mappings": [{"from": "plan", "to": "plan"}],
                        "contentstack": {
                            "type": "users",
                            "match": {"from": "ext", "to": "external_id"},
                        },
                    }
                },
            }
        )
        run(ws)
        reasons = {rid: reason for rid, (state, reason) in last_run_reasons(ws).items()}
        failed = {rid: reason for rid, reason in reasons.items() if reason is not None}
        assert set(failed) == {"1", "2", "3"}
        for reason in failed.values():
            assert_storable(reason)
        assert "BADREQ-001: nul\\x00 here" in failed["2"]
        assert "\\x00\\x01\\x02\\xff\\xfe binary" in failed["3"]
        assert max(sink.streamed) < MOST_BYTES_SENT_UNREAD
        run(ws)  # and again
    assert [r["status"] for r in ws.runs()] == ["succeeded", "succeeded"]


def test_storable_text() -> None:
    assert storable_text("plain\ttext\nnext line", 100) == "plain\ttext\nnext line"
    assert storable_text("a\x00b\r\n\x1b[0m\x7f\x85", 100) == "a\\x00b\\r\n\\x1b[0m\\x7f\\x85"
    assert storable_text(b"ok \xff\xfe \xc3\xa9", 100) == "ok \\xff\\xfe \u00e9"
    assert storable_text("lone \ud800 surrogate", 100) == "lone \\ud800 surrogate"
    assert storable_text("x" * 50, 10) == "xxxxxxx..."
    assert len(storable_text("\x00" * 10_000_000, 2000)) == 2000


@pytest.mark.each_warehouse
def test_a_row_whose_outcome_cannot_be_written_is_named(ws: Workspace) -> None:
    ws.simple_project()
    ws.sql("CREATE SCHEMA IF NOT EXISTS lightning_test")
    # A table that refuses chosen rows. Real Snowflake has no CHECK constraints (it refuses a
    # row for NOT NULL or length); on its emulator, DuckDB enforces them, which is all this
    # test needs of the warehouse: that it refuses some rows of a write.
    poison, refused_reason = "poison", "HTTP 400: refused words"
    if ws.kind == "bigquery":
        # BigQuery has no CHECK constraints: REQUIRED (NOT NULL) columns refuse a row without
        # a key (a load job fails whole, then the row alone) and one without a reason (stored
        # once the plain reason stands in for it).
        poison, refused_reason = None, None
        ws.sql(
            "CREATE TABLE lightning_test.rejections (row_id VARCHAR NOT NULL, op_type VARCHAR, "
            "status VARCHAR, failure_reason VARCHAR NOT NULL, match_value VARCHAR)"
        )
    elif ws.kind == "spark":
        # Spark's tables take no CHECK constraint and do not enforce NOT NULL; they do refuse a
        # value longer than its VARCHAR(n): a long key, and a long reason (the plain reason
        # that stands in for it is shorter).
        # (Spark SQL as written: the workspace's DuckDB-to-Spark translation makes a VARCHAR(n)
        # a STRING.)
        poison, refused_reason = "poisoned-key", "HTTP 400: " + "refused words " * 15
        ws.dialect().execute(
            "CREATE TABLE lightning_test.rejections (row_id VARCHAR(8), op_type STRING, "
            "status STRING, failure_reason VARCHAR(150), match_value STRING)"
        )
    else:
        ws.sql(
            "CREATE TABLE lightning_test.rejections (row_id VARCHAR CHECK (row_id <> 'poison'), "
            "op_type VARCHAR, status VARCHAR, "
            "failure_reason VARCHAR CHECK (failure_reason NOT LIKE '%refused words%'), "
            "match_value VARCHAR)"
        )
    dialect = dialect_for(ws.project(), "wh")
    dialect.connect()
    try:
        from sqlglot import exp

        table = exp.to_table("lightning_test.rejections")
        writer = RejectionWriter(dialect, table, "http destination 'api'")
        writer.write(
            [
                ("1", "added", "failed", "HTTP 400: fine", None),
                ("2", "added", "failed", refused_reason, "m2"),
            ]
        )
        with pytest.raises(OutcomeWriteError) as raised:
            writer.write([(poison, "changed", "failed", "HTTP 400: x", None)])
    finally:
        dialect.close()
    message = str(raised.value)
    assert f"row {poison!r} (changed)" in message and "http destination 'api'" in message
    rows = ws.query("SELECT row_id, failure_reason, match_value FROM lightning_test.rejections")
    assert sorted(row[0] for row in rows) == ["1", "2"]  # the poisoned row stopped alone
    assert ("1", "HTTP 400: fine", None) in rows
    (second,) = [row for row in rows if row[0] == "2"]
    assert second[1].startswith(
        "failed: the destination's answer for this row could not be stored in the warehouse ("
    )
    assert second[2] == "m2"
