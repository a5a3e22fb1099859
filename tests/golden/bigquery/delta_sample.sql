SELECT
  `_lightning_op`,
  `_lightning_row_id`,
  CASE
    WHEN `d`.`_lightning_op` = 'removed'
    THEN JSON_OBJECT('row_id', `d`.`_lightning_row_id`)
    ELSE JSON_OBJECT(
      'account', `d`.`_lightning_col_0`,
      'id', `d`.`_lightning_col_1`,
      'email', `d`.`_lightning_col_2`,
      'we"ird', `d`.`_lightning_col_3`
    )
  END AS `fields`
FROM `hightouch_planner`.`s_1700000000000000_delta` AS `d`
ORDER BY
  `_lightning_seq` NULLS LAST
LIMIT @limit;
