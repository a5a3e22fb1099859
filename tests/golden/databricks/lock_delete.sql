DELETE FROM `hightouch_planner`.`lightning_locks`
WHERE
  `sync_id` = :sync_id AND `sync_run_id` = :sync_run_id;
