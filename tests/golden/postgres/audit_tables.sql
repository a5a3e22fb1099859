/* Sync logs. Column names are a public contract (dbt-hightouch reads them): never rename. */
CREATE TABLE IF NOT EXISTS "hightouch_audit"."sync_changelog" (
  "sync_id" TEXT,
  "sync_run_id" BIGINT,
  "op_type" TEXT,
  "row_id" TEXT,
  "status" TEXT,
  "failure_reason" TEXT,
  "fields" JSONB
);

CREATE TABLE IF NOT EXISTS "hightouch_audit"."sync_snapshot" (
  "sync_id" TEXT,
  "sync_run_id" BIGINT,
  "row_id" TEXT,
  "op_type" TEXT,
  "status" TEXT,
  "failure_reason" TEXT,
  "fields" JSONB
);

CREATE TABLE IF NOT EXISTS "hightouch_audit"."sync_runs" (
  "sync_id" TEXT,
  "sync_run_id" BIGINT,
  "primary_key" TEXT,
  "destination" TEXT,
  "model_name" TEXT,
  "model_id" TEXT,
  "status" TEXT,
  "error" TEXT,
  "started_at" TIMESTAMP,
  "finished_at" TIMESTAMP,
  "num_planned_add" BIGINT,
  "num_planned_change" BIGINT,
  "num_planned_remove" BIGINT,
  "num_attempted_add" BIGINT,
  "num_attempted_change" BIGINT,
  "num_attempted_remove" BIGINT,
  "num_succeeded_add" BIGINT,
  "num_succeeded_change" BIGINT,
  "num_succeeded_remove" BIGINT,
  "num_failed_add" BIGINT,
  "num_failed_change" BIGINT,
  "num_failed_remove" BIGINT
);
