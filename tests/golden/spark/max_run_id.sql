SELECT
  MAX(`sync_run_id`)
FROM (
  SELECT
    `sync_run_id`
  FROM `hightouch_planner`.`lightning_commits`
  UNION ALL
  SELECT
    `sync_run_id`
  FROM `hightouch_planner`.`lightning_locks`
) AS `ids`;
