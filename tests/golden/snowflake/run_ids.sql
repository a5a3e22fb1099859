/* The largest run id of every sync, committed or holding a lock (NULL when there is none): a */
/* new run id is above it (lock_state.sql reads it, lock_claim.sql checks the claim against it). */
SELECT
  MAX("SYNC_RUN_ID") AS "LARGEST"
FROM (
  SELECT
    "SYNC_RUN_ID"
  FROM "HIGHTOUCH_PLANNER"."LIGHTNING_COMMITS"
  UNION ALL
  SELECT
    "SYNC_RUN_ID"
  FROM "HIGHTOUCH_PLANNER"."LIGHTNING_LOCKS"
) AS "ALL_IDS";
