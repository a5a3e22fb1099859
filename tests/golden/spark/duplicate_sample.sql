SELECT
  `row_id`,
  `copies`
FROM `hightouch_planner`.`s_1700000000000000_plan`
WHERE
  `copies` > 1
ORDER BY
  `row_id` NULLS LAST
LIMIT 10;
