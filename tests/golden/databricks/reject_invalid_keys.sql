/* Rows rejected before sending (duplicated keys): failed, with their reason. */
INSERT INTO `hightouch_planner`.`s_1700000000000000_rejections` (
  `row_id`,
  `op_type`,
  `status`,
  `failure_reason`,
  `match_value`
)
SELECT
  `_lightning_row_id`,
  `_lightning_op`,
  'failed',
  `_lightning_reject_reason`,
  `_lightning_match`
FROM `hightouch_planner`.`s_1700000000000000_delta`
WHERE
  NOT `_lightning_reject_reason` IS NULL;
