/* The diff (SPEC section 3): the last committed rejections and the keys of runs that died */
/* after planning take precedence, then the plans. */
/* Only the ops this sync acts on are kept; fields are joined back from the stage. A key */
/* rejected for its match value (shared with another key) keeps its fields. */
CREATE TABLE `hightouch_planner`.`s_1700000000000000_delta` AS
WITH `changes` AS (
  SELECT
    COALESCE(`c`.`row_id`, `p`.`row_id`) AS `row_id`,
    NOT `c`.`row_id` IS NULL AS `in_current`,
    NOT `p`.`row_id` IS NULL AS `in_previous`,
    `c`.`copies` AS `copies`,
    COALESCE(`c`.`match_value`, `p`.`match_value`) AS `match_value`
  FROM (
    SELECT
      *
    FROM `hightouch_planner`.`s_1700000000000000_plan`
    WHERE
      NOT `row_id` IS NULL
  ) AS `c`
  FULL OUTER JOIN (
    SELECT
      *
    FROM `hightouch_planner`.`s_1700000000000000_plan`
    WHERE
      FALSE
  ) AS `p`
    ON `c`.`row_id` = `p`.`row_id`
  WHERE
    `c`.`row_id` IS NULL
    OR `p`.`row_id` IS NULL
    OR `c`.`row_hash` IS NULL
    OR `p`.`row_hash` IS NULL
    OR `c`.`row_hash` <> `p`.`row_hash`
    OR @resend_unchanged
), `retry_keys` AS (
  SELECT
    `k`.`row_id` AS `row_id`,
    CASE
      WHEN MAX(CASE WHEN `k`.`op_type` = 'added' THEN 0 ELSE 1 END) = 1
      THEN 'changed'
      ELSE 'added'
    END AS `last_op`,
    MAX(`k`.`possibly_sent`) AS `possibly_sent`,
    MIN(`k`.`match_value`) AS `match_value`
  FROM (
    SELECT
      `row_id`,
      `op_type`,
      `match_value`,
      0 AS `possibly_sent`
    FROM (
      /* No rejections, typed as a run's rejections table is: row_id has the plan's key type (an */
      /* integer key stays an integer: faster joins). The baseline's rejections when there is no */
      /* baseline, and the rows of the rejections table of a run that builds no delta. */
      SELECT
        `row_id`,
        CAST(NULL AS STRING) AS `op_type`,
        CAST(NULL AS STRING) AS `status`,
        CAST(NULL AS STRING) AS `failure_reason`,
        CAST(NULL AS STRING) AS `match_value`
      FROM `hightouch_planner`.`s_1700000000000000_plan`
      WHERE
        FALSE
    ) AS `prev_rejections`
    UNION ALL
    SELECT
      `row_id`,
      `op_type`,
      `match_value`,
      1 AS `possibly_sent`
    FROM (
      /* No rejections, typed as a run's rejections table is: row_id has the plan's key type (an */
      /* integer key stays an integer: faster joins). The baseline's rejections when there is no */
      /* baseline, and the rows of the rejections table of a run that builds no delta. */
      SELECT
        `row_id`,
        CAST(NULL AS STRING) AS `op_type`,
        CAST(NULL AS STRING) AS `status`,
        CAST(NULL AS STRING) AS `failure_reason`,
        CAST(NULL AS STRING) AS `match_value`
      FROM `hightouch_planner`.`s_1700000000000000_plan`
      WHERE
        FALSE
    ) AS `unconfirmed`
  ) AS `k`
  GROUP BY
    `k`.`row_id`
), `retries` AS (
  SELECT
    `r`.`row_id` AS `row_id`,
    `r`.`last_op` AS `last_op`,
    `r`.`possibly_sent` AS `possibly_sent`,
    NOT `c`.`row_id` IS NULL AS `in_current`,
    `c`.`copies` AS `copies`,
    COALESCE(`c`.`match_value`, `r`.`match_value`) AS `match_value`
  FROM `retry_keys` AS `r`
  LEFT JOIN `hightouch_planner`.`s_1700000000000000_plan` AS `c`
    ON `c`.`row_id` = `r`.`row_id`
), `diff` AS (
  SELECT
    COALESCE(`t`.`row_id`, `ch`.`row_id`) AS `row_id`,
    CASE
      WHEN NOT `t`.`row_id` IS NULL AND `t`.`in_current` AND `t`.`last_op` = 'added'
      THEN 'added'
      WHEN NOT `t`.`row_id` IS NULL AND `t`.`in_current`
      THEN 'changed'
      WHEN NOT `t`.`row_id` IS NULL AND `t`.`last_op` = 'added' AND `t`.`possibly_sent` = 0
      THEN NULL
      WHEN NOT `t`.`row_id` IS NULL
      THEN 'removed'
      WHEN `ch`.`in_current` AND `ch`.`in_previous`
      THEN 'changed'
      WHEN `ch`.`in_current`
      THEN 'added'
      ELSE 'removed'
    END AS `op_type`,
    CASE
      WHEN COALESCE(`t`.`copies`, `ch`.`copies`) > 1
      THEN 'primary key is not unique'
    END AS `reject_reason`,
    COALESCE(`t`.`match_value`, `ch`.`match_value`) AS `match_value`
  FROM `changes` AS `ch`
  FULL OUTER JOIN `retries` AS `t`
    ON `t`.`row_id` = `ch`.`row_id`
), `acted` AS (
  SELECT
    *
  FROM `diff`
  WHERE
    (
      `op_type` = 'added' AND @send_added
    )
    OR (
      `op_type` = 'changed' AND @send_changed
    )
    OR (
      `op_type` = 'removed' AND @send_removed
    )
)
SELECT
  ROW_NUMBER() OVER (ORDER BY `a`.`op_type` NULLS LAST, `a`.`row_id` NULLS LAST) AS `_lightning_seq`,
  `a`.`row_id` AS `_lightning_row_id`,
  `a`.`op_type` AS `_lightning_op`,
  COALESCE(`a`.`reject_reason`, CASE WHEN `a`.`op_type` <> 'removed' THEN `m`.`reason` END) AS `_lightning_reject_reason`,
  `a`.`match_value` AS `_lightning_match`,
  `s`.`_lightning_col_0`,
  `s`.`_lightning_col_1`,
  `s`.`_lightning_col_2`,
  `s`.`_lightning_col_3`
FROM `acted` AS `a`
LEFT JOIN (
  SELECT
    `row_id`,
    CAST(NULL AS STRING) AS `reason`
  FROM `hightouch_planner`.`s_1700000000000000_plan`
  WHERE
    FALSE
) AS `m`
  ON `m`.`row_id` = `a`.`row_id`
LEFT JOIN `lightning_stage_1700000000000000` AS `s`
  ON `s`.`_lightning_row_id` = `a`.`row_id`
  AND `a`.`reject_reason` IS NULL
  AND `a`.`op_type` <> 'removed';
