DELETE FROM `hightouch_planner`.`s_1700000000000000_plan`
WHERE
  `row_id` IS NULL;
