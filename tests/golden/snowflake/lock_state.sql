/* The sync's lock rows and the largest run id seen (of any sync), in one read: one row per */
/* lock row of the sync, or one row of NULLs and the largest id when the sync is not locked. */
SELECT
  "L"."SYNC_RUN_ID",
  "L"."OWNER",
  "L"."HEARTBEAT_AT",
  "IDS"."LARGEST"
FROM (
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
LEFT JOIN "HIGHTOUCH_PLANNER"."LIGHTNING_LOCKS" AS "L"
  ON "L"."SYNC_ID" = :sync_id;
