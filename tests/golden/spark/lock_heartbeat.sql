UPDATE `hightouch_planner`.`lightning_locks` SET `heartbeat_at` = :now
WHERE
  `sync_id` = :sync_id AND `sync_run_id` = :sync_run_id;
