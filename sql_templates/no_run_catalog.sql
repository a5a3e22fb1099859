-- No rows of a run catalog (dialects/run_catalog.py: CATALOG_COLUMNS), for the lock read
-- (lock_state.sql) where the warehouse has no catalog query to take along.
SELECT
    CAST(NULL AS VARCHAR) AS table_name,
    CAST(NULL AS VARCHAR) AS column_name,
    CAST(NULL AS VARCHAR) AS data_type,
    CAST(NULL AS INTEGER) AS numeric_precision,
    CAST(NULL AS INTEGER) AS numeric_scale,
    CAST(NULL AS INTEGER) AS ordinal_position
FROM (SELECT 1 AS one) AS nothing
WHERE 1 = 0;
