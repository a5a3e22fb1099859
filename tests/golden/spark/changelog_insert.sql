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
  :sync_id,
  :sync_run_id,
  `d`.`_lightning_op`,
  CAST(`d`.`_lightning_row_id` AS STRING),
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
FROM `hightouch_planner`.`s_1700000000000000_delta` AS `d`
LEFT JOIN `hightouch_planner`.`s_1700000000000000_rejections` AS `r`
  ON `r`.`row_id` = `d`.`_lightning_row_id`;
