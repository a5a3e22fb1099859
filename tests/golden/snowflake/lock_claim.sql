/* Take the sync's lock in one statement where no run holds it, with a run id above every one */
/* seen (State.acquire, where the warehouse cannot keep two runs from both inserting): the */
/* lock read that follows tells whether the row went in. It does not where the lock is held, */
/* or where the run id is not above the largest (a clock behind another host's); the run then */
/* goes on as one that reads first, then inserts, then reads its row back. */
INSERT INTO "HIGHTOUCH_PLANNER"."LIGHTNING_LOCKS" (
  "SYNC_ID",
  "SYNC_RUN_ID",
  "OWNER",
  "ACQUIRED_AT",
  "HEARTBEAT_AT"
)
SELECT
  :sync_id,
  :sync_run_id,
  :owner,
  :now,
  :now
FROM (
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
  ) AS "ALL_IDS"
) AS "IDS"
WHERE
  COALESCE("IDS"."LARGEST", 0) < :sync_run_id
  AND NOT EXISTS(
    SELECT
      1
    FROM "HIGHTOUCH_PLANNER"."LIGHTNING_LOCKS" AS "L"
    WHERE
      "L"."SYNC_ID" = :sync_id
  );
