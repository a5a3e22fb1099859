SELECT
  `_lightning_op`,
  `_lightning_row_id`,
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
  END AS `fields`
FROM `hightouch_planner`.`s_1700000000000000_delta` AS `d`
ORDER BY
  `_lightning_seq` NULLS LAST
LIMIT :limit;
