/* Outcomes by op; a row rejected before sending (a duplicated key) is counted apart: it is */
/* planned and failed, but never attempted. */
SELECT
  "D"."_LIGHTNING_OP",
  COALESCE("R"."STATUS", 'succeeded') AS "STATUS",
  NOT "D"."_LIGHTNING_REJECT_REASON" IS NULL AS "REJECTED_BEFORE_SEND",
  COUNT(*)
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_DELTA" AS "D"
LEFT JOIN "HIGHTOUCH_PLANNER"."S_1700000000000000_REJECTIONS" AS "R"
  ON "R"."ROW_ID" = "D"."_LIGHTNING_ROW_ID"
GROUP BY
  "D"."_LIGHTNING_OP",
  COALESCE("R"."STATUS", 'succeeded'),
  NOT "D"."_LIGHTNING_REJECT_REASON" IS NULL;
