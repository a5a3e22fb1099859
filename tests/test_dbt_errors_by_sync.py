"""The public dbt-hightouch package's ``errors_by_sync`` model, run on the engine's sync logs.

The package (github.com/hightouchio/dbt-hightouch, Apache-2.0, at commit ee17ad5) ranks a
sync's row errors by how many keys hit each ``failure_reason``, counting every changelog row
whose reason is not NULL, whatever its status. A run that ends early aborts many rows at
once; if each carried the run's error as its reason, that one message would outrank every
real row failure. The documented rule (``failure_reason``: set "if the status is failed")
keeps an aborted row's reason NULL; the run's error is in ``sync_runs.error``.

The model and the staging model it reads are below as the package has them; only the dbt
Jinja is resolved (``ref`` inlines the staging model, ``source`` names the log table, as dbt
does for an ephemeral model), then the Snowflake SQL is transpiled like the documentation's
example queries in ``test_sync_log_queries.py``.
"""

from __future__ import annotations

import pytest

from tests.conftest import Workspace
from tests.fakes.http_sink import HttpSink
from tests.test_sync_log_queries import MOST_COMMON_ERROR, duckdb_sql

# models/staging/stg_hightouch_audit__sync_changelog.sql
STAGING_CHANGELOG = """
with base as (
    select * from {{ source('hightouch_audit', 'sync_changelog') }}
),

final as (
    select 

        sync_id,
        sync_run_id,
        row_id as primary_key,
        op_type as operation_type,
        status as row_status,
        failure_reason as row_error_message,
        fields as row_fields

    from base

)

select * from final
"""

# models/hightouch_audit__errors_by_sync.sql
ERRORS_BY_SYNC = """
with changelog as (
    select * from {{ ref('stg_hightouch_audit__sync_changelog') }}
),

sync_run_pk_errors as (
    select  distinct

    sync_id,
    row_error_message,
    primary_key,
    1 as count_pks


    from changelog
    where row_error_message is not null
    group by 1, 2, 3 
),

sync_pk_errors as (
    select 

    sync_id,
    row_error_message,
    sum(count_pks) as n_rows_with_error
    from sync_run_pk_errors
    group by 1, 2
),

final as (

    select 

    sync_id,
    row_error_message,
    n_rows_with_error,
    dense_rank() over (partition by sync_id order by n_rows_with_error desc) as sync_level_error_rank,
    dense_rank() over (order by n_rows_with_error desc) as overall_error_rank

    from sync_pk_errors
)

select * from final
order by overall_error_rank
"""


def compiled_errors_by_sync() -> str:
    """The model as dbt compiles it (Snowflake SQL): the staging model inlined."""
    staging = STAGING_CHANGELOG.replace(
        "{{ source('hightouch_audit', 'sync_changelog') }}", "hightouch_audit.sync_changelog"
    )
    ref = "{{ ref('stg_hightouch_audit__sync_changelog') }}"
    assert ref in ERRORS_BY_SYNC
    return ERRORS_BY_SYNC.replace(ref, f"({staging}) as stg_hightouch_audit__sync_changelog")


REFUSED = "email is not allowed"


@pytest.mark.each_warehouse
def test_errors_by_sync_ranks_the_row_failure_above_an_abort(ws: Workspace) -> None:
    # 30 rows sent one at a time: rows 2, 3 and 4 are refused (a real row error); the token
    # is revoked after 8 requests, so the run ends early and about 20 rows are aborted.
    ws.users([(i, f"u{i}@x", f"User {i}") for i in range(1, 31)])
    with HttpSink() as sink:
        ws.simple_project(
            destination={"type": "http", "base_url": sink.url, "max_attempts": 1},
            sync={
                "sync_logs": ["changelog", "snapshot", "runs"],
                "http": {
                    "added": {"method": "PUT", "path": "/users/{row_id}"},
                    "changed": {"method": "PUT", "path": "/users/{row_id}"},
                    "concurrency": 1,
                }
            },
        )
        for row_id in ("2", "3", "4"):
            sink.fail_row(row_id, 400, REFUSED)
        sink.revoke_after(8)
        result = ws.cli("run", "s", "--json")
    assert result.exit_code == 1, result.stderr
    out = result.json()
    assert out["status"] == "failed" and "401" in out["error"]

    statuses = dict(
        ws.query(
            "SELECT status, count(*) FROM hightouch_audit.sync_changelog "
            "WHERE sync_id = 's' GROUP BY status"
        )
    )
    assert statuses["failed"] == 3
    assert statuses["aborted"] > statuses["failed"]  # an abort message would otherwise win
    assert out["aborted"] == statuses["aborted"]

    rows = ws.query(duckdb_sql(compiled_errors_by_sync()))
    sync_id, top_error, n_rows, sync_rank, overall_rank = rows[0]
    assert (sync_id, sync_rank, overall_rank) == ("s", 1, 1)
    assert top_error.startswith("HTTP 400") and REFUSED in top_error
    assert n_rows == 3
    assert len(rows) == 1  # aborted rows carry no row error

    # The documentation's "most common sync error" query (on the snapshot) agrees.
    (top, *rest) = ws.query(duckdb_sql(MOST_COMMON_ERROR))
    assert REFUSED in top[0] and top[1] == 3 and rest == []

    # The aborted rows' reason is the run's error, in sync_runs (as documented).
    (run,) = ws.runs()
    assert run["status"] == "failed" and run["error"] == out["error"]
    reasons = ws.query(
        "SELECT DISTINCT failure_reason FROM hightouch_audit.sync_changelog "
        "WHERE sync_id = 's' AND status <> 'failed'"
    )
    assert reasons == [(None,)]
