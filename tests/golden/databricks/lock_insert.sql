INSERT INTO `hightouch_planner`.`lightning_locks` (
  `sync_id`,
  `sync_run_id`,
  `owner`,
  `acquired_at`,
  `heartbeat_at`
)
VALUES
  (:sync_id, :sync_run_id, :owner, :now, :now);
