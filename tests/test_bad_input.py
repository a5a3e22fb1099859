"""Bad input (SPEC section 6): a clear error naming the thing and the fix, and no change.

Exit codes (engine/cli.py): 2 an invalid project file or setting, 1 a fatal error, 3 rows
were rejected with ``--fail-on-rejections``, 4 the sync is locked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.destinations.base import Capabilities
from engine.destinations.file import FileDestination
from tests.conftest import CliResult, Workspace
from tests.fakes.http_sink import HttpSink

ROWS = [(1, "a@x", "A"), (2, "b@x", "B"), (3, "c@x", "C")]
HTTP_REQUESTS = {
    "added": {"method": "PUT", "path": "/users/{row_id}"},
    "changed": {"method": "PUT", "path": "/users/{row_id}"},
    "removed": {"method": "DELETE", "path": "/users/{row_id}"},
}


# -- helpers ---------------------------------------------------------------------------------
def flat(text: str) -> str:
    """Output with line wrapping undone (messages are matched as one line)."""
    return " ".join(text.split())


def error_text(result: CliResult) -> str:
    return flat(result.stderr + result.stdout)


def planner_tables(ws: Workspace) -> list[str]:
    return sorted(
        r[0].lower()  # Snowflake stores the engine's names upper case
        for r in ws.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE lower(table_schema) = 'hightouch_planner'"
        )
    )


def commits(ws: Workspace) -> list[tuple[Any, ...]]:
    return ws.query("SELECT * FROM hightouch_planner.lightning_commits ORDER BY sync_run_id")


def out_files(ws: Workspace) -> list[str]:
    out = ws.root / "out"
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")) if out.exists() else []


def state(ws: Workspace) -> dict[str, Any]:
    """Everything a refused run must leave as it was."""
    found: dict[str, Any] = {"files": out_files(ws)}
    tables = ws.query(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema LIKE 'hightouch_%' ORDER BY 1"
    )
    found["tables"] = tables
    for table in ("hightouch_planner.lightning_commits", "hightouch_audit.sync_changelog"):
        if (table,) in tables:
            found[table] = sorted(ws.query(f"SELECT * FROM {table}"), key=repr)
    found["users"] = sorted(ws.query("SELECT * FROM users"), key=repr)
    return found


def refused(ws: Workspace, code: int, *args: str, **kw: Any) -> str:
    """Run the CLI, check the exit code and that nothing changed; return the message."""
    before = state(ws)
    result = ws.cli(*args, **kw)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert state(ws) == before
    return error_text(result)


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink(record_requests=True) as server:
        yield server


def http_project(
    ws: Workspace, sink: HttpSink, sync: dict[str, Any] | None = None, **destination: Any
) -> None:
    ws.simple_project(
        destination={"type": "http", "base_url": sink.url, "max_attempts": 2, **destination},
        sync={"http": {**HTTP_REQUESTS, "concurrency": 4}, **(sync or {})},
    )


def model_as_records(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {
        str(i): {"email": e, "name": n}
        for i, e, n in ws.query("SELECT id, email, name FROM users WHERE id IS NOT NULL")
    }


def by_status(ws: Workspace, run_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rid, _op, row_id, status, _reason in ws.changelog():
        if rid == run_id:
            found.setdefault(status, set()).add(row_id)
    return found


# -- the project file ------------------------------------------------------------------------
def test_yaml_syntax_error(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.write_text("sources:\n  wh: {type: duckdb\nmodels: [\n")
    message = refused(ws, 2, "run", "s")
    assert "lightning.yml" in message and "not valid YAML" in message
    assert "line 3" in message


@pytest.mark.parametrize(
    ("section", "good", "typo", "hint"),
    [
        ("syncs", "model", "mdoel", "Did you mean 'model'?"),
        ("syncs", "mappings", "mapings", "Did you mean 'mappings'?"),
        ("models", "primary_key", "primary_kye", "unknown key 'primary_kye'"),
    ],
)
def test_misspelled_key(ws: Workspace, section: str, good: str, typo: str, hint: str) -> None:
    ws.users(ROWS)
    ws.simple_project()
    config = ws.project().model_dump(by_alias=True, exclude_none=True)
    entry = config[section]["s" if section == "syncs" else "users"]
    entry[typo] = entry.pop(good)
    ws.write_project(config)
    message = refused(ws, 2, "run", "s")
    assert f"{section}." in message and typo in message and hint in message


@pytest.mark.each_warehouse
def test_misspelled_source_setting(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    config = ws.project().model_dump(by_alias=True, exclude_none=True)
    source = config["sources"]["wh"]
    typo, good = {
        "duckdb": ("memory_limt", "memory_limit"),
        "postgres": ("hots", "host"),
        "snowflake": ("warehuose", "warehouse"),
        "spark": ("remtoe", "remote"),
        "bigquery": ("locaton", "location"),
    }[ws.kind]
    source[typo] = "x"
    ws.write_project(config)
    message = refused(ws, 2, "run", "s")
    assert f"sources.wh.{typo}: not a setting of a {ws.kind} source" in message
    assert f"Did you mean {good!r}?" in message


def test_unknown_block_in_a_sync(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"htpp": {"batch_size": 5}})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.htpp" in message and "`file:`" in message


def test_unknown_mode(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "mirorr"})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.mode" in message and "'mirorr'" in message and "'mirror'" in message


@pytest.mark.parametrize(
    ("field", "known"), [("model", "models: users"), ("destination", "destinations: dest")]
)
def test_sync_names_a_missing_object(ws: Workspace, field: str, known: str) -> None:
    ws.users(ROWS)
    ws.simple_project(sync={field: "nope"})
    message = refused(ws, 2, "run", "s")
    assert f"syncs.s.{field}" in message and "'nope'" in message and known in message


def test_unknown_sync_on_the_command_line(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    message = refused(ws, 2, "run", "nope")
    assert "no sync named 'nope'" in message and "syncs: s" in message


def test_unset_environment_variable(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIGHTNING_TEST_TOKEN", raising=False)
    ws.users(ROWS)
    ws.simple_project(
        destination={
            "type": "http",
            "base_url": "http://127.0.0.1:9",
            "headers": {"Authorization": "Bearer ${LIGHTNING_TEST_TOKEN}"},
        },
        sync={"http": HTTP_REQUESTS},
    )
    message = refused(ws, 2, "run", "s")
    assert "destinations.dest.headers.Authorization" in message
    assert "LIGHTNING_TEST_TOKEN is not set" in message and "export LIGHTNING_TEST_TOKEN" in message


@pytest.mark.parametrize("name", ["s; drop table users", "a-b", 'x"y', "naïve", "x" * 64])
def test_hostile_sync_name_is_refused(ws: Workspace, name: str) -> None:
    ws.users(ROWS)
    ws.simple_project()
    config = ws.project().model_dump(by_alias=True, exclude_none=True)
    config["syncs"] = {name: config["syncs"]["s"]}
    ws.write_project(config)
    message = refused(ws, 2, "run", name)
    assert "is not a valid name" in message and "letters, digits and underscores" in message


def test_sync_names_differing_only_in_case_are_refused(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    config = ws.project().model_dump(by_alias=True, exclude_none=True)
    config["syncs"]["S"] = config["syncs"]["s"]
    ws.write_project(config)
    message = refused(ws, 2, "run", "s")
    assert "syncs.S" in message and "only in letter case" in message


# -- the model against the warehouse ---------------------------------------------------------
@pytest.mark.each_warehouse
def test_unknown_column_in_a_mapping(ws: Workspace) -> None:
    ws.users(ROWS)
    mappings = [{"from": "email", "to": "e"}, {"from": "nmae", "to": "n"}]
    ws.simple_project(sync={"mappings": mappings})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.mappings[1].from: 'nmae' is not a column of model 'users'" in message
    assert "Did you mean 'name'?" in message and "columns: id, email, name" in message


@pytest.mark.each_warehouse
def test_primary_key_column_missing(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(model={"primary_key": "user_id"})
    message = refused(ws, 2, "run", "s")
    assert "models.users.primary_key: 'user_id' is not a column of model 'users'" in message
    assert "columns: id, email, name" in message


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DELETE FROM users", "is a DELETE statement, not a SELECT"),
        ("drop table users", "is a DROP statement, not a SELECT"),
        ("insert into users values (9, 'x', 'y')", "is an INSERT statement, not a SELECT"),
        ("select * from users; delete from users", "holds 2 statements"),
        ("select 1 as id; select 2 as id", "holds 2 statements"),
        ("selec * fro users", "is not a SELECT query (it begins with 'selec'"),
        ("select * from users where", "could not be parsed"),
    ],
)
def test_model_that_is_not_one_select(ws: Workspace, sql: str, expected: str) -> None:
    ws.users(ROWS)
    ws.simple_project(model={"sql": sql})
    message = refused(ws, 2, "run", "s")  # the users table is checked untouched too
    assert f"models.users.sql {expected}" in message or expected in message
    assert "models.users.sql" in message and "one SELECT" in message


@pytest.mark.each_warehouse
def test_model_that_fails_in_the_warehouse(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(model={"sql": "select * from no_such_table"})
    message = refused(ws, 2, "run", "s")
    # The warehouse's error names the table (Snowflake folds it to NO_SUCH_TABLE).
    assert "models.users failed in the warehouse" in message
    assert "no_such_table" in message.lower()
    assert "Fix the model's SQL" in message


@pytest.mark.each_warehouse
def test_model_that_fails_on_its_rows(ws: Workspace) -> None:
    # Binds (the columns are known) but fails while the run reads the rows.
    ws.users(ROWS)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    ws.simple_project(model={"sql": "select id, email, cast(name as integer) as name from users"})
    message = refused(ws, 1, "run", "s")
    error = {
        "duckdb": "Conversion Error",
        "postgres": "invalid input syntax for type integer",
        "bigquery": "Could not convert string",  # the emulator's words; BigQuery: "Bad int64"
        # Snowflake's error code and state, then the emulator's (DuckDB's) text.
        "snowflake": "100035 (22007): Conversion Error",
        "spark": "[CAST_INVALID_INPUT]",
    }
    assert f"models.users: {error[ws.kind]}" in message and "A" in message
    assert "Fix the model's SQL" in message and "Traceback" not in message
    assert error[ws.kind] in ws.runs()[-1]["error"] and ws.runs()[-1]["status"] == "failed"
    assert refused(ws, 1, "plan", "s").count(error[ws.kind]) == 1


@pytest.mark.each_warehouse
def test_model_with_duplicate_column_names(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(model={"sql": "select id, email, name, email from users"})
    message = refused(ws, 2, "run", "s")
    assert "models.users returns the column name(s) email more than once" in message
    assert "alias them" in message


# -- the warehouse itself --------------------------------------------------------------------
def test_warehouse_path_under_a_file(ws: Workspace) -> None:
    blocker = ws.root / "not_a_dir"
    blocker.write_text("just a file")
    ws.simple_project()
    config = ws.project().model_dump(by_alias=True, exclude_none=True)
    config["sources"]["wh"]["path"] = "not_a_dir/warehouse.duckdb"
    ws.write_project(config)
    result = ws.cli("run", "s")
    assert result.exit_code == 1, result.stderr
    message = error_text(result)
    assert f"Cannot open DuckDB file {blocker}/warehouse.duckdb" in message
    assert "Check `path` under the source" in message
    assert "Traceback" not in message
    assert blocker.read_text() == "just a file"
    assert not ws.warehouse.exists() and not (ws.root / "out").exists()


def test_warehouse_file_locked_by_another_process(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    before = state(ws)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(ws.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = ws.cli("run", "s")
    finally:
        holder.communicate(input="", timeout=30)
    assert result.exit_code == 1, result.stderr
    message = error_text(result)
    assert f"DuckDB file {ws.warehouse} is in use by another process" in message
    assert f"(process {holder.pid})" in message and "then run again" in message
    assert state(ws) == before


# -- settings checked against the destination ------------------------------------------------
def test_destination_without_the_mode(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every built-in destination supports every mode: narrow the file destination's
    # declared capabilities to exercise the check made at load.
    monkeypatch.setattr(
        FileDestination,
        "capabilities",
        Capabilities(
            modes=frozenset({"insert", "upsert", "mirror"}),
            delete_behaviors=frozenset({"do_nothing", "delete"}),
        ),
    )
    ws.users(ROWS)
    ws.simple_project(sync={"mode": "all"})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.mode: the file destination does not support mode 'all'" in message
    assert "use one of insert, mirror, upsert" in message
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "clear"})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.delete_behavior" in message and "does not support 'clear'" in message
    assert "use one of delete, do_nothing" in message


def test_http_sync_missing_a_request(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project(
        destination={"type": "http", "base_url": "http://127.0.0.1:9"},
        sync={
            "mode": "mirror",
            "delete_behavior": "delete",
            "http": {"added": HTTP_REQUESTS["added"], "changed": HTTP_REQUESTS["changed"]},
        },
    )
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.http.removed: missing" in message and "method" in message


def test_mapping_two_columns_to_one_field(ws: Workspace) -> None:
    ws.users(ROWS)
    mappings = [{"from": "email", "to": "email"}, {"from": "name", "to": "email"}]
    ws.simple_project(sync={"mappings": mappings})
    message = refused(ws, 2, "run", "s")
    assert "syncs.s: mappings[1].to: 'email' is already the target of mappings[0]" in message


def test_file_destination_path_is_not_a_directory(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    (ws.root / "out").write_text("not a directory")
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 1
    body = result.json()
    assert body["status"] == "failed" and body["aborted"] == 3
    assert "cannot write under" in body["error"] and "destinations.dest" in body["error"]
    (ws.root / "out").unlink()
    again = ws.cli("run", "s", "--json")
    assert again.exit_code == 0 and again.json()["counts"]["succeeded"]["added"] == 3


def test_full_resync_with_reset_cdc(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    message = refused(ws, 2, "run", "s", "--full-resync", "--reset-cdc")
    assert "--full-resync and --reset-cdc" in message and "pick one" in message


# -- keys ------------------------------------------------------------------------------------
@pytest.mark.each_warehouse
def test_primary_key_changed_since_the_last_commit(ws: Workspace) -> None:
    ws.users(ROWS)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    ws.simple_project(model={"primary_key": "email"})
    message = refused(ws, 1, "run", "s")
    assert "changed from id to email" in message
    assert "lightning-sync run s --full-resync" in message
    assert "lightning-sync run s --reset-cdc" in message
    assert ws.runs()[-1]["status"] == "failed"
    assert "--full-resync" in ws.runs()[-1]["error"]

    resync = ws.cli("run", "s", "--full-resync", "--json")
    assert resync.exit_code == 0, resync.stderr
    assert resync.json()["counts"]["succeeded"] == {"added": 3, "changed": 0, "removed": 0}
    assert json_commit_key(ws) == '["email"]'

    ws.simple_project(model={"primary_key": "name"})
    assert ws.cli("run", "s").exit_code == 1
    reset = ws.cli("run", "s", "--reset-cdc", "--json")
    assert reset.exit_code == 0, reset.stderr
    assert sum(reset.json()["counts"]["planned"].values()) == 0
    assert not (ws.root / "out" / "s" / str(reset.json()["sync_run_id"])).exists()
    assert json_commit_key(ws) == '["name"]'
    again = ws.cli("plan", "s", "--json")
    assert again.json()["counts"] == {"added": 0, "changed": 0, "removed": 0}


def json_commit_key(ws: Workspace) -> str:
    return str(commits(ws)[-1][5])


@pytest.mark.each_warehouse
def test_duplicate_keys_fail_the_run(ws: Workspace) -> None:
    ws.users([(i, f"{i}@x", "first") for i in range(1, 16)])
    ws.simple_project(sync={"on_duplicate_keys": "fail"})
    assert ws.cli("run", "s").exit_code == 0
    ws.sql("INSERT INTO users SELECT id, email, 'copy' FROM users WHERE id <= 12")
    ws.sql("UPDATE users SET name = 'changed' WHERE id = 15")
    message = refused(ws, 1, "run", "s")
    assert "has 12 primary key value(s) appearing more than once (24 rows)" in message
    assert "'1', '2', '3', '4', '5', '6', '7', '8', '9', '10'." in message
    assert "'11'" not in message and "Nothing was sent" in message
    assert "on_duplicate_keys: reject" in message
    assert ws.runs()[-1]["status"] == "failed"
    ws.sql("DELETE FROM users WHERE name = 'copy'")
    ws.sql("UPDATE users SET name = 'first' WHERE id = 15")
    fixed = ws.cli("run", "s", "--json")
    assert fixed.exit_code == 0, fixed.stderr
    # Nothing of the refused run was sent: the change it held back, undone since, is not
    # looked at again.
    assert fixed.json()["counts"]["planned"] == {"added": 0, "changed": 0, "removed": 0}


@pytest.mark.each_warehouse
def test_duplicate_keys_rejected_then_sent_once_fixed(ws: Workspace) -> None:
    ws.users([*ROWS, (2, "b2@x", "B2"), (4, "d@x", "D")])
    ws.simple_project()
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    body = first.json()
    assert body["keys"] == {"null_key_rows": 0, "duplicate_keys": 1, "duplicate_rows": 2}
    assert body["counts"]["failed"]["added"] == 1
    run_dir = ws.root / "out" / "s" / str(body["sync_run_id"])
    assert sent_ids(run_dir / "added.jsonl") == ["1", "3", "4"]
    assert [r[1:] for r in ws.changelog() if r[2] == "2"] == [
        ("added", "2", "failed", "primary key is not unique")
    ]

    ws.sql("DELETE FROM users WHERE email = 'b2@x'")
    second = ws.cli("run", "s", "--json")
    assert second.json()["counts"]["succeeded"] == {"added": 1, "changed": 0, "removed": 0}
    run_dir = ws.root / "out" / "s" / str(second.json()["sync_run_id"])
    assert sent_ids(run_dir / "added.jsonl") == ["2"]


def sent_ids(path: Path) -> list[str]:
    return [json.loads(line)["row_id"] for line in path.read_text().splitlines()]


@pytest.mark.each_warehouse
def test_null_keys_are_dropped_and_counted(ws: Workspace) -> None:
    ws.users([*ROWS, (None, "n1@x", "N1"), (None, "n2@x", "N2")])
    ws.simple_project()
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["keys"]["null_key_rows"] == 2
    assert result.json()["counts"]["planned"] == {"added": 3, "changed": 0, "removed": 0}
    assert {r[2] for r in ws.changelog()} == {"1", "2", "3"}
    text = ws.cli("plan", "s")
    assert "2 row(s) with a NULL primary key would be skipped" in flat(text.stdout)
    summary = ws.cli("run", "s")
    assert "Skipped 2 row(s) whose primary key is NULL" in flat(summary.stdout)


@pytest.mark.each_warehouse
def test_null_keys_are_never_removed_in_mirror_mode(ws: Workspace) -> None:
    # The plan's NULL-key group is no key: no run plans it as added or removed.
    ws.users([*ROWS, (None, "n1@x", "N1")])
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    for planned in (
        {"added": 3, "changed": 0, "removed": 0},
        dict.fromkeys(("added", "changed", "removed"), 0),
    ):
        result = ws.cli("run", "s", "--json")
        assert result.exit_code == 0, result.stderr
        assert result.json()["keys"]["null_key_rows"] == 1
        assert result.json()["counts"]["planned"] == planned
    assert sorted(r[2] for r in ws.changelog()) == ["1", "2", "3"]


# -- the destination -------------------------------------------------------------------------
@pytest.mark.each_warehouse
def test_expired_token_from_the_start(ws: Workspace, sink: HttpSink) -> None:
    ws.users(ROWS)
    sink.required_headers = {"Authorization": "Bearer good"}
    http_project(ws, sink, headers={"Authorization": "Bearer ${LIGHTNING_TEST_TOKEN}"})
    bad = ws.cli("run", "s", "--json", env={"LIGHTNING_TEST_TOKEN": "expired"})
    assert bad.exit_code == 1
    body = bad.json()
    assert body["status"] == "failed" and body["committed"] is True and body["aborted"] == 3
    assert "rejected the credentials" in body["error"] and "HTTP 401" in body["error"]
    assert "destinations.dest" in body["error"]
    assert by_status(ws, body["sync_run_id"]) == {"aborted": {"1", "2", "3"}}
    run = ws.runs()[-1]
    assert run["status"] == "failed" and "rejected the credentials" in run["error"]
    assert run["num_planned_add"] == 3 and run["num_attempted_add"] == 0
    assert sink.records == {}

    text = ws.cli("run", "s", env={"LIGHTNING_TEST_TOKEN": "expired"})
    assert text.exit_code == 1 and "rejected the credentials" in flat(text.stderr)

    good = ws.cli("run", "s", "--json", env={"LIGHTNING_TEST_TOKEN": "good"})
    assert good.exit_code == 0, good.stderr
    assert good.json()["counts"]["succeeded"] == {"added": 3, "changed": 0, "removed": 0}
    assert sink.records == {"users": model_as_records(ws)}


@pytest.mark.each_warehouse
def test_token_revoked_mid_run(ws: Workspace, sink: HttpSink) -> None:
    ws.users([(i, f"{i}@x", f"N{i}") for i in range(1, 41)])
    http_project(ws, sink)
    sink.revoke_after(10)
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 1
    body = first.json()
    assert body["status"] == "failed" and "rejected the credentials" in body["error"]
    outcome = by_status(ws, body["sync_run_id"])
    assert set(outcome) == {"succeeded", "aborted"}
    assert len(outcome["succeeded"]) == 10 and len(outcome["aborted"]) == 30
    assert set(sink.records["users"]) == outcome["succeeded"]
    run = ws.runs()[-1]
    assert (run["status"], run["num_succeeded_add"], run["num_attempted_add"]) == (
        "failed",
        10,
        10,
    )

    sink.restore_auth()
    sink.clear_requests()
    second = ws.cli("run", "s", "--json")
    assert second.exit_code == 0, second.stderr
    assert second.json()["counts"]["planned"] == {"added": 30, "changed": 0, "removed": 0}
    resent = {req.path.rsplit("/", 1)[-1] for req in sink.requests}
    assert resent == outcome["aborted"] and len(sink.requests) == 30
    assert sink.records == {"users": model_as_records(ws)}
    assert ws.runs()[-1]["status"] == "succeeded"


@pytest.mark.each_warehouse
def test_destination_rejects_every_row(ws: Workspace, sink: HttpSink) -> None:
    ws.users(ROWS)
    http_project(ws, sink)
    sink.fail_rows = {str(i): (422, '{"error":"email is invalid"}') for i, _, _ in ROWS}
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    body = first.json()
    assert body["status"] == "succeeded"
    assert body["counts"]["failed"] == {"added": 3, "changed": 0, "removed": 0}
    reasons = {r[4] for r in ws.changelog()}
    assert reasons == {'HTTP 422 Unprocessable Entity: {"error":"email is invalid"}'}
    assert {r[3] for r in ws.changelog()} == {"failed"}

    strict = ws.cli("run", "s", "--json", "--fail-on-rejections")
    assert strict.exit_code == 3
    assert strict.json()["counts"]["failed"] == {"added": 3, "changed": 0, "removed": 0}

    sink.clear_failures()
    fixed = ws.cli("run", "s", "--json", "--fail-on-rejections")
    assert fixed.exit_code == 0, fixed.stderr
    assert fixed.json()["counts"]["succeeded"] == {"added": 3, "changed": 0, "removed": 0}
    assert sink.records == {"users": model_as_records(ws)}


# -- hostile names ---------------------------------------------------------------------------
HOSTILE = [
    'weird "quoted" name',
    "has spaces",
    "semi; DROP TABLE users; --",
    "naïve_ключ_名前",
    "_lightning_op",
    "_lightning_row_id",
    "copies",
]


@pytest.mark.each_warehouse
def test_hostile_column_names_are_mapped_and_synced(ws: Workspace) -> None:
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    columns = ", ".join(f"'v{i}_' || id AS {quote(c)}" for i, c in enumerate(HOSTILE))
    ws.sql(f"CREATE TABLE users AS SELECT id AS row_id, {columns} FROM range(1, 4) t(id)")
    mappings = [{"from": c, "to": c} for c in HOSTILE] + [{"from": "row_id", "to": "key"}]
    ws.simple_project(
        model={"primary_key": "row_id"},
        sync={"mode": "mirror", "delete_behavior": "delete", "mappings": mappings},
    )
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    lines = read_jsonl(ws.root / "out" / "s" / str(first.json()["sync_run_id"]) / "added.jsonl")
    assert [line["row_id"] for line in lines] == ["1", "2", "3"]
    for line in lines:
        rid = line["row_id"]
        expected = {c: f"v{i}_{rid}" for i, c in enumerate(HOSTILE)} | {"key": int(rid)}
        assert line["fields"] == expected
    fields = ws.query(
        "SELECT fields FROM hightouch_audit.sync_changelog WHERE row_id = '2' AND sync_id = 's'"
    )
    assert json.loads(fields[0][0])["_lightning_op"] == "v4_2"

    ws.sql("UPDATE users SET \"_lightning_op\" = 'new' WHERE row_id = 2")
    ws.sql("DELETE FROM users WHERE row_id = 3")
    second = ws.cli("run", "s", "--json")
    assert second.json()["counts"]["succeeded"] == {"added": 0, "changed": 1, "removed": 1}
    run_dir = ws.root / "out" / "s" / str(second.json()["sync_run_id"])
    changed = read_jsonl(run_dir / "changed.jsonl")
    assert [(c["row_id"], c["fields"]["_lightning_op"]) for c in changed] == [("2", "new")]
    assert read_jsonl(run_dir / "removed.jsonl") == [{"row_id": "3", "fields": {}}]
    assert ws.query("SELECT count(*) FROM users")[0][0] == 2


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.each_warehouse
def test_hostile_keys_and_fields_over_http(ws: Workspace, sink: HttpSink) -> None:
    ws.sql(
        "CREATE TABLE users AS SELECT * FROM (VALUES ('a/b c', 'x', 1), ('50%?#&', 'y', 2), "
        "('ключ', 'z', 3)) t(id, email, \"row_id\")"
    )
    http_project(
        ws,
        sink,
        sync={"mappings": [{"from": "email", "to": "email"}, {"from": "row_id", "to": "row_id"}]},
    )
    assert ws.cli("run", "s").exit_code == 0
    assert sink.records == {
        "users": {
            "a/b c": {"email": "x", "row_id": 1},
            "50%?#&": {"email": "y", "row_id": 2},
            "ключ": {"email": "z", "row_id": 3},
        }
    }
    http_project(
        ws,
        sink,
        sync={
            "mappings": [{"from": "row_id", "to": "row_id"}],
            "http": {
                "added": {"method": "POST", "path": "/users"},
                "changed": {"method": "POST", "path": "/users"},
                "batch_size": 10,
            },
        },
    )
    message = refused(ws, 2, "run", "s")
    assert "syncs.s.mappings[0].to: 'row_id' is reserved" in message and "batch_size: 1" in message
