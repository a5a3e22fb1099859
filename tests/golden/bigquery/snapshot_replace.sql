/* This sync's rows in the snapshot are replaced: one row per model row, plus removals */
/* still pending (their last attempt failed or was aborted). failure_reason is set for failed */
/* rows only (an aborted row's reason is the run's error, in sync_runs.error). */
DELETE FROM `hightouch_audit`.`sync_snapshot`
WHERE
  `sync_id` = @sync_id;

INSERT INTO `hightouch_audit`.`sync_snapshot` (
  `sync_id`,
  `sync_run_id`,
  `row_id`,
  `op_type`,
  `status`,
  `failure_reason`,
  `fields`
)
SELECT
  @sync_id,
  @sync_run_id,
  CAST(`s`.`_lightning_row_id` AS STRING),
  COALESCE(`d`.`_lightning_op`, 'unchanged'),
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
FROM `lightning_stage_1700000000000000` AS `s`
LEFT JOIN `hightouch_planner`.`s_1700000000000000_delta` AS `d`
  ON `d`.`_lightning_row_id` = `s`.`_lightning_row_id`
LEFT JOIN `hightouch_planner`.`s_1700000000000000_rejections` AS `r`
  ON `r`.`row_id` = `s`.`_lightning_row_id`
WHERE
  NOT `s`.`_lightning_row_id` IS NULL
UNION ALL
SELECT
  @sync_id,
  @sync_run_id,
  CAST(`r`.`row_id` AS STRING),
  `r`.`op_type`,
  `r`.`status`,
  CASE WHEN `r`.`status` = 'failed' THEN `r`.`failure_reason` END,
  NULL
FROM `hightouch_planner`.`s_1700000000000000_rejections` AS `r`
WHERE
  `r`.`op_type` = 'removed';
