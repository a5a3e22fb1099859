"""The engine on BigQuery, through the real ``google-cloud-bigquery`` client, on a local
emulator (local-bigquery, see tests/bigquery_emulator.py).

The emulator is the behaviour check: runs, semantics, locks, kills, bad input and the
Contentstack destination, with the same tests as the other warehouses (imported below and run
here on BigQuery only; ``LIGHTNING_TEST_WAREHOUSES=bigquery python -m pytest -m
each_warehouse`` runs all of them). It is not the dialect check: it runs on DuckDB and accepts
SQL real BigQuery refuses (``hash()``, ``CAST(.. AS VARCHAR)``, a standalone ``CREATE TEMP
TABLE``), and its ``TO_JSON_STRING`` writes timestamps differently; the BigQuery SQL itself
is checked by the golden files (tests/golden/bigquery) and the function allow-list test
(tests/test_bigquery_functions.py). It reports 0 bytes processed and billed for every job.

Besides the tests below, BigQuery's own refused model statements and calls run on it in
tests/test_model_read_only.py (``bq_ws``). Imported and run here with fewer cases than on the
other warehouses: the payload property (two examples; each is three full runs). The whole
fault matrix (tests/test_fault_matrix.py, but the cases its NOT_ON_SLOW_STAND_INS leaves out) runs
here; a case takes about 15 s on the emulator (its four runs of some 30 jobs each at 0.1-0.2 s a
job, 11 s; emptying the emulator about 1 s, see LocalBigQuery.fresh; the checks the rest).

``each_warehouse`` tests not run here, and why:

- test_a_view_that_does_not_only_read_is_refused (tests/test_model_read_only.py): the
  emulator checks a view's query when the view is made and refuses every call that reaches
  outside the query (EXTERNAL_QUERY without its connection, ML.PREDICT not implemented,
  AI.GENERATE unknown), so no such view can be made there. The views a model reads are
  found through the API and held to the models' rule
  (test_views_that_only_read_are_read_through_the_api_and_run below), the same rule that
  refuses those calls in a model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from dialects.bigquery import BigQueryDialect
from tests import bigquery_emulator
from tests.conftest import BigQueryWorkspace, Workspace
from tests.killed_runs import killed_before_write
from tests.test_array_expansion import (  # noqa: F401
    test_a_bad_array_expansion_names_its_key_path_and_fix,
    test_a_duplicated_element_is_a_duplicated_key_and_a_null_element_a_null_key,
    test_one_row_per_element_and_a_removed_element_is_removed,
    test_the_element_as_the_key_and_the_match_field,
)
from tests.test_bad_input import (  # noqa: F401 - collected here, run on BigQuery
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
from tests.test_changed_fields import (  # noqa: F401
    patch_sink,
    test_a_changed_address_column_sends_every_field,
    test_a_changed_row_sends_only_its_changed_fields,
    test_a_failed_changed_row_is_retried_with_every_field,
    test_a_mapping_change_or_turning_it_on_sends_every_field_once,
    test_contentstack_users_patch_only_changed_attributes,
)
from tests.test_column_names import (  # noqa: F401
    test_a_column_the_warehouse_folded_matches_its_lower_case_name,
    test_one_column_spelled_two_ways_is_refused,
    test_the_exact_name_wins_and_case_twins_are_refused,
)
from tests.test_contentstack import (  # noqa: F401
    cs,
    test_attributes_path_creates_missing_attributes_once_within_10_per_second,
    test_hashed_email_match_with_audiences_column,
    test_rejected_user_is_logged_with_the_api_reason_and_retried,
    test_token_revoked_mid_run_aborts_and_the_next_run_finishes,
)
from tests.test_dbt_errors_by_sync import (  # noqa: F401
    test_errors_by_sync_ranks_the_row_failure_above_an_abort,
)
from tests.test_delivery_workers import (  # noqa: F401
    test_a_killed_worker_fails_the_run_and_the_next_run_resends_its_rows,
    test_two_workers_deliver_every_row_once,
)
from tests.test_fault_matrix import (  # noqa: F401
    scenario,
    test_destination_resets_connections,
    test_first_run_killed_then_rows_removed,
    test_model_reverted_after_a_killed_run,
    test_sigkill,
    test_sigterm_sigint,
    test_warehouse_connection_dropped,
)
from tests.test_first_hour import (  # noqa: F401
    test_plan_and_run_agree_a_duplicated_key_is_planned_and_failed_never_attempted,
    test_run_with_nothing_to_send_leaves_no_output_folder,
    test_sql_runs_a_read_only_query_and_refuses_writes,
)
from tests.test_hostile_answers import (  # noqa: F401
    test_a_fatal_answer_with_hostile_bytes_is_stored_in_sync_runs,
    test_a_row_whose_outcome_cannot_be_written_is_named,
    test_contentstack_hostile_error_bodies_are_stored_bounded,
    test_hostile_error_bodies_are_stored_bounded_and_runs_keep_committing,
)
from tests.test_http_templates import (  # noqa: F401
    test_match_column_null_or_shared_fails_those_rows,
    test_per_trigger_templates_reach_the_wire_encoded,
    wire_sink,
)
from tests.test_http_unreachable import (  # noqa: F401
    test_unreachable_destination_aborts_the_run_and_the_next_run_retries,
)
from tests.test_inline_arrays import (  # noqa: F401
    test_a_bad_array_fails_its_row_with_the_mapping_named,
    test_inline_arrays_are_sent_and_a_changed_element_changes_the_row,
)
from tests.test_joined_payload import (  # noqa: F401
    test_the_warehouse_escapes_every_value_it_joins,
)
from tests.test_kill import (  # noqa: F401
    test_a_killed_runs_sends_are_resent_after_the_model_reverts,
    test_sends_of_several_dead_runs_are_remembered_until_a_commit,
    test_sigkill_mid_stream_loses_nothing,
    test_sigterm_ends_the_run_early_and_cleanly,
)
from tests.test_lock_race import (  # noqa: F401
    test_the_run_with_the_higher_id_withdraws,
    test_the_run_with_the_lower_id_keeps_the_lock,
)
from tests.test_mappings_run import (  # noqa: F401
    test_a_template_naming_a_missing_column_is_refused,
    test_a_template_not_reading_a_column_ignores_it,
    test_every_kind_to_http_and_cdc_reads_only_what_mappings_read,
    test_kinds_to_the_file_destination_and_row_failures_in_the_sync_logs,
)
from tests.test_model_read_only import (  # noqa: F401
    test_a_model_that_writes_is_refused_and_writes_nothing,
    test_ordinary_queries_still_run,
    test_views_that_only_read_still_run,
)
from tests.test_payload_property import (  # noqa: F401
    payload_property,
    test_every_type_and_edge_value_at_once,
)
from tests.test_round_trips import (  # noqa: F401
    test_a_sync_log_table_dropped_between_runs_is_made_again,
    test_statements_per_run_do_not_grow_with_the_model,
    test_the_hash_probe_read_with_the_lock_matches_the_probe_read_alone,
    test_the_run_tables_read_with_the_lock_match_the_catalog_read_alone,
)
from tests.test_run_basics import (  # noqa: F401
    test_first_run_sends_every_row_then_only_the_delta,
    test_key_type_change_between_runs_is_not_a_change,
    test_unmapped_column_change_is_not_a_change,
)
from tests.test_same_cause import (  # noqa: F401
    test_a_404_on_the_base_path_for_every_row_ends_the_run,
    test_a_404_that_may_be_about_the_row_fails_rows_only,
    test_a_batch_answered_404_on_its_path_is_not_halved_and_ends_the_run,
    test_a_redirect_names_its_location_and_ends_the_run,
    test_a_refused_connection_ends_even_a_small_run,
    test_contentstack_wrong_base_path_ends_the_run_but_unknown_profiles_do_not,
    test_rows_failing_for_their_own_reasons_do_not_end_the_run,
    test_tls_to_a_plain_http_server_ends_the_run,
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
from tests.test_session_settings import (  # noqa: F401
    test_another_machine_environment_plans_no_change,
)
from tests.test_wire_identifiers import (  # noqa: F401
    test_contentstack_identifier_is_percent_encoded_on_the_request_line,
    test_http_row_id_is_percent_encoded_on_the_request_line,
)

EACH_WAREHOUSE = ["bigquery"]  # the imported each_warehouse tests run here on BigQuery only
pytestmark = pytest.mark.each_warehouse

# Each example is three full runs (about 30 s on the emulator): two here, with the edge values.
test_every_payload_is_strict_json_with_the_models_values = payload_property(2)


def _users(ws: Workspace, n: int) -> None:
    ws.sql(
        "CREATE OR REPLACE TABLE users AS SELECT i AS id, 'u' || i || '@x' AS email, "
        f"'N' || i AS name FROM range(1, {n} + 1) AS r(i)"
    )


def test_jobs_per_run_do_not_grow_with_the_model_and_cost_is_reported(ws: Workspace) -> None:
    jobs: dict[int, list[int]] = {}
    ws.simple_project(sync={"mode": "mirror", "delete_behavior": "delete"})
    # The first run also creates the datasets; from the third on, a run (its cleanup
    # included) also drops the oldest committed pair.
    for rows in (10, 10, 10, 3000, 3000):
        _users(ws, rows)
        run = ws.cli("run", "s", "--json", "--full-resync")
        assert run.exit_code == 0, run.stderr
        assert run.json()["counts"]["succeeded"]["added"] == rows
        cost = run.json()["cost"]
        assert set(cost) == {"jobs", "bytes_processed", "bytes_billed"}, cost
        jobs.setdefault(rows, []).append(cost["jobs"])
    print(f"jobs per run: {jobs}")
    assert jobs[10][2] == jobs[3000][0] == jobs[3000][1], jobs
    assert jobs[3000][0] < 50, jobs
    summary = ws.cli("run", "s")
    assert "Warehouse cost:" in summary.stdout and "bytes billed" in summary.stdout
    plan = ws.cli("plan", "s", "--json")
    assert plan.exit_code == 0, plan.stderr
    assert "model_read_bytes_estimate" in plan.json()["cost"]


class _CountingBigQuery(BigQueryDialect):
    def __init__(self, settings: dict[str, Any], project_dir: Path):
        super().__init__(settings, project_dir)
        self.loads = 0
        self.queries: list[str] = []

    def _job(self, sql: str, params: dict[str, Any] | None, dry_run: bool = False) -> Any:
        self.queries.append(sql)
        return super()._job(sql, params, dry_run)

    def bulk_insert(self, table: exp.Table, columns: Any, rows: Any) -> None:
        self.loads += 1
        super().bulk_insert(table, columns, rows)


def test_rejections_are_bulk_loaded_in_one_load_job(ws: Workspace) -> None:
    assert isinstance(ws, BigQueryWorkspace)
    ws.sql(
        "CREATE TABLE rejections (row_id BIGINT, op_type VARCHAR, status VARCHAR, "
        "failure_reason VARCHAR, match_value VARCHAR)"
    )
    dialect = _CountingBigQuery(ws.source(), ws.root)
    dialect.connect()
    try:
        table = exp.Table(
            this=exp.to_identifier("rejections", quoted=True),
            db=exp.to_identifier(ws.dataset, quoted=True),
        )
        columns = ["row_id", "op_type", "status", "failure_reason", "match_value"]
        loaded = 0
        for rows in (10, 10_000):
            batch = [(i, "added", "failed", f"it's 100% wrong: {i} @x", None) for i in range(rows)]
            started = time.perf_counter()
            dialect.bulk_insert(table, columns, batch)
            loaded += rows
            print(f"loaded {rows} rejections in {time.perf_counter() - started:.2f} s")
        assert dialect.loads == 2 and dialect.queries == []  # load jobs, no INSERT statements
        ((count, reason),) = dialect.fetchall(
            f"SELECT COUNT(*), MAX(`failure_reason`) FROM `{ws.dataset}`.`rejections` "
            "WHERE `row_id` = 9999"
        )
        assert count == 1 and reason == "it's 100% wrong: 9999 @x"
        assert dialect.fetchall(f"SELECT COUNT(*) FROM `{ws.dataset}`.`rejections`")[0][0] == loaded
    finally:
        dialect.close()


def test_every_job_runs_in_the_configured_location(ws: Workspace) -> None:
    """The engine's datasets are made in the source's location; a dataset in another one
    (the models' or the engine's) is refused naming both locations."""
    assert isinstance(ws, BigQueryWorkspace)
    ws.users([(1, "a@x", "A")])
    ws.simple_project()
    assert ws.cli("run", "s").exit_code == 0
    for dataset in ws.client().list_datasets():
        assert ws.client().get_dataset(dataset.reference).location == ws.location
    ws.write_project(_with_source(ws, location="EU"))
    result = ws.cli("run", "s")
    assert result.exit_code != 0
    message = " ".join(result.stderr.split())
    assert "dataset lightning (the models' dataset) is in location US" in message, message
    assert "the source's location is EU" in message and "set location: US" in message
    # The engine's datasets elsewhere: made in another location before the first run.
    from google.cloud import bigquery

    other = BigQueryWorkspace(ws.root, ws.endpoint, f"{ws.project_id}-eu")
    try:
        misplaced = bigquery.Dataset(f"{other.project_id}.hightouch_audit")
        misplaced.location = "EU"
        other.client().create_dataset(misplaced)
        other.users([(1, "a@x", "A")])
        other.simple_project()
        result = other.cli("run", "s")
        message = " ".join(result.stderr.split())
        assert result.exit_code != 0
        assert "hightouch_audit (the engine's dataset) is in location EU" in message, message
    finally:
        other.close()


def test_a_billing_project_runs_the_jobs_while_the_data_stays_in_the_project(
    ws: Workspace,
) -> None:
    """With billing_project the jobs run (and are billed) there, while the models' tables and
    the engine's datasets are the data project's, also where a model names dataset.table."""
    assert isinstance(ws, BigQueryWorkspace)
    ws.users([(1, "a@x", "A"), (2, "b@x", "B")])
    billing = f"{ws.project_id}-billing"
    config = _with_source(ws, billing_project=billing)
    del config["sources"]["wh"]["dataset"]  # the jobs' default dataset would name the project
    config["models"]["users"]["sql"] = f"select * from {ws.dataset}.users"
    ws.write_project(config)
    first = ws.cli("run", "s", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["counts"]["succeeded"]["added"] == 2
    ws.sql("UPDATE users SET email = 'c@x' WHERE id = 2")
    second = ws.cli("run", "s", "--json")
    assert second.exit_code == 0, second.stderr
    assert second.json()["counts"]["succeeded"]["changed"] == 1
    made = {dataset.dataset_id for dataset in ws.client().list_datasets()}
    assert {"hightouch_planner", "hightouch_audit", ws.dataset} <= made
    payer = bigquery_emulator.client(ws.endpoint, billing)
    try:
        assert list(payer.list_datasets()) == []
        # Every job the two runs report ran in the billing project.
        ran = first.json()["cost"]["jobs"] + second.json()["cost"]["jobs"]
        assert len(list(payer.list_jobs())) == ran > 0
    finally:
        payer.close()


def _with_source(ws: BigQueryWorkspace, **settings: Any) -> dict[str, Any]:
    return {
        "sources": {"wh": ws.source() | settings},
        "models": {"users": {"source": "wh", "primary_key": "id", "sql": "select * from users"}},
        "destinations": {"dest": {"type": "file", "path": "out"}},
        "syncs": {
            "s": {
                "model": "users",
                "destination": "dest",
                "mode": "upsert",
                "mappings": [{"from": "email", "to": "email"}],
            }
        },
    }


def test_typed_parameters_never_put_values_in_sql(ws: Workspace) -> None:
    """Values with quotes, ``@`` and ``%`` travel as typed parameters; the jobs' SQL holds
    none of them."""
    assert isinstance(ws, BigQueryWorkspace)
    ws.users([(1, "o'hara@x", "100% @name"), (2, "b@x", "B")])
    ws.simple_project()
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stderr
    (added,) = (ws.root / "out").glob("s/*/added.jsonl")
    sent = [json.loads(line) for line in added.read_text().splitlines()]
    assert {row["fields"]["name"] for row in sent} == {"100% @name", "B"}
    assert {row["fields"]["email"] for row in sent} == {"o'hara@x", "b@x"}


def test_anonymous_needs_an_api_endpoint_and_typos_are_refused(ws: Workspace) -> None:
    assert isinstance(ws, BigQueryWorkspace)
    ws.users([(1, "a@x", "A")])
    source = {k: v for k, v in ws.source().items() if k != "api_endpoint"}
    config = _with_source(ws)
    config["sources"]["wh"] = source
    ws.write_project(config)
    result = ws.cli("run", "s")
    assert result.exit_code != 0
    assert "anonymous: true without api_endpoint" in " ".join(result.stderr.split())
    config["sources"]["wh"] = ws.source() | {"locaton": "US"}
    ws.write_project(config)
    result = ws.cli("run", "s")
    assert "Did you mean 'location'?" in result.stderr


# -- a process killed between any two jobs -----------------------------------------------------
# Measured on the emulator: the writes of a run with changes (query jobs other than plain
# reads, load jobs, datasets made through the API). See tests/kill_after_statements.py.
WRITES_PER_DELTA_RUN = 10


@pytest.mark.parametrize("kill_at", range(1, WRITES_PER_DELTA_RUN + 2))
def test_a_run_killed_before_any_write_claims_nothing_and_loses_nothing(
    ws: Workspace, kill_at: int
) -> None:
    """A transaction is one job (a multi-statement script): wherever the process dies, no
    sync_runs row claims success without its commit, and the next run sends every change.

    A kill before a read leaves what a kill before the next write leaves, so one case per write
    covers a kill between any two jobs; the last case is not killed, and checks that the run
    made exactly the writes counted here."""
    killed_before_write(ws, kill_at, WRITES_PER_DELTA_RUN)


def test_a_model_calling_outside_the_query_is_refused_before_anything_runs(
    ws: Workspace,
) -> None:
    """A model that sends SQL to an external database (EXTERNAL_QUERY) is refused by the
    models' function rule, naming the function; the engine's datasets are not even made."""
    assert isinstance(ws, BigQueryWorkspace)
    ws.users([(1, "a@x", "A")])
    ws.simple_project(
        model={"sql": "select * from external_query('us.crm', 'select 1 as id, 2 as email')"}
    )
    refused = ws.cli("run", "s")
    message = " ".join(refused.stderr.split())
    assert refused.exit_code == 2 and "external_query" in message.lower(), message
    assert "runs SQL on an external database" in message, message
    assert {dataset.dataset_id for dataset in ws.client().list_datasets()} == {ws.dataset}


def test_views_that_only_read_are_read_through_the_api_and_run(ws: Workspace) -> None:
    """The views a model reads are found through the API (``view_query``), however deep, and
    views that only read run. (A view calling a function with side effects cannot be made on
    the emulator: it checks EXTERNAL_QUERY's connection when the view is created.)"""
    assert isinstance(ws, BigQueryWorkspace)
    ws.users([(1, "a@x", "A"), (2, "b@x", "B")])
    client = ws.client()
    for name, text in (
        ("ranked", "SELECT id, email, name FROM lightning.users"),
        ("firsts", "WITH r AS (SELECT * FROM lightning.ranked) SELECT * FROM r"),
    ):
        client.query(f"CREATE VIEW lightning.{name} AS {text}").result()
    ws.simple_project(model={"sql": "select * from firsts"})
    ran = ws.cli("run", "s", "--json")
    assert ran.exit_code == 0, ran.stderr
    assert ran.json()["counts"]["succeeded"]["added"] == 2
