/* Every row after the last attempted one: aborted, so the next run retries it. */
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
  'aborted',
  :reason,
  `_lightning_match`
FROM `hightouch_planner`.`s_1700000000000000_delta`
WHERE
  `_lightning_reject_reason` IS NULL AND `_lightning_seq` > :after_seq;
