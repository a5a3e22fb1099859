/* The keys a run that never committed planned to send (its delta, kept until a later run */
/* commits): it may have sent any of them before it died. */
SELECT
  `_lightning_row_id` AS `row_id`,
  `_lightning_op` AS `op_type`,
  `_lightning_match` AS `match_value`
FROM `hightouch_planner`.`s_1600000000000000_delta`
WHERE
  `_lightning_reject_reason` IS NULL;
