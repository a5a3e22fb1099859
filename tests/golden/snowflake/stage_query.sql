/* The model's rows as the engine reads them: the key (row_id), the hash of the mapped columns, */
/* the match value, and every model column under a positional name (the model's own names are */
/* user input and could collide with the engine's columns; the logs and payload map them back). */
SELECT
  REPLACE(REPLACE(CAST("account" AS VARCHAR), '\\', '\\\\'), '|', '\\|') || '|' || REPLACE(REPLACE(CAST("id" AS VARCHAR), '\\', '\\\\'), '|', '\\|') AS "_LIGHTNING_ROW_ID",
  HASH("email", "we""ird") AS "_LIGHTNING_ROW_HASH",
  CAST("email" AS VARCHAR) AS "_LIGHTNING_MATCH",
  "MODEL_ROW"."account" AS "_LIGHTNING_COL_0",
  "MODEL_ROW"."id" AS "_LIGHTNING_COL_1",
  "MODEL_ROW"."email" AS "_LIGHTNING_COL_2",
  "MODEL_ROW"."we""ird" AS "_LIGHTNING_COL_3"
FROM (
  SELECT
    *
  FROM t
) AS "MODEL_ROW";
