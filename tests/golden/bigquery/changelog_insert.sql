/* failure_reason is set for failed rows only (as documented); an aborted row's reason is */
/* the run's error, in sync_runs.error. */
INSERT INTO `hightouch_audit`.`sync_changelog` (
  `sync_id`,
  `sync_run_id`,
  `op_type`,
  `row_id`,
  `status`,
  `failure_reason`,
  `fields`
)
SELECT
  @sync_id,
  @sync_run_id,
  `d`.`_lightning_op`,
  CAST(`d`.`_lightning_row_id` AS STRING),
  COALESCE(`r`.`status`, 'succeeded'),
  CASE WHEN `r`.`status` = 'failed' THEN `r`.`failure_reason` END,
  CASE
    WHEN `d`.`_lightning_op` = 'removed'
    THEN JSON_OBJECT('row_id', `d`.`_lightning_row_id`)
    ELSE JSON_OBJECT(
      'account', `d`.`_lightning_col_0`,
      'id', `d`.`_lightning_col_1`,
      'email', `d`.`_lightning_col_2`,
      'we"ird', `d`.`_lightning_col_3`
    )
  END
FROM `hightouch_planner`.`s_1700000000000000_delta` AS `d`
LEFT JOIN `hightouch_planner`.`s_1700000000000000_rejections` AS `r`
  ON `r`.`row_id` = `d`.`_lightning_row_id`;
