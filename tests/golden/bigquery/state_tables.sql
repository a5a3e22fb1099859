/* The engine's state in the planner schema. A run counts only once its commit row exists. */
CREATE TABLE IF NOT EXISTS `hightouch_planner`.`lightning_commits` (
  `sync_id` STRING,
  `sync_run_id` INT64,
  `committed_at` DATETIME,
  `plan_table` STRING,
  `rejections_table` STRING,
  `primary_key` STRING,
  `hash_version` STRING,
  `mapping_signature` STRING
);

CREATE TABLE IF NOT EXISTS `hightouch_planner`.`lightning_locks` (
  `sync_id` STRING,
  `sync_run_id` INT64,
  `owner` STRING,
  `acquired_at` DATETIME,
  `heartbeat_at` DATETIME
);
