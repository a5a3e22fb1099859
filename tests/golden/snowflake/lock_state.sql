/* The sync's lock rows and the largest run id seen (of any sync), in one read: one row per */
/* lock row of the sync, or one row of NULLs and the largest id when the sync is not locked. */
/* Each row also carries the warehouse's hash probe (Dialect.hash_probe), read along. */
SELECT
  "L"."SYNC_RUN_ID",
  "L"."OWNER",
  "L"."HEARTBEAT_AT",
  "IDS"."LARGEST",
  HASH(
    42,
    'lightning',
    CAST(1.5 AS DOUBLE),
    TRUE,
    NULL,
    CAST('2024-01-02 03:04:05.123456' AS TIMESTAMPNTZ),
    CAST('2024-01-02' AS DATE),
    CAST(12.34 AS DECIMAL(10, 2))
  ) AS "HASH_PROBE"
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
