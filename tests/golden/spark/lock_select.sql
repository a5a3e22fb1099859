SELECT
  `sync_run_id`,
  `owner`,
  `heartbeat_at`
FROM `hightouch_planner`.`lightning_locks`
WHERE
  `sync_id` = :sync_id;
