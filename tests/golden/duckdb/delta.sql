/* The diff (SPEC section 3): the last committed rejections take precedence, then the plans. */
/* Only the ops this sync acts on are kept; fields are joined back from the stage. */
CREATE TABLE "hightouch_planner"."s_1700000000000000_delta" AS
WITH "diff" AS (
  SELECT
    COALESCE("c"."row_id", "p"."row_id", "r"."row_id") AS "row_id",
    CASE
      WHEN NOT "c"."row_id" IS NULL AND "r"."op_type" = 'added'
      THEN 'added'
      WHEN NOT "c"."row_id" IS NULL AND NOT "r"."op_type" IS NULL
      THEN 'changed'
      WHEN NOT "c"."row_id" IS NULL
      AND NOT "p"."row_id" IS NULL
      AND (
        "c"."row_hash" IS NULL
        OR "p"."row_hash" IS NULL
        OR "c"."row_hash" <> "p"."row_hash"
      )
      THEN 'changed'
      WHEN NOT "c"."row_id" IS NULL AND NOT "p"."row_id" IS NULL AND $resend_unchanged
      THEN 'changed'
      WHEN NOT "c"."row_id" IS NULL AND NOT "p"."row_id" IS NULL
      THEN NULL
      WHEN NOT "c"."row_id" IS NULL
      THEN 'added'
      WHEN "r"."op_type" = 'added'
      THEN NULL
      WHEN NOT "r"."op_type" IS NULL
      THEN 'removed'
      ELSE 'removed'
    END AS "op_type",
    CASE WHEN "c"."copies" > 1 THEN 'primary key is not unique' END AS "reject_reason",
    COALESCE("c"."match_value", "p"."match_value", "r"."match_value") AS "match_value"
  FROM "hightouch_planner"."s_1700000000000000_plan" AS "c"
  FULL OUTER JOIN (
    SELECT
      *
    FROM "hightouch_planner"."s_1700000000000000_plan"
    WHERE
      FALSE
  ) AS "p"
    ON "c"."row_id" = "p"."row_id"
  FULL OUTER JOIN (
    SELECT
      *
    FROM "hightouch_planner"."s_1700000000000000_rejections"
    WHERE
      FALSE
  ) AS "r"
    ON "r"."row_id" = COALESCE("c"."row_id", "p"."row_id")
), "acted" AS (
  SELECT
    *
  FROM "diff"
  WHERE
    (
      "op_type" = 'added' AND $send_added
    )
    OR (
      "op_type" = 'changed' AND $send_changed
    )
    OR (
      "op_type" = 'removed' AND $send_removed
    )
)
SELECT
  ROW_NUMBER() OVER (ORDER BY "a"."op_type", "a"."row_id") AS "_lightning_seq",
  "a"."row_id" AS "_lightning_row_id",
  "a"."op_type" AS "_lightning_op",
  "a"."reject_reason" AS "_lightning_reject_reason",
  "a"."match_value" AS "_lightning_match",
  "s"."_lightning_col_0",
  "s"."_lightning_col_1",
  "s"."_lightning_col_2",
  "s"."_lightning_col_3"
FROM "acted" AS "a"
LEFT JOIN "lightning_stage_1700000000000000" AS "s"
  ON "s"."_lightning_row_id" = "a"."row_id"
  AND "a"."reject_reason" IS NULL
  AND "a"."op_type" <> 'removed';
