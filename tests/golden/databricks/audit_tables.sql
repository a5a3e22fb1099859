/* Sync logs. Column names are a public contract (dbt-hightouch reads them): never rename. */
CREATE TABLE IF NOT EXISTS `hightouch_audit`.`sync_changelog` (
  `sync_id` STRING,
  `sync_run_id` BIGINT,
  `op_type` STRING,
  `row_id` STRING,
  `status` STRING,
  `failure_reason` STRING,
  `fields` STRING
);

CREATE TABLE IF NOT EXISTS `hightouch_audit`.`sync_snapshot` (
  `sync_id` STRING,
  `sync_run_id` BIGINT,
  `row_id` STRING,
  `op_type` STRING,
  `status` STRING,
  `failure_reason` STRING,
  `fields` STRING
);

CREATE TABLE IF NOT EXISTS `hightouch_audit`.`sync_runs` (
  `sync_id` STRING,
  `sync_run_id` BIGINT,
  `primary_key` STRING,
  `destination` STRING,
  `model_name` STRING,
  `model_id` STRING,
  `status` STRING,
  `error` STRING,
  `started_at` TIMESTAMP_NTZ,
  `finished_at` TIMESTAMP_NTZ,
  `num_planned_add` BIGINT,
  `num_planned_change` BIGINT,
  `num_planned_remove` BIGINT,
  `num_attempted_add` BIGINT,
  `num_attempted_change` BIGINT,
  `num_attempted_remove` BIGINT,
  `num_succeeded_add` BIGINT,
  `num_succeeded_change` BIGINT,
  `num_succeeded_remove` BIGINT,
  `num_failed_add` BIGINT,
  `num_failed_change` BIGINT,
  `num_failed_remove` BIGINT
);
