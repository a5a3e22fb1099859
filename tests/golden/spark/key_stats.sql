SELECT
  COALESCE(SUM(CASE WHEN `row_id` IS NULL THEN `copies` END), 0) AS `null_key_rows`,
  COUNT(CASE WHEN NOT `row_id` IS NULL AND `copies` > 1 THEN 1 END) AS `duplicate_keys`,
  COALESCE(SUM(CASE WHEN NOT `row_id` IS NULL AND `copies` > 1 THEN `copies` END), 0) AS `duplicate_rows`
FROM `hightouch_planner`.`s_1700000000000000_plan`;
