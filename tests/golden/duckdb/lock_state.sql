/* The sync's lock rows and the largest run id seen (of any sync), in one read: one row per */
/* lock row of the sync, or one row of NULLs and the largest id when the sync is not locked. */
/* Each row also carries the warehouse's hash probe (Dialect.hash_probe), read along. */
SELECT
  "l"."sync_run_id",
  "l"."owner",
  "l"."heartbeat_at",
  "ids"."largest",
  HASH(
    42,
    'lightning',
    CAST(1.5 AS DOUBLE),
    TRUE,
    NULL,
    CAST('2024-01-02 03:04:05.123456' AS TIMESTAMP),
    CAST('2024-01-02' AS DATE),
    CAST(12.34 AS DECIMAL(10, 2))
  ) AS "hash_probe"
FROM (
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
  ) AS "all_ids"
) AS "ids"
LEFT JOIN "hightouch_planner"."lightning_locks" AS "l"
  ON "l"."sync_id" = $sync_id;
