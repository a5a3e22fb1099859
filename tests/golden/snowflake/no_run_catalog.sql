/* No rows of a run catalog (dialects/run_catalog.py: CATALOG_COLUMNS), for the lock read */
/* (lock_state.sql) where the warehouse has no catalog query to take along. */
SELECT
  CAST(NULL AS VARCHAR) AS "TABLE_NAME",
  CAST(NULL AS VARCHAR) AS "COLUMN_NAME",
  CAST(NULL AS VARCHAR) AS "DATA_TYPE",
  CAST(NULL AS INT) AS "NUMERIC_PRECISION",
  CAST(NULL AS INT) AS "NUMERIC_SCALE",
  CAST(NULL AS INT) AS "ORDINAL_POSITION"
FROM (
  SELECT
    1 AS "ONE"
) AS "NOTHING"
WHERE
  1 = 0;
