-- Sync logs. Column names are a public contract (dbt-hightouch reads them): never rename.
CREATE TABLE IF NOT EXISTS __changelog__ (
    sync_id VARCHAR,
    sync_run_id BIGINT,
    op_type VARCHAR,
    row_id VARCHAR,
    status VARCHAR,
    failure_reason VARCHAR,
    fields JSON
);
CREATE TABLE IF NOT EXISTS __snapshot__ (
    sync_id VARCHAR,
    sync_run_id BIGINT,
    row_id VARCHAR,
    op_type VARCHAR,
    status VARCHAR,
    failure_reason VARCHAR,
    fields JSON
);
CREATE TABLE IF NOT EXISTS __runs__ (
    sync_id VARCHAR,
    sync_run_id BIGINT,
    primary_key VARCHAR,
    destination VARCHAR,
    model_name VARCHAR,
    model_id VARCHAR,
    status VARCHAR,
    error VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    num_planned_add BIGINT,
    num_planned_change BIGINT,
    num_planned_remove BIGINT,
    num_attempted_add BIGINT,
    num_attempted_change BIGINT,
    num_attempted_remove BIGINT,
    num_succeeded_add BIGINT,
    num_succeeded_change BIGINT,
    num_succeeded_remove BIGINT,
    num_failed_add BIGINT,
    num_failed_change BIGINT,
    num_failed_remove BIGINT
);
