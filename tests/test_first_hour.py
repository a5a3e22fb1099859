"""A new user's first hour: the quickstart, help, plan and run, and the ``sql`` command, as a
terminal 80 columns wide shows them (real processes with ``COLUMNS=80``)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO, Workspace

WIDTH = 80


def lightning(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``lightning-sync ARGS`` in a real process on an 80-column terminal."""
    env = {**os.environ, "COLUMNS": str(WIDTH), "LINES": "50", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def printed_command(lines: list[str], start: int) -> list[str]:
    """The shell command printed (indented) from line ``start`` on, as argv."""
    for end in range(start + 1, len(lines) + 1):
        command = textwrap.dedent("\n".join(lines[start:end]))
        try:
            argv = shlex.split(command)
        except ValueError:  # an open quote: the command goes on
            continue
        assert argv[0] == "lightning-sync", command
        return argv[1:]
    raise AssertionError(f"no complete command from line {start}")


def assert_fits(text: str) -> None:
    wide = [line for line in text.splitlines() if len(line.rstrip()) > WIDTH]
    assert not wide, wide


# -- the quickstart ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("first_hour")
    done = lightning("quickstart", "--rows", "2000", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return cwd, done.stdout


def test_quickstart_fits_80_columns_and_shows_every_counter(quickstart: tuple[Path, str]) -> None:
    _, output = quickstart
    assert_fits(output)
    assert "…" not in output, "a value was cut"
    table = {
        line.split()[0]: line.split()[1:]
        for line in output.splitlines()
        if line.strip().startswith(("num_", "status", "sync_run_id"))
    }
    # Run 1 adds every row; run 2: 1% changed (plus duplicated key 42, rejected before
    # sending), 0.5% removed, 0.5% added.
    assert table["status"] == ["succeeded", "succeeded"]
    assert table["num_planned_add"] == ["2,000", "10"]
    assert table["num_succeeded_add"] == ["2,000", "10"]
    assert table["num_planned_change"] == ["0", "21"]
    assert table["num_succeeded_change"] == ["0", "20"]
    assert table["num_failed_change"] == ["0", "1"]
    assert table["num_planned_remove"] == ["0", "10"]
    assert table["num_succeeded_remove"] == ["0", "10"]
    # No command that pip install does not provide (the duckdb CLI).
    assert "duckdb quickstart" not in output
    assert not any(line.lstrip().startswith("duckdb") for line in output.splitlines())


def test_quickstart_commands_run_as_printed(quickstart: tuple[Path, str]) -> None:
    cwd, output = quickstart
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith("lightning-sync ")]
    assert len(starts) == 2, output
    sql_args = printed_command(lines, starts[0])
    assert sql_args[:3] == ["sql", "--project", "quickstart/lightning.yml"]
    assert "from hightouch_audit.sync_changelog" in sql_args[3]
    answer = lightning(*sql_args, cwd=cwd)
    assert answer.returncode == 0, answer.stderr
    assert_fits(answer.stdout)
    row = next(line for line in answer.stdout.splitlines() if line.strip().startswith("42 "))
    assert row.split()[:3] == ["42", "changed", "failed"] and "primary key is not unique" in row
    assert "1 row(s)." in answer.stdout

    run_args = printed_command(lines, starts[1])
    assert run_args == ["run", "users_to_files", "--project", "quickstart/lightning.yml"]
    again = lightning(*run_args, cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert_fits(again.stdout)
    # The rejected key is printed with the command to see it, never broken mid-token.
    start = next(i for i, line in enumerate(again.stdout.splitlines()) if "lightning-sync" in line)
    assert printed_command(again.stdout.splitlines(), start)[0] == "sql"

    # `runs` lists the three runs, whole ids and counters, within 80 columns.
    listed = lightning("runs", "users_to_files", "--project", "quickstart/lightning.yml", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    assert_fits(listed.stdout)
    ids = [line.split()[0] for line in listed.stdout.splitlines() if line[:1].isdigit()]
    assert len(ids) == 3 and all(len(i) >= 16 for i in ids), listed.stdout
    assert f"{sql_args[3].split('sync_run_id = ')[1].split()[0]}" in ids
    assert any(line.split()[-3:] == ["2,000", "2,000", "0"] for line in listed.stdout.splitlines())


def test_quickstart_rerun_keeps_edits_unless_forced(quickstart: tuple[Path, str]) -> None:
    cwd, _ = quickstart
    project = cwd / "quickstart" / "lightning.yml"
    edited = project.read_text() + "# my edit\n"
    project.write_text(edited)
    refused = lightning("quickstart", "--rows", "100", cwd=cwd)
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert "quickstart/ already exists" in message and "nothing was changed" in message
    assert "--force" in message and "--dir" in message
    assert project.read_text() == edited

    forced = lightning("quickstart", "--rows", "100", "--force", cwd=cwd)
    assert forced.returncode == 0, forced.stderr
    assert "# my edit" not in project.read_text()
    assert "100 rows" in forced.stdout


# -- help ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["run", "plan", "runs", "sql", "quickstart"])
def test_help_shows_flags_as_flags(command: str, tmp_path: Path) -> None:
    shown = lightning(command, "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout)
    assert "<bool>" not in shown.stdout and "BOOLEAN" not in shown.stdout
    flags = {"run": "--json", "plan": "--json", "runs": "--json", "sql": "--json"}
    flags["quickstart"] = "--force"
    line = next(line for line in shown.stdout.splitlines() if flags[command] in line)
    assert line.split()[0] == flags[command], line


# -- plan and run agree on a duplicated key ----------------------------------------------------
@pytest.mark.each_warehouse
def test_plan_and_run_agree_a_duplicated_key_is_planned_and_failed_never_attempted(
    ws: Workspace,
) -> None:
    ws.users([(1, "a@x", "A"), (2, "b@x", "B"), (2, "b2@x", "B2"), (3, "c@x", "C")])
    ws.simple_project()
    plan = ws.cli("plan", "s", "--json").json()
    assert plan["counts"] == {"added": 3, "changed": 0, "removed": 0}
    assert plan["to_send"] == {"added": 2, "changed": 0, "removed": 0}
    assert plan["rejected_before_send"] == 1
    text = " ".join(ws.cli("plan", "s").stdout.split())
    assert "would send: 2 added, 0 changed, 0 removed" in text
    assert "1 duplicated key(s) (2 rows) would be rejected before sending" in text

    run = ws.cli("run", "s", "--json").json()
    counts = run["counts"]
    assert counts["planned"]["added"] == 3
    assert counts["attempted"]["added"] == 2  # as the plan said: two sent
    assert (counts["succeeded"]["added"], counts["failed"]["added"]) == (2, 1)
    assert counts["rejected_before_send"]["added"] == 1 and run["aborted"] == 0
    row = ws.runs()[-1]
    assert (row["num_planned_add"], row["num_attempted_add"]) == (3, 2)
    assert (row["num_succeeded_add"], row["num_failed_add"]) == (2, 1)
    sent = (ws.root / "out" / "s" / str(run["sync_run_id"]) / "added.jsonl").read_text()
    assert sorted(json.loads(line)["row_id"] for line in sent.splitlines()) == ["1", "3"]


# -- a run with nothing to send ----------------------------------------------------------------
@pytest.mark.each_warehouse
def test_run_with_nothing_to_send_leaves_no_output_folder(ws: Workspace) -> None:
    ws.users([(1, "a@x", "A")])
    ws.simple_project()
    first = ws.cli("run", "s", "--json").json()
    assert (ws.root / "out" / "s" / str(first["sync_run_id"]) / "added.jsonl").exists()
    second = ws.cli("run", "s", "--json").json()
    assert second["status"] == "succeeded"
    assert not (ws.root / "out" / "s" / str(second["sync_run_id"])).exists()
    assert sorted(p.name for p in (ws.root / "out" / "s").iterdir()) == [
        str(first["sync_run_id"])
    ]


# -- lightning-sync sql -------------------------------------------------------------------------
@pytest.mark.each_warehouse
def test_sql_runs_a_read_only_query_and_refuses_writes(ws: Workspace) -> None:
    ws.users([(1, "a@x", "A"), (2, "b@x", None)])
    ws.simple_project()
    if ws.kind != "bigquery":  # BigQuery has no sequences
        ws.sql("CREATE SEQUENCE ids")
    shown = ws.cli("sql", "select id, email, name from users order by id;")
    assert shown.exit_code == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines() if line.strip()]
    assert ["id", "email", "name"] in lines and ["2", "b@x", "NULL"] in lines
    as_json = ws.cli("sql", "select id, name from users order by id", "--json").json()
    assert as_json == [{"id": 1, "name": "A"}, {"id": 2, "name": None}]
    # A % is SQL, not a driver placeholder.
    liked = ws.cli("sql", "select email from users where email like 'a%'", "--json").json()
    assert liked == [{"email": "a@x"}]
    capped = ws.cli("sql", "select id from users order by id", "--max-rows", "1")
    assert "1 row(s) (more rows not shown: raise --max-rows)." in " ".join(capped.stdout.split())

    writes = [
        "insert into users values (3, 'c@x', 'C')",
        "create table t as select 1 as x",
        "select 1 as x into t",
        "with gone as (delete from users returning id) select * from gone",
        "select 1; drop table users",
        "drop table users",
    ]
    for statement in writes:
        refused = ws.cli("sql", statement)
        assert refused.exit_code == 2, (statement, refused.stdout)
        message = " ".join(refused.stderr.split())
        # Refused as a write, as several statements, or (a writing CTE, which Snowflake's
        # grammar lacks) as not a query at all.
        assert any(why in message for why in ("read-only", "statements", "could not be parsed"))
        assert "Fix: give one SELECT query" in message, message
    # A function that writes is refused by the warehouse's read-only session; where the
    # warehouse has none (Snowflake, BigQuery), by the dialect's list of functions with side
    # effects. (Snowflake reads a sequence as ``ids.NEXTVAL``; BigQuery has no sequences, and
    # refuses a query sent to an external database instead.)
    sneaky_sql = {
        "snowflake": "select ids.nextval as n",
        "bigquery": "select * from external_query('us.crm', 'select 1')",
    }.get(ws.kind, "select nextval('ids') as n")
    sneaky = ws.cli("sql", sneaky_sql)
    if ws.kind == "snowflake":
        assert sneaky.exit_code == 2 and "advances a sequence" in sneaky.stderr, sneaky.stderr
    elif ws.kind == "bigquery":
        assert sneaky.exit_code == 2 and "external database" in sneaky.stderr, sneaky.stderr
    else:
        assert sneaky.exit_code == 1 and "read-only" in sneaky.stderr.lower(), sneaky.stderr
    assert ws.query("select count(*) from users") == [(2,)]


def test_sql_names_the_source_to_pick(ws: Workspace) -> None:
    ws.users([(1, "a@x", "A")])
    config = {
        "sources": {"one": ws.source(), "two": ws.source()},
        "models": {"users": {"source": "one", "primary_key": "id", "sql": "select * from users"}},
    }
    ws.write_project(config)
    ambiguous = ws.cli("sql", "select 1")
    assert ambiguous.exit_code == 2 and "--source" in ambiguous.stderr
    picked = ws.cli("sql", "select count(*) as n from users", "--source", "two", "--json")
    assert picked.json() == [{"n": 1}]


# -- packaging ---------------------------------------------------------------------------------
def test_license_is_an_spdx_string() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"
    # The string form needs setuptools 77 or newer to build.
    assert "setuptools>=77" in pyproject["build-system"]["requires"]
