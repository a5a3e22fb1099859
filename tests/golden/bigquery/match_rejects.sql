/* Keys whose match value (the column addressing the record in the destination) is shared */
/* with another key: like a duplicated key, their rows fail before sending. (A NULL match */
/* value fails in the destination's own row check, with its reason.) The plan's NULL-key group */
/* (deleted from it after the delta is built) is no key and shares no match value. */
SELECT
  `p`.`row_id` AS `row_id`,
  'match column \'email\' is not unique (another key has it)' AS `reason`
FROM `hightouch_planner`.`s_1700000000000000_plan` AS `p`
INNER JOIN (
  SELECT
    `match_value`
  FROM `hightouch_planner`.`s_1700000000000000_plan`
  WHERE
    NOT `match_value` IS NULL AND NOT `row_id` IS NULL
  GROUP BY
    `match_value`
  HAVING
    COUNT(*) > 1
) AS `shared`
  ON `shared`.`match_value` = `p`.`match_value`;
