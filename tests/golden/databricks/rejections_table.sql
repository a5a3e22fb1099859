/* Every planned row that did not succeed: failed (attempted) or aborted (never attempted). */
/* row_id has the plan's key type (an integer key stays an integer: faster joins). */
CREATE TABLE `hightouch_planner`.`s_1700000000000000_rejections` AS
SELECT
  `row_id`,
  CAST(NULL AS STRING) AS `op_type`,
  CAST(NULL AS STRING) AS `status`,
  CAST(NULL AS STRING) AS `failure_reason`,
  CAST(NULL AS STRING) AS `match_value`
FROM `hightouch_planner`.`s_1700000000000000_plan`
WHERE
  FALSE;
