/* One copy of each duplicated key, for the sync logs: a duplicated key is rejected and never */
/* sent, but its changelog row shows one copy's model values, the copy whose fields sort first */
/* as JSON text (a stable choice, whatever order the warehouse reads the rows in). The text is */
/* a column of its own before it is ordered by (some engines refuse a computed window order). */
SELECT
  *
FROM (
  SELECT
    `t`.*,
    ROW_NUMBER() OVER (
      PARTITION BY `t`.`_lightning_row_id`
      ORDER BY `t`.`_lightning_fields_text` NULLS LAST
    ) AS `_lightning_copy`
  FROM (
    SELECT
      `s`.*,
      CAST(CASE
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
      END AS STRING) AS `_lightning_fields_text`
    FROM `hightouch_planner`.`s_1700000000000000_stage` AS `s`
    WHERE
      `s`.`_lightning_row_id` IN (
        SELECT
          `row_id`
        FROM `hightouch_planner`.`s_1700000000000000_plan`
        WHERE
          `copies` > 1
      )
  ) AS `t`
) AS `copies`
WHERE
  `_lightning_copy` = 1;
