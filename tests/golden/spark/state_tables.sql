/* The engine's state in the planner schema. A run counts only once its commit row exists. */
CREATE TABLE IF NOT EXISTS `hightouch_planner`.`lightning_commits` (
  `sync_id` STRING,
  `sync_run_id` BIGINT,
  `committed_at` TIMESTAMP_NTZ,
  `plan_table` STRING,
  `rejections_table` STRING,
  `primary_key` STRING,
  `hash_version` STRING,
  `mapping_signature` STRING
);

CREATE TABLE IF NOT EXISTS `hightouch_planner`.`lightning_locks` (
  `sync_id` STRING,
  `sync_run_id` BIGINT,
  `owner` STRING,
  `acquired_at` TIMESTAMP_NTZ,
  `heartbeat_at` TIMESTAMP_NTZ
);
