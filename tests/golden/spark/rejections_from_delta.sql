/* The run's rejections table, created with the rows rejected before sending (duplicated keys */
/* and shared match values): failed, with their reason. Delivery appends what does not succeed. */
/* row_id has the plan's key type, as the delta keeps it (rejections_table.sql makes the same */
/* table empty, for a run that builds no delta). */
CREATE TABLE `hightouch_planner`.`s_1700000000000000_rejections` AS
SELECT
  `_lightning_row_id` AS `row_id`,
  CAST(`_lightning_op` AS STRING) AS `op_type`,
  CAST('failed' AS STRING) AS `status`,
  CAST(`_lightning_reject_reason` AS STRING) AS `failure_reason`,
  CAST(`_lightning_match` AS STRING) AS `match_value`
FROM `hightouch_planner`.`s_1700000000000000_delta`
WHERE
  NOT `_lightning_reject_reason` IS NULL;
