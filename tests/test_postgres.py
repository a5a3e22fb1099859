"""What only PostgreSQL has: its connection and privilege errors, and its own types.

The engine-wide behaviour (modes, retries, sync logs, kills, bad input) runs on PostgreSQL
too: the tests marked ``each_warehouse`` elsewhere.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dialects import make_dialect
from tests.conftest import CliResult, PostgresWorkspace, Workspace


@pytest.fixture
def ws(pg_ws: PostgresWorkspace) -> Workspace:
    return pg_ws


def flat(result: CliResult) -> str:
    return " ".join((result.stderr + result.stdout).split())


def with_dsn(ws: PostgresWorkspace, dsn: str) -> None:
    config = ws.project().model_dump(by_alias=True, exclude_none=True)
    config["sources"]["wh"] = {"type": "postgres", "dsn": dsn}
    ws.write_project(config)


def engine_schemas(ws: PostgresWorkspace) -> list[str]:
    rows = ws.query(
        "SELECT schema_name FROM information_schema.schemata "
        "WHERE schema_name LIKE 'hightouch_%' ORDER BY 1"
    )
    return [r[0] for r in rows]


@pytest.fixture
def reader(pg_ws: PostgresWorkspace) -> Iterator[str]:
    """A login role that may read ``users`` and nothing more (dropped afterwards)."""
    role = f"lightning_reader_{os.getpid()}"
    pg_ws.sql(f"CREATE ROLE {role} LOGIN")
    try:
        yield role
    finally:
        database = conninfo_to_dict(pg_ws.dsn)["dbname"]
        with psycopg.connect(pg_ws.dsn, autocommit=True) as con:
            con.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            con.execute(f"DROP OWNED BY {role}")
            con.execute(f'REVOKE ALL ON DATABASE "{database}" FROM {role}')
            con.execute(f"DROP ROLE {role}")


def test_unreachable_server_is_named_with_the_fix(ws: PostgresWorkspace) -> None:
    ws.users([(1, "a@x", "A")])
    ws.simple_project()
    with socket_closed() as port:
        with_dsn(ws, make_conninfo(ws.dsn, host="127.0.0.1", port=str(port)))
        result = ws.cli("run", "s")
    assert result.exit_code == 1
    message = flat(result)
    assert "Cannot connect to PostgreSQL database" in message and f":{port}" in message
    assert "Connection refused" in message and "Check host, port, database, user" in message
    assert "Traceback" not in message
    assert engine_schemas(ws) == [] and not (ws.root / "out").exists()


def test_unknown_role_is_a_connection_error(ws: PostgresWorkspace) -> None:
    ws.users([(1, "a@x", "A")])
    ws.simple_project()
    with_dsn(ws, make_conninfo(ws.dsn, user="no_such_role"))
    result = ws.cli("run", "s")
    assert result.exit_code == 1
    assert 'role "no_such_role" does not exist' in flat(result)
    assert engine_schemas(ws) == []


def test_missing_privileges_print_grants_that_work(ws: PostgresWorkspace, reader: str) -> None:
    ws.users([(1, "a@x", "A"), (2, "b@x", "B")])
    database = conninfo_to_dict(ws.dsn)["dbname"]
    ws.sql(f"GRANT SELECT ON users TO {reader}")
    ws.sql(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC')
    ws.simple_project()
    with_dsn(ws, make_conninfo(ws.dsn, user=reader))
    refused = ws.cli("run", "s")
    assert refused.exit_code == 1
    message = refused.stderr + refused.stdout
    assert "cannot create or write the schemas hightouch_planner and hightouch_audit" in flat(
        refused
    )
    assert engine_schemas(ws) == [] and not (ws.root / "out").exists()
    grants = [line for line in message.splitlines() if line.startswith(("CREATE ", "GRANT "))]
    assert any(line.startswith("GRANT USAGE, CREATE ON SCHEMA hightouch_audit") for line in grants)
    for statement in grants:  # run as the administrator, as the message says
        ws.sql(statement)
    accepted = ws.cli("run", "s", "--json")
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.json()["counts"]["succeeded"]["added"] == 2


def test_postgres_types_are_sent_and_stable_across_client_settings(
    ws: PostgresWorkspace,
) -> None:
    ws.sql(
        "CREATE TABLE users ("
        " id BIGINT, seen TIMESTAMPTZ, day DATE, price NUMERIC(12, 3), ratio DOUBLE PRECISION,"
        " ref UUID, tags TEXT[], meta JSONB, ok BOOLEAN, label VARCHAR(20), note TEXT)"
    )
    ws.sql(
        "INSERT INTO users VALUES "
        "(1, '2024-03-04 05:06:07.5+02', '2024-03-04', 12.340, 0.1,"
        " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ARRAY['x', 'y'], '{\"k\": [1, null]}', TRUE,"
        " 'short', ''),"
        "(2, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    columns = ("seen", "day", "price", "ratio", "ref", "tags", "meta", "ok", "label", "note")
    ws.simple_project(sync={"mappings": [{"from": c, "to": c} for c in columns]})
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    run_dir = ws.root / "out" / "s" / str(first.json()["sync_run_id"])
    sent = {
        line["row_id"]: line["fields"]
        for line in map(json.loads, (run_dir / "added.jsonl").read_text().splitlines())
    }
    assert sent["1"] == {
        "seen": "2024-03-04T03:06:07.500000+00:00",
        "day": "2024-03-04",
        "price": 12.34,
        "ratio": 0.1,
        "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "tags": ["x", "y"],
        "meta": {"k": [1, None]},
        "ok": True,
        "label": "short",
        "note": "",
    }
    assert sent["2"] == dict.fromkeys(columns) | {"ratio": None}
    # The hash reads the values' text, which the session pins: another client time zone,
    # date style or float precision changes nothing.
    env: dict[str, Any] = {
        "PGTZ": "America/New_York",
        "PGDATESTYLE": "German, DMY",
        "PGOPTIONS": "-c extra_float_digits=-3",
    }
    again = ws.cli("run", "s", "--json", env=env)
    assert again.exit_code == 0, again.stderr
    assert again.json()["counts"]["planned"] == {"added": 0, "changed": 0, "removed": 0}
    ws.sql("UPDATE users SET meta = '{\"k\": [1, 2]}' WHERE id = 1")
    changed = ws.cli("run", "s", "--json", env=env)
    assert changed.json()["counts"]["planned"] == {"added": 0, "changed": 1, "removed": 0}


class socket_closed:
    """A local port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        return self.port

    def __exit__(self, *exc: object) -> None:
        return None


