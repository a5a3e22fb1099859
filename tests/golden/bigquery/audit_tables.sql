/* Sync logs. Column names are a public contract (dbt-hightouch reads them): never rename. */
CREATE TABLE IF NOT EXISTS `hightouch_audit`.`sync_changelog` (
  `sync_id` STRING,
  `sync_run_id` INT64,
  `op_type` STRING,
  `row_id` STRING,
  `status` STRING,
  `failure_reason` STRING,
  `fields` JSON
);

CREATE TABLE IF NOT EXISTS `hightouch_audit`.`sync_snapshot` (
  `sync_id` STRING,
  `sync_run_id` INT64,
  `row_id` STRING,
  `op_type` STRING,
  `status` STRING,
  `failure_reason` STRING,
  `fields` JSON
);

CREATE TABLE IF NOT EXISTS `hightouch_audit`.`sync_runs` (
  `sync_id` STRING,
  `sync_run_id` INT64,
  `primary_key` STRING,
  `destination` STRING,
  `model_name` STRING,
  `model_id` STRING,
  `status` STRING,
  `error` STRING,
  `started_at` DATETIME,
  `finished_at` DATETIME,
  `num_planned_add` INT64,
  `num_planned_change` INT64,
  `num_planned_remove` INT64,
  `num_attempted_add` INT64,
  `num_attempted_change` INT64,
  `num_attempted_remove` INT64,
  `num_succeeded_add` INT64,
  `num_succeeded_change` INT64,
  `num_succeeded_remove` INT64,
  `num_failed_add` INT64,
  `num_failed_change` INT64,
  `num_failed_remove` INT64
);
