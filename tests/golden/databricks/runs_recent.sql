SELECT
  *
FROM `hightouch_audit`.`sync_runs`
WHERE
  `sync_id` = :sync_id
ORDER BY
  `sync_run_id` DESC
LIMIT :limit;
