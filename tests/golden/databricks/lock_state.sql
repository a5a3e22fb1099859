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
  'lock' AS `row_kind`,
  `l`.`sync_run_id` AS `sync_run_id`,
  `l`.`owner` AS `owner`,
  `l`.`heartbeat_at` AS `heartbeat_at`,
  `ids`.`largest` AS `largest`,
  XXHASH64(
    42,
    'lightning',
    CAST(1.5 AS DOUBLE),
    TRUE,
    NULL,
    CAST('2024-01-02 03:04:05.123456' AS TIMESTAMP_NTZ),
    CAST('2024-01-02' AS DATE),
    CAST(12.34 AS DECIMAL(10, 2))
  ) AS `hash_probe`,
  CAST(NULL AS STRING) AS `plan_table`,
  CAST(NULL AS STRING) AS `rejections_table`,
  CAST(NULL AS STRING) AS `primary_key`,
  CAST(NULL AS STRING) AS `hash_version`,
  CAST(NULL AS STRING) AS `mapping_signature`
FROM (
  /* The largest run id of every sync, committed or holding a lock (NULL when there is none): a */
  /* new run id is above it (lock_state.sql reads it, lock_claim.sql checks the claim against it). */
  SELECT
    MAX(`sync_run_id`) AS `largest`
  FROM (
    SELECT
      `sync_run_id`
    FROM `hightouch_planner`.`lightning_commits`
    UNION ALL
    SELECT
      `sync_run_id`
    FROM `hightouch_planner`.`lightning_locks`
  ) AS `all_ids`
) AS `ids`
LEFT JOIN `hightouch_planner`.`lightning_locks` AS `l`
  ON `l`.`sync_id` = :sync_id
CROSS JOIN (
  /* One row that names the three sync-log tables and reads none of their rows: the lock read */
  /* (lock_state.sql) joins it, so that the read fails when one of them is missing */
  /* (State.sync_logs_check). */
  SELECT
    COUNT(*) AS `logs`
  FROM (
    SELECT
      1 AS `one`
    FROM `hightouch_audit`.`sync_changelog`
    WHERE
      1 = 0
    UNION ALL
    SELECT
      1 AS `one`
    FROM `hightouch_audit`.`sync_snapshot`
    WHERE
      1 = 0
    UNION ALL
    SELECT
      1 AS `one`
    FROM `hightouch_audit`.`sync_runs`
    WHERE
      1 = 0
  ) AS `sync_logs`
) AS `logs`
UNION ALL
SELECT
  'commit' AS `row_kind`,
  `c`.`sync_run_id`,
  NULL,
  NULL,
  NULL,
  NULL,
  `c`.`plan_table`,
  `c`.`rejections_table`,
  `c`.`primary_key`,
  `c`.`hash_version`,
  `c`.`mapping_signature`
FROM `hightouch_planner`.`lightning_commits` AS `c`
WHERE
  `c`.`sync_id` = :sync_id
UNION ALL
SELECT
  'column',
  CAST(`cat`.`ordinal_position` AS BIGINT),
  NULL,
  NULL,
  NULL,
  NULL,
  CAST(`cat`.`table_name` AS STRING),
  CAST(`cat`.`column_name` AS STRING),
  CAST(`cat`.`data_type` AS STRING),
  CAST(`cat`.`numeric_precision` AS STRING),
  CAST(`cat`.`numeric_scale` AS STRING)
FROM (
  SELECT
    table_name,
    column_name,
    full_data_type AS data_type,
    numeric_precision,
    numeric_scale,
    ordinal_position
  FROM information_schema.columns
  WHERE
    table_schema = 'hightouch_planner' AND LOWER(table_name) LIKE 's_%'
) AS `cat`;