def test_percent_signs_in_a_model_are_sql_not_placeholders(ws: PostgresWorkspace) -> None:
    # The engine binds parameters in the statements that embed the model; psycopg must not
    # read the model's own % as one.
    ws.users([(1, "a@x.com", "100%"), (2, "b@y.org", "B"), (3, "%(name)s@x.com", "C")])
    ws.simple_project(
        model={"sql": "select * from users where email like '%@x.com' or name = '100%'"},
        sync={"mode": "mirror", "delete_behavior": "delete"},
    )
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["counts"]["succeeded"]["added"] == 2
    ws.sql("UPDATE users SET name = '50%' WHERE id = 3")
    second = ws.cli("run", "s", "--json")
    assert second.exit_code == 0, second.stderr
    assert second.json()["counts"]["planned"] == {"added": 0, "changed": 1, "removed": 0}
    assert ws.query(
        "SELECT row_id, fields FROM hightouch_audit.sync_changelog "
        "WHERE sync_run_id = ? AND op_type = 'changed'",
        [second.json()["sync_run_id"]],
    ) == [("3", '{"id": 3, "name": "50%", "email": "%(name)s@x.com"}')]


def test_two_runs_taking_the_lock_at_once_cannot_both_win(ws: PostgresWorkspace) -> None:
    # Another run is between reading "no lock" and committing its own lock row: the engine
    # must wait for it and then see that row, not take the lock too.
    ws.users([(1, "a@x", "A")])
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    owner = f"{socket.gethostname()}:{os.getppid()}"  # a live process on this host
    with psycopg.connect(ws.dsn, autocommit=True) as other:
        other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")  # as the engine's own
        other.execute("LOCK TABLE hightouch_planner.lightning_locks IN EXCLUSIVE MODE")
        other.execute("SELECT * FROM hightouch_planner.lightning_locks WHERE sync_id = 's'")
        other.execute(
            "INSERT INTO hightouch_planner.lightning_locks VALUES ('s', 1, %s, %s, %s)",
            [owner, _utcnow(), _utcnow()],
        )
        results: list[CliResult] = []
        second = threading.Thread(target=lambda: results.append(ws.cli_process("run", "s")))
        second.start()
        time.sleep(2)  # the engine is now waiting for the table lock
        assert not results, "the run did not wait for the other run's lock transaction"
        other.execute("COMMIT")
    second.join(60)
    assert results and results[0].exit_code == 4, results
    assert "Sync 's' is already running" in " ".join(results[0].stderr.split())
    assert ws.query("SELECT owner FROM hightouch_planner.lightning_locks") == [(owner,)]


