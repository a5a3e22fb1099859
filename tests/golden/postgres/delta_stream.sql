SELECT
  "_lightning_seq",
  "_lightning_row_id",
  "_lightning_op",
  "_lightning_match",
  COALESCE(CAST(TO_JSON("d"."_lightning_col_2") AS TEXT), 'null') || '' || COALESCE(
    CAST(TO_JSON(
      TO_CHAR("d"."_lightning_col_3", 'YYYY-MM-DD"T"HH24:MI:SS') || CASE
        WHEN EXTRACT(MICROSECONDS FROM "d"."_lightning_col_3") % 1000000 = 0
        THEN ''
        ELSE TO_CHAR("d"."_lightning_col_3", '.US')
      END
    ) AS TEXT),
    'null'
  ) AS "_lightning_payload",
  "d"."_lightning_col_0",
  "d"."_lightning_col_1",
  "d"."_lightning_col_2",
  "d"."_lightning_col_3"
FROM "hightouch_planner"."s_1700000000000000_delta" AS "d"
WHERE
  "_lightning_reject_reason" IS NULL
ORDER BY
  "_lightning_seq";
