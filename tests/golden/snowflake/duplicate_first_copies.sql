/* One copy of each duplicated key, for the sync logs: a duplicated key is rejected and never */
/* sent, but its changelog row shows one copy's model values, the copy whose fields sort first */
/* as JSON text (a stable choice, whatever order the warehouse reads the rows in). The text is */
/* a column of its own before it is ordered by (some engines refuse a computed window order). */
SELECT
  *
FROM (
  SELECT
    "T".*,
    ROW_NUMBER() OVER (PARTITION BY "T"."_LIGHTNING_ROW_ID" ORDER BY "T"."_LIGHTNING_FIELDS_TEXT") AS "_LIGHTNING_COPY"
  FROM (
    SELECT
      "S".*,
      CAST(CASE
        WHEN "D"."_LIGHTNING_OP" = 'removed'
        THEN OBJECT_CONSTRUCT_KEEP_NULL('row_id', "D"."_LIGHTNING_ROW_ID")
        ELSE OBJECT_CONSTRUCT_KEEP_NULL(
          'account', "D"."_LIGHTNING_COL_0",
          'id', "D"."_LIGHTNING_COL_1",
          'email', "D"."_LIGHTNING_COL_2",
          'we"ird', "D"."_LIGHTNING_COL_3"
        )
      END AS VARCHAR) AS "_LIGHTNING_FIELDS_TEXT"
    FROM "LIGHTNING_STAGE_1700000000000000" AS "S"
    WHERE
      "S"."_LIGHTNING_ROW_ID" IN (
        SELECT
          "ROW_ID"
        FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
        WHERE
          "COPIES" > 1
      )
  ) AS "T"
) AS "COPIES"
WHERE
  "_LIGHTNING_COPY" = 1;
