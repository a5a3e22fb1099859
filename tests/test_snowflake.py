"""The engine on Snowflake, through the real connector, on a local emulator (fakesnow).

The emulator is the behaviour check: runs, semantics, locks, kills, bad input and the
Contentstack destination, with the same tests as the other warehouses (imported below and run
here on Snowflake only). It is not the dialect check: fakesnow accepts DuckDB-only SQL and
resolves quoted names case-insensitively, so the Snowflake SQL itself is checked by the golden
files (tests/golden/snowflake) and by tests/test_identifier_case.py.

Snowflake types the payload property test (tests/test_payload_property.py) cannot exercise
on the emulator: structured ``ARRAY(type)``, ``OBJECT(...)`` and ``MAP`` (the emulator makes
them untyped JSON), ``GEOGRAPHY``, ``GEOMETRY``, ``VECTOR``, and a ``TIMESTAMP_TZ``'s own
offset (the emulator returns the instant in UTC). A decimal in a VARIANT with more digits
than a double holds is kept by the emulator as a double (DuckDB's JSON), so the test checks
such a value against what the emulator keeps, not against what Snowflake would keep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from dialects.snowflake import SnowflakeDialect
from tests import snowflake_emulator
from tests.conftest import REPO, SnowflakeWorkspace, Workspace
from tests.test_bad_input import (  # noqa: F401 - collected here, run on Snowflake
    test_destination_rejects_every_row,
    test_duplicate_keys_fail_the_run,
    test_duplicate_keys_rejected_then_sent_once_fixed,
    test_expired_token_from_the_start,
    test_hostile_column_names_are_mapped_and_synced,
    test_hostile_keys_and_fields_over_http,
    test_misspelled_source_setting,
    test_model_that_fails_in_the_warehouse,
    test_model_that_fails_on_its_rows,
    test_model_with_duplicate_column_names,
    test_null_keys_are_dropped_and_counted,
    test_primary_key_changed_since_the_last_commit,
    test_primary_key_column_missing,
    test_token_revoked_mid_run,
    test_unknown_column_in_a_mapping,
)
from tests.test_contentstack import (  # noqa: F401
    cs,
    test_attributes_path_creates_missing_attributes_once_within_10_per_second,
    test_hashed_email_match_with_audiences_column,
    test_rejected_user_is_logged_with_the_api_reason_and_retried,
    test_token_revoked_mid_run_aborts_and_the_next_run_finishes,
)
from tests.test_http_unreachable import (  # noqa: F401
    test_unreachable_destination_aborts_the_run_and_the_next_run_retries,
)
from tests.test_kill import (  # noqa: F401
    test_a_killed_runs_sends_are_resent_after_the_model_reverts,
    test_sends_of_several_dead_runs_are_remembered_until_a_commit,
    test_sigkill_mid_stream_loses_nothing,
    test_sigterm_ends_the_run_early_and_cleanly,
)
from tests.test_payload_property import (  # noqa: F401
    test_every_payload_is_strict_json_with_the_models_values,
    test_every_type_and_edge_value_at_once,
)
from tests.test_run_basics import (  # noqa: F401
    test_first_run_sends_every_row_then_only_the_delta,
    test_key_type_change_between_runs_is_not_a_change,
    test_unmapped_column_change_is_not_a_change,
)
from tests.test_secrets import (  # noqa: F401
    echo,
    test_an_echoing_http_destination_never_gets_a_secret_out,
    test_contentstack_tokens_never_get_out,
    test_init_does_not_print_a_source_setting_from_the_environment,
)
from tests.test_semantics import (  # noqa: F401
    sink,
    test_abandoned_lock_is_taken_over,
    test_all_sends_every_row_every_run,
    test_composite_keys_join_parts_with_escaping,
    test_diff_table_with_failed_rows,
    test_failures_are_retried_until_they_succeed,
    test_fresh_lock_from_another_host_is_respected,
    test_full_resync_sends_every_row_as_added_and_skips_removals,
    test_insert_sends_only_new_keys,
    test_lock_held_by_a_live_run_refuses_a_second_run,
    test_mapping_change_resends_every_row_as_changed,
    test_mirror_delete_behaviors,
    test_null_to_a_zero_value_and_back_is_a_change,
    test_plan_sends_and_commits_nothing,
    test_reset_cdc_sends_nothing_and_sets_the_baseline,
    test_retention_keeps_the_two_newest_committed_pairs,
    test_runs_json_lists_runs_newest_first,
    test_tables_of_a_dead_run_are_dropped_by_the_next,
    test_unchanged_values_of_every_type_are_not_a_change,
    test_update_sends_every_row_as_an_update,
    test_upsert_sends_added_and_changed_only,
)

EACH_WAREHOUSE = ["snowflake"]  # the imported each_warehouse tests run here on Snowflake only
pytestmark = pytest.mark.each_warehouse


def _users(ws: Workspace, n: int) -> None:
    ws.sql(
        "CREATE OR REPLACE TABLE users AS SELECT i AS id, 'u' || i || '@x' AS email, "
        "'N' || i AS name FROM range(1, :n + 1) AS r(i)".replace(":n", str(n))
    )


def test_sync_logs_are_found_unquoted_in_upper_case(ws: Workspace) -> None:
    _users(ws, 3)
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    assert sorted(ws.query("select row_id from hightouch_audit.sync_changelog")) == [
        ("1",),
        ("2",),
        ("3",),
    ]
    # Stored as Snowflake stores unquoted names (the emulator would also find lower case).
    names = ws.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('HIGHTOUCH_AUDIT', 'HIGHTOUCH_PLANNER') ORDER BY 1, 2"
    )
    assert ("HIGHTOUCH_AUDIT", "SYNC_CHANGELOG") in names
    assert ("HIGHTOUCH_PLANNER", "LIGHTNING_COMMITS") in names
    columns = ws.query(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'HIGHTOUCH_AUDIT' AND table_name = 'SYNC_CHANGELOG'"
    )
    assert ("ROW_ID",) in columns and ("FIELDS",) in columns


def test_statements_per_run_do_not_grow_with_the_model(ws: Workspace) -> None:
    counts = {}
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    for rows in (10, 10, 3000, 3000):  # the first run also creates the schemas
        _users(ws, rows)
        run = ws.cli("run", "s", "--json", "--full-resync")
        assert run.exit_code == 0, run.stderr
        assert run.json()["counts"]["succeeded"]["added"] == rows
        counts.setdefault(rows, []).append(run.json()["statements"])
    print(f"statements per run: {counts}")
    assert counts[10][1] == counts[3000][0] == counts[3000][1], counts
    assert counts[3000][0] < 50, counts


class _CountingSnowflake(SnowflakeDialect):
    def __init__(self, settings: dict[str, Any], project_dir: Path):
        super().__init__(settings, project_dir)
        self.sent: list[str] = []

    def _run(self, cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
        self.sent.append(sql)
        return super()._run(cursor, sql, params)


def test_rejections_are_bulk_loaded_in_two_statements(ws: Workspace) -> None:
    ws.sql(
        "CREATE TABLE rejections (row_id BIGINT, op_type VARCHAR, status VARCHAR, "
        "failure_reason VARCHAR, match_value VARCHAR)"
    )
    dialect = _CountingSnowflake(ws.source(), ws.root)
    dialect.connect()
    try:
        table = exp.Table(
            this=exp.to_identifier("rejections", quoted=True),
            db=exp.to_identifier("PUBLIC", quoted=True),
        )
        columns = ["row_id", "op_type", "status", "failure_reason", "match_value"]
        loaded = 0
        for rows in (10, 10_000):
            batch = [(i, "added", "failed", f"it's 100% wrong: {i}", None) for i in range(rows)]
            before = len(dialect.sent)
            started = time.perf_counter()
            dialect.bulk_insert(table, columns, batch)
            seconds = time.perf_counter() - started
            loaded += rows
            statements = dialect.sent[before:]
            assert [s.split()[0] for s in statements if not s.startswith("CREATE")] == [
                "PUT",
                "COPY",
            ]
            print(f"loaded {rows} rejections in {seconds:.2f} s, {len(statements)} statements")
        (count, reason), = dialect.fetchall(
            'SELECT COUNT(*), MAX("failure_reason") FROM "PUBLIC"."rejections" '
            'WHERE "row_id" = 9999'
        )
        assert count == 1 and reason == "it's 100% wrong: 9999"
        assert dialect.fetchall('SELECT COUNT(*) FROM "PUBLIC"."rejections"')[0][0] == loaded
    finally:
        dialect.close()


# -- a process killed between any two statements -------------------------------------------
STATEMENTS_PER_DELTA_RUN = 36  # measured: test_statements_per_run_do_not_grow_with_the_model


def _sent_rows(ws: Workspace) -> dict[str, set[str]]:
    """Every row id the file destination received, by op, over all runs."""
    sent: dict[str, set[str]] = {"added": set(), "changed": set(), "removed": set()}
    for path in (ws.root / "out").glob("s/*/*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                sent[path.stem].add(json.loads(line)["row_id"])
    return sent


@pytest.mark.parametrize("kill_at", range(1, STATEMENTS_PER_DELTA_RUN + 1))
def test_a_run_killed_before_any_statement_claims_nothing_and_loses_nothing(
    ws: Workspace, kill_at: int
) -> None:
    """DDL commits implicitly on Snowflake: wherever the process dies, no sync_runs row
    claims success without its commit, and the next run sends every change."""
    ws.users([(i, f"u{i}@x", f"N{i}") for i in range(1, 6)])
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    assert ws.cli("run", "s").exit_code == 0
    ws.sql(
        "UPDATE users SET name = 'changed' WHERE id = 2; DELETE FROM users WHERE id = 3; "
        "INSERT INTO users VALUES (6, 'u6@x', 'N6')"
    )
    killed = subprocess.run(
        [sys.executable, "-m", "tests.kill_after_statements", "run", "--project",
         str(ws.project_file), "s", "--json"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "LIGHTNING_TEST_KILL_AT": str(kill_at)},
    )
    assert killed.returncode == 137, (killed.stdout, killed.stderr)
    committed = {row[0] for row in ws.query(
        "SELECT sync_run_id FROM hightouch_planner.lightning_commits WHERE sync_id = 's'"
    )}
    for run in ws.runs():
        assert run["status"] != "succeeded" or run["sync_run_id"] in committed, run
    after = ws.cli("run", "s", "--json")
    assert after.exit_code == 0, after.stderr
    sent = _sent_rows(ws)
    assert "2" in sent["changed"] and "3" in sent["removed"] and "6" in sent["added"], sent
    assert ws.cli("plan", "s", "--json").json()["counts"] == {
        "added": 0, "changed": 0, "removed": 0,
    }


class _LowerCaseCatalog(SnowflakeWorkspace):
    """Catalog queries (information_schema) as the property test writes them, in lower case:
    Snowflake stores the engine's names upper case."""

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        if "information_schema" not in statement:
            return super().query(statement, params)
        tree = sqlglot.parse_one(statement, read="duckdb")
        for literal in tree.find_all(exp.Literal):
            if literal.is_string:
                literal.set("this", literal.this.upper())
        rows = super().query(tree.sql("duckdb"), params)
        return [tuple(v.lower() if isinstance(v, str) else v for v in row) for row in rows]


def test_property_mirror_delete_on_snowflake(snowflake_port: int) -> None:
    """The stateful property test's mirror + delete machine with its model on Snowflake."""
    from hypothesis.stateful import run_state_machine_as_test

    from tests.test_property import SETTINGS, MirrorDeleteMachine

    databases = iter(range(1_000_000))

    class OnSnowflake(MirrorDeleteMachine):
        def __init__(self) -> None:
            super().__init__()
            name = f"LIGHTNING_PROPERTY_{os.getpid()}_{next(databases)}"
            admin = snowflake_emulator.connect(snowflake_port)
            try:
                admin.cursor().execute(f"CREATE DATABASE {name}")
            finally:
                admin.close()
            self.ws = _LowerCaseCatalog(self.root, snowflake_port, name)
            self._database.callback(self.ws.close)

    run_state_machine_as_test(OnSnowflake, settings=SETTINGS)
