/* The model, read once into a stage: every later step reads this snapshot, not the model. */
/* (Warehouses that can re-read the model at one snapshot skip this copy: see Planner.) */
CREATE TABLE `hightouch_planner`.`s_1700000000000000_stage` AS
SELECT
  *
FROM (
  /* The model's rows as the engine reads them: the key (row_id), the hash of the mapped columns, */
  /* the match value, and every model column under a positional name (the model's own names are */
  /* user input and could collide with the engine's columns; the logs and payload map them back). */
  SELECT
    REPLACE(REPLACE(CAST(`account` AS STRING), '\\', '\\\\'), '|', '\\|') || '|' || REPLACE(REPLACE(CAST(`id` AS STRING), '\\', '\\\\'), '|', '\\|') AS `_lightning_row_id`,
    XXHASH64(`email`, `email` IS NULL, `we"ird`, `we"ird` IS NULL) AS `_lightning_row_hash`,
    CAST(`email` AS STRING) AS `_lightning_match`,
    `model_row`.`account` AS `_lightning_col_0`,
    `model_row`.`id` AS `_lightning_col_1`,
    `model_row`.`email` AS `_lightning_col_2`,
    `model_row`.`we"ird` AS `_lightning_col_3`
  FROM (
    SELECT
      *
    FROM t
  ) AS `model_row`
) AS `staged`;
