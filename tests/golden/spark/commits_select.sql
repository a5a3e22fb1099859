SELECT
  `sync_run_id`,
  `plan_table`,
  `rejections_table`,
  `primary_key`,
  `hash_version`,
  `mapping_signature`
FROM `hightouch_planner`.`lightning_commits`
WHERE
  `sync_id` = :sync_id
ORDER BY
  `sync_run_id` DESC;
