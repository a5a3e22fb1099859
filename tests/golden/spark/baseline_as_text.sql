/* A baseline whose key was stored as an integer, read as text (the key's type changed). */
SELECT
  CAST(`row_id` AS STRING) AS `row_id`,
  `row_hash`,
  `match_value`,
  `copies`
FROM (
  SELECT
    *
  FROM `hightouch_planner`.`s_1700000000000000_plan`
  WHERE
    FALSE
) AS `prev_plan`;
