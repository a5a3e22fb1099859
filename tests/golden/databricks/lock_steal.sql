DELETE FROM `hightouch_planner`.`lightning_locks`
WHERE
  `sync_id` = :sync_id;
