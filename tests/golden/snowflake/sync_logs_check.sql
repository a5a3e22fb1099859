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
) AS "SYNC_LOGS";
