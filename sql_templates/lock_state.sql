-- Everything taking a sync's lock needs, in one read:
-- - 'lock' rows: one per lock row of the sync (or one row of NULLs when it is not locked),
--   each with the largest run id seen (of any sync) and the warehouse's hash probe
--   (Dialect.hash_probe), read along;
-- - 'commit' rows: the sync's committed runs (what commits_select.sql reads), so the run
--   that takes the lock knows its baseline without another round trip;
-- - 'column' rows: the columns of the sync's run tables (Dialect.schema_columns_query, as
--   rows of __run_catalog__), so that a steady run reads no catalog of its own to know them
--   (State.run_tables); none where the warehouse has no such query (no_run_catalog.sql).
-- __sync_logs__ names the sync-log tables (reading no row of them; State.sync_logs_check) so
-- that the read fails when any of the engine's tables is missing: a run then creates them
-- and reads again, and a steady run needs no catalog read to know they exist
-- (engine/warehouse.py, lock_sync).
SELECT
    'lock' AS row_kind,
    l.sync_run_id AS sync_run_id,
    l.owner AS owner,
    l.heartbeat_at AS heartbeat_at,
    ids.largest AS largest,
    __hash_probe__ AS hash_probe,
    CAST(NULL AS VARCHAR) AS plan_table,
    CAST(NULL AS VARCHAR) AS rejections_table,
    CAST(NULL AS VARCHAR) AS primary_key,
    CAST(NULL AS VARCHAR) AS hash_version,
    CAST(NULL AS VARCHAR) AS mapping_signature
FROM __run_ids__ AS ids
LEFT JOIN __locks__ AS l ON l.sync_id = :sync_id
CROSS JOIN __sync_logs__ AS logs
UNION ALL
SELECT
    'commit' AS row_kind,
    c.sync_run_id,
    NULL,
    NULL,
    NULL,
    NULL,
    c.plan_table,
    c.rejections_table,
    c.primary_key,
    c.hash_version,
    c.mapping_signature
FROM __commits__ AS c
WHERE c.sync_id = :sync_id
UNION ALL
SELECT
    'column',
    CAST(cat.ordinal_position AS BIGINT),
    NULL,
    NULL,
    NULL,
    NULL,
    CAST(cat.table_name AS VARCHAR),
    CAST(cat.column_name AS VARCHAR),
    CAST(cat.data_type AS VARCHAR),
    CAST(cat.numeric_precision AS VARCHAR),
    CAST(cat.numeric_scale AS VARCHAR)
FROM __run_catalog__ AS cat;
