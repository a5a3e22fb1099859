/* The diff (SPEC section 3): the last committed rejections and the keys of runs that died */
/* after planning take precedence, then the plans. */
/* Only the ops this sync acts on are kept; fields are joined back from the stage. A key */
/* rejected for its match value (shared with another key) keeps its fields. */
CREATE TABLE "HIGHTOUCH_PLANNER"."S_1700000000000000_DELTA" AS
WITH "CHANGES" AS (
  SELECT
    COALESCE("C"."ROW_ID", "P"."ROW_ID") AS "ROW_ID",
    NOT "C"."ROW_ID" IS NULL AS "IN_CURRENT",
    NOT "P"."ROW_ID" IS NULL AS "IN_PREVIOUS",
    "C"."COPIES" AS "COPIES",
    COALESCE("C"."MATCH_VALUE", "P"."MATCH_VALUE") AS "MATCH_VALUE"
  FROM (
    SELECT
      *
    FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
    WHERE
      NOT "ROW_ID" IS NULL
  ) AS "C"
  FULL OUTER JOIN (
    SELECT
      *
    FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
    WHERE
      FALSE
  ) AS "P"
    ON "C"."ROW_ID" = "P"."ROW_ID"
  WHERE
    "C"."ROW_ID" IS NULL
    OR "P"."ROW_ID" IS NULL
    OR "C"."ROW_HASH" IS NULL
    OR "P"."ROW_HASH" IS NULL
    OR "C"."ROW_HASH" <> "P"."ROW_HASH"
    OR :resend_unchanged
), "RETRY_KEYS" AS (
  SELECT
    "K"."ROW_ID" AS "ROW_ID",
    CASE
      WHEN MAX(CASE WHEN "K"."OP_TYPE" = 'added' THEN 0 ELSE 1 END) = 1
      THEN 'changed'
      ELSE 'added'
    END AS "LAST_OP",
    MAX("K"."POSSIBLY_SENT") AS "POSSIBLY_SENT",
    MIN("K"."MATCH_VALUE") AS "MATCH_VALUE"
  FROM (
    SELECT
      "ROW_ID",
      "OP_TYPE",
      "MATCH_VALUE",
      0 AS "POSSIBLY_SENT"
    FROM (
      /* No rejections, typed as a run's rejections table is: row_id has the plan's key type (an */
      /* integer key stays an integer: faster joins). The baseline's rejections when there is no */
      /* baseline, and the rows of the rejections table of a run that builds no delta. */
      SELECT
        "ROW_ID",
        CAST(NULL AS VARCHAR) AS "OP_TYPE",
        CAST(NULL AS VARCHAR) AS "STATUS",
        CAST(NULL AS VARCHAR) AS "FAILURE_REASON",
        CAST(NULL AS VARCHAR) AS "MATCH_VALUE"
      FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
      WHERE
        FALSE
    ) AS "PREV_REJECTIONS"
    UNION ALL
    SELECT
      "ROW_ID",
      "OP_TYPE",
      "MATCH_VALUE",
      1 AS "POSSIBLY_SENT"
    FROM (
      /* No rejections, typed as a run's rejections table is: row_id has the plan's key type (an */
      /* integer key stays an integer: faster joins). The baseline's rejections when there is no */
      /* baseline, and the rows of the rejections table of a run that builds no delta. */
      SELECT
        "ROW_ID",
        CAST(NULL AS VARCHAR) AS "OP_TYPE",
        CAST(NULL AS VARCHAR) AS "STATUS",
        CAST(NULL AS VARCHAR) AS "FAILURE_REASON",
        CAST(NULL AS VARCHAR) AS "MATCH_VALUE"
      FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
      WHERE
        FALSE
    ) AS "UNCONFIRMED"
  ) AS "K"
  GROUP BY
    "K"."ROW_ID"
), "RETRIES" AS (
  SELECT
    "R"."ROW_ID" AS "ROW_ID",
    "R"."LAST_OP" AS "LAST_OP",
    "R"."POSSIBLY_SENT" AS "POSSIBLY_SENT",
    NOT "C"."ROW_ID" IS NULL AS "IN_CURRENT",
    "C"."COPIES" AS "COPIES",
    COALESCE("C"."MATCH_VALUE", "R"."MATCH_VALUE") AS "MATCH_VALUE"
  FROM "RETRY_KEYS" AS "R"
  LEFT JOIN "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN" AS "C"
    ON "C"."ROW_ID" = "R"."ROW_ID"
), "DIFF" AS (
  SELECT
    COALESCE("T"."ROW_ID", "CH"."ROW_ID") AS "ROW_ID",
    CASE
      WHEN NOT "T"."ROW_ID" IS NULL AND "T"."IN_CURRENT" AND "T"."LAST_OP" = 'added'
      THEN 'added'
      WHEN NOT "T"."ROW_ID" IS NULL AND "T"."IN_CURRENT"
      THEN 'changed'
      WHEN NOT "T"."ROW_ID" IS NULL AND "T"."LAST_OP" = 'added' AND "T"."POSSIBLY_SENT" = 0
      THEN NULL
      WHEN NOT "T"."ROW_ID" IS NULL
      THEN 'removed'
      WHEN "CH"."IN_CURRENT" AND "CH"."IN_PREVIOUS"
      THEN 'changed'
      WHEN "CH"."IN_CURRENT"
      THEN 'added'
      ELSE 'removed'
    END AS "OP_TYPE",
    CASE
      WHEN COALESCE("T"."COPIES", "CH"."COPIES") > 1
      THEN 'primary key is not unique'
    END AS "REJECT_REASON",
    COALESCE("T"."MATCH_VALUE", "CH"."MATCH_VALUE") AS "MATCH_VALUE"
  FROM "CHANGES" AS "CH"
  FULL OUTER JOIN "RETRIES" AS "T"
    ON "T"."ROW_ID" = "CH"."ROW_ID"
), "ACTED" AS (
  SELECT
    *
  FROM "DIFF"
  WHERE
    (
      "OP_TYPE" = 'added' AND :send_added
    )
    OR (
      "OP_TYPE" = 'changed' AND :send_changed
    )
    OR (
      "OP_TYPE" = 'removed' AND :send_removed
    )
)
SELECT
  ROW_NUMBER() OVER (ORDER BY "A"."OP_TYPE", "A"."ROW_ID") AS "_LIGHTNING_SEQ",
  "A"."ROW_ID" AS "_LIGHTNING_ROW_ID",
  "A"."OP_TYPE" AS "_LIGHTNING_OP",
  COALESCE("A"."REJECT_REASON", CASE WHEN "A"."OP_TYPE" <> 'removed' THEN "M"."REASON" END) AS "_LIGHTNING_REJECT_REASON",
  "A"."MATCH_VALUE" AS "_LIGHTNING_MATCH",
  "S"."_LIGHTNING_COL_0",
  "S"."_LIGHTNING_COL_1",
  "S"."_LIGHTNING_COL_2",
  "S"."_LIGHTNING_COL_3"
FROM "ACTED" AS "A"
LEFT JOIN (
  SELECT
    "ROW_ID",
    CAST(NULL AS VARCHAR) AS "REASON"
  FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
  WHERE
    FALSE
) AS "M"
  ON "M"."ROW_ID" = "A"."ROW_ID"
LEFT JOIN "LIGHTNING_STAGE_1700000000000000" AS "S"
  ON "S"."_LIGHTNING_ROW_ID" = "A"."ROW_ID"
  AND "A"."REJECT_REASON" IS NULL
  AND "A"."OP_TYPE" <> 'removed';
