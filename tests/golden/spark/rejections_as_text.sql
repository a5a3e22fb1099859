SELECT
  CAST(`row_id` AS STRING) AS `row_id`,
  `op_type`,
  `status`,
  `failure_reason`,
  `match_value`
FROM (
  SELECT
    *
  FROM `hightouch_planner`.`s_1700000000000000_rejections`
  WHERE
    FALSE
) AS `prev_rejections`;
