/* Everything taking a sync's lock needs, in one read: */
/* - 'lock' rows: one per lock row of the sync (or one row of NULLs when it is not locked), */
/*   each with the largest run id seen (of any sync) and the warehouse's hash probe */
/*   (Dialect.hash_probe), read along; */
/* - 'commit' rows: the sync's committed runs (what commits_select.sql reads), so the run */
/*   that takes the lock knows its baseline without another round trip; */
/* - 'column' rows: the columns of the sync's run tables (Dialect.schema_columns_query, as */
/*   rows of __run_catalog__), so that a steady run reads no catalog of its own to know them */
/*   (State.run_tables); none where the warehouse has no such query (no_run_catalog.sql). */
/* __sync_logs__ names the sync-log tables (reading no row of them; State.sync_logs_check) so */
/* that the read fails when any of the engine's tables is missing: a run then creates them */
/* and reads again, and a steady run needs no catalog read to know they exist */
/* (engine/warehouse.py, lock_sync). */
SELECT
  'lock' AS "ROW_KIND",
  "L"."SYNC_RUN_ID" AS "SYNC_RUN_ID",
  "L"."OWNER" AS "OWNER",
  "L"."HEARTBEAT_AT" AS "HEARTBEAT_AT",
  "IDS"."LARGEST" AS "LARGEST",
  HASH(
    42,
    'lightning',
    CAST(1.5 AS DOUBLE),
    TRUE,
    NULL,
    CAST('2024-01-02 03:04:05.123456' AS TIMESTAMPNTZ),
    CAST('2024-01-02' AS DATE),
    CAST(12.34 AS DECIMAL(10, 2))
  ) AS "HASH_PROBE",
  CAST(NULL AS VARCHAR) AS "PLAN_TABLE",
  CAST(NULL AS VARCHAR) AS "REJECTIONS_TABLE",
  CAST(NULL AS VARCHAR) AS "PRIMARY_KEY",
  CAST(NULL AS VARCHAR) AS "HASH_VERSION",
  CAST(NULL AS VARCHAR) AS "MAPPING_SIGNATURE"
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
LEFT JOIN "HIGHTOUCH_PLANNER"."LIGHTNING_LOCKS" AS "L"
  ON "L"."SYNC_ID" = :sync_id
CROSS JOIN (
  /* One row that names the three sync-log tables and reads none of their rows: the lock read */
  /* (lock_state.sql) joins it, so that the read fails when one of them is missing */
  /* (State.sync_logs_check). */
  SELECT
    COUNT(*) AS "LOGS"
  FROM (
    SELECT
      1 AS "ONE"
    FROM "HIGHTOUCH_AUDIT"."SYNC_CHANGELOG"
    WHERE
      1 = 0
    UNION ALL
    SELECT
      1 AS "ONE"
    FROM "HIGHTOUCH_AUDIT"."SYNC_SNAPSHOT"
    WHERE
      1 = 0
    UNION ALL
    SELECT
      1 AS "ONE"
    FROM "HIGHTOUCH_AUDIT"."SYNC_RUNS"
    WHERE
      1 = 0
  ) AS "SYNC_LOGS"
) AS "LOGS"
UNION ALL
SELECT
  'commit' AS "ROW_KIND",
  "C"."SYNC_RUN_ID",
  NULL,
  NULL,
  NULL,
  NULL,
  "C"."PLAN_TABLE",
  "C"."REJECTIONS_TABLE",
  "C"."PRIMARY_KEY",
  "C"."HASH_VERSION",
  "C"."MAPPING_SIGNATURE"
FROM "HIGHTOUCH_PLANNER"."LIGHTNING_COMMITS" AS "C"
WHERE
  "C"."SYNC_ID" = :sync_id
UNION ALL
SELECT
  'column',
  CAST("CAT"."ORDINAL_POSITION" AS BIGINT),
  NULL,
  NULL,
  NULL,
  NULL,
  CAST("CAT"."TABLE_NAME" AS VARCHAR),
  CAST("CAT"."COLUMN_NAME" AS VARCHAR),
  CAST("CAT"."DATA_TYPE" AS VARCHAR),
  CAST("CAT"."NUMERIC_PRECISION" AS VARCHAR),
  CAST("CAT"."NUMERIC_SCALE" AS VARCHAR)
FROM (
  SELECT
    table_name,
    column_name,
    data_type,
    numeric_precision,
    numeric_scale,
    ordinal_position
  FROM information_schema.columns
  WHERE
    table_schema = 'HIGHTOUCH_PLANNER'
    AND LOWER(table_name) LIKE 's_%'
    AND table_catalog = CURRENT_DATABASE()
) AS "CAT";
