/* Planned ops, and how many of them are rejected before sending (duplicated keys). */
SELECT
  `_lightning_op`,
  COUNT(*),
  COUNT(`_lightning_reject_reason`)
FROM `hightouch_planner`.`s_1700000000000000_delta`
GROUP BY
  `_lightning_op`;
