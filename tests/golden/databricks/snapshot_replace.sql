/* This sync's rows in the snapshot are replaced: one row per model row, plus removals */
/* still pending (their last attempt failed or was aborted). failure_reason is set for failed */
/* rows only (an aborted row's reason is the run's error, in sync_runs.error). */
DELETE FROM `hightouch_audit`.`sync_snapshot`
WHERE
  `sync_id` = :sync_id;

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
  :sync_id,
  :sync_run_id,
  CAST(`s`.`_lightning_row_id` AS STRING),
  COALESCE(`d`.`_lightning_op`, 'unchanged'),
  COALESCE(`r`.`status`, 'succeeded'),
  CASE WHEN `r`.`status` = 'failed' THEN `r`.`failure_reason` END,
  CASE
    WHEN `d`.`_lightning_op` = 'removed'
    THEN TO_JSON(STRUCT(`d`.`_lightning_row_id` AS `row_id`), MAP('ignoreNullFields', 'false'))
    ELSE TO_JSON(
      STRUCT(
        `d`.`_lightning_col_0` AS `account`,
        `d`.`_lightning_col_1` AS `id`,
        `d`.`_lightning_col_2` AS `email`,
        `d`.`_lightning_col_3` AS `we"ird`
      ),
      MAP('ignoreNullFields', 'false')
    )
  END
FROM `hightouch_planner`.`s_1700000000000000_stage` AS `s`
LEFT JOIN `hightouch_planner`.`s_1700000000000000_delta` AS `d`
  ON `d`.`_lightning_row_id` = `s`.`_lightning_row_id`
LEFT JOIN `hightouch_planner`.`s_1700000000000000_rejections` AS `r`
  ON `r`.`row_id` = `s`.`_lightning_row_id`
WHERE
  NOT `s`.`_lightning_row_id` IS NULL
UNION ALL
SELECT
  :sync_id,
  :sync_run_id,
  CAST(`r`.`row_id` AS STRING),
  `r`.`op_type`,
  `r`.`status`,
  CASE WHEN `r`.`status` = 'failed' THEN `r`.`failure_reason` END,
  NULL
FROM `hightouch_planner`.`s_1700000000000000_rejections` AS `r`
WHERE
  `r`.`op_type` = 'removed';
