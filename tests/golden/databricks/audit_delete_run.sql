/* Sync-log rows of a run that never committed (warehouses without transactions only). */
DELETE FROM `hightouch_audit`.`sync_changelog`
WHERE
  `sync_id` = :sync_id AND `sync_run_id` = :sync_run_id;
