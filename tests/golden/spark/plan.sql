/* The run's plan: one row per key (NULL keys fold into one group, counted then deleted), */
/* with the hash of the mapped columns and what a later removal needs (the match value). */
CREATE TABLE `hightouch_planner`.`s_1700000000000000_plan` AS
SELECT
  `_lightning_row_id` AS `row_id`,
  CASE WHEN COUNT(*) = 1 THEN MIN(`_lightning_row_hash`) END AS `row_hash`,
  MIN(`_lightning_match`) AS `match_value`,
  COUNT(*) AS `copies`
FROM `hightouch_planner`.`s_1700000000000000_stage`
GROUP BY
  `_lightning_row_id`;
