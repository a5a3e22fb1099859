/* The largest run id of every sync, committed or holding a lock (NULL when there is none): a */
/* new run id is above it (lock_state.sql reads it, lock_claim.sql checks the claim against it). */
SELECT
  MAX("sync_run_id") AS "largest"
FROM (
  SELECT
    "sync_run_id"
  FROM "hightouch_planner"."lightning_commits"
  UNION ALL
  SELECT
    "sync_run_id"
  FROM "hightouch_planner"."lightning_locks"
) AS "all_ids";
