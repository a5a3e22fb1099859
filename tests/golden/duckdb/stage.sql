/* The model, read once: every later step reads this snapshot, never the model again. */
CREATE TEMPORARY TABLE "lightning_stage_1700000000000000" AS
SELECT
  REPLACE(REPLACE(CAST("account" AS TEXT), '\', '\\'), '|', '\|') || '|' || REPLACE(REPLACE(CAST("id" AS TEXT), '\', '\\'), '|', '\|') AS "_lightning_row_id",
  HASH("email", "we""ird") AS "_lightning_row_hash",
  CAST("email" AS TEXT) AS "_lightning_match",
  "model_row".*
FROM (
  SELECT
    *
  FROM t
) AS "model_row";