def _utcnow() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def test_describing_a_model_is_one_round_trip_and_a_failure_leaves_the_session_usable(
    ws: PostgresWorkspace,
) -> None:
    """A model's columns come from one read-only round trip; when the model's SQL fails, the
    transaction it opened is rolled back, so the connection still reads and writes."""
    ws.users([(1, "a@x.com", "A")])
    dialect = make_dialect("postgres", {"dsn": ws.dsn}, ws.root)
    dialect.connect()
    try:
        before = dialect.statements_issued
        assert dialect.query_columns("SELECT id, email FROM users") == [
            ("id", "int8"),
            ("email", "text"),
        ]
        assert dialect.statements_issued == (before or 0) + 1
        with pytest.raises(psycopg.errors.UndefinedColumn):
            dialect.query_columns("SELECT nosuch FROM users")
        assert dialect.query_columns("SELECT name FROM users") == [("name", "text")]
        dialect.execute("CREATE TABLE written_after (x int)")  # not left read-only
        dialect.execute("INSERT INTO written_after VALUES (1)")
        assert dialect.fetchall("SELECT count(*) FROM written_after") == [(1,)]
        with dialect.transaction():  # inside a transaction: described, and still writable
            assert dialect.query_columns("SELECT x FROM written_after") == [("x", "int4")]
            dialect.execute("INSERT INTO written_after VALUES (2)")
        assert dialect.fetchall("SELECT count(*) FROM written_after") == [(2,)]
    finally:
        dialect.close()


def test_a_plan_is_analyzed_in_the_request_that_makes_it(ws: PostgresWorkspace) -> None:
    """The planner's statistics of a run's plan are there for the diff that joins it (without
    them PostgreSQL sorted both plans onto disk for merge joins), at no round trip of its
    own."""
    ws.users([(i, f"u{i}@x", f"N{i}") for i in range(1, 301)])
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    plans = ws.query(
        "SELECT c.relname, c.reltuples, s.last_analyze IS NOT NULL FROM pg_class AS c "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "JOIN pg_stat_user_tables AS s ON s.relid = c.oid "
        "WHERE n.nspname = 'hightouch_planner' AND c.relname LIKE '%\\_plan'"
    )
    assert [(tuples, analyzed) for _, tuples, analyzed in plans] == [(300, True)], plans
    stats = ws.query(
        "SELECT attname, n_distinct FROM pg_stats WHERE schemaname = 'hightouch_planner' "
        f"AND tablename = '{plans[0][0]}' AND attname = 'row_id'"
    )
    assert stats == [("row_id", -1.0)]  # every key distinct: what the join estimates need
