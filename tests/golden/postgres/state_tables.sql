/* The engine's state in the planner schema. A run counts only once its commit row exists. */
CREATE TABLE IF NOT EXISTS "hightouch_planner"."lightning_commits" (
  "sync_id" TEXT,
  "sync_run_id" BIGINT,
  "committed_at" TIMESTAMP,
  "plan_table" TEXT,
  "rejections_table" TEXT,
  "primary_key" TEXT,
  "hash_version" TEXT,
  "mapping_signature" TEXT
);

CREATE TABLE IF NOT EXISTS "hightouch_planner"."lightning_locks" (
  "sync_id" TEXT,
  "sync_run_id" BIGINT,
  "owner" TEXT,
  "acquired_at" TIMESTAMP,
  "heartbeat_at" TIMESTAMP
);
