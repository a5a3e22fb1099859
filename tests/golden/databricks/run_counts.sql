/* Outcomes by op; a row rejected before sending (a duplicated key) is counted apart: it is */
/* planned and failed, but never attempted. */
SELECT
  `d`.`_lightning_op`,
  COALESCE(`r`.`status`, 'succeeded') AS `status`,
  NOT `d`.`_lightning_reject_reason` IS NULL AS `rejected_before_send`,
  COUNT(*)
FROM `hightouch_planner`.`s_1700000000000000_delta` AS `d`
LEFT JOIN `hightouch_planner`.`s_1700000000000000_rejections` AS `r`
  ON `r`.`row_id` = `d`.`_lightning_row_id`
GROUP BY
  `d`.`_lightning_op`,
  COALESCE(`r`.`status`, 'succeeded'),
  NOT `d`.`_lightning_reject_reason` IS NULL;
