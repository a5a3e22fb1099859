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
) AS `sync_logs`;
