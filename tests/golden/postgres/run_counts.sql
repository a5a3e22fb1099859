SELECT
  "d"."_lightning_op",
  COALESCE("r"."status", 'succeeded') AS "status",
  COUNT(*)
FROM "hightouch_planner"."s_1700000000000000_delta" AS "d"
LEFT JOIN "hightouch_planner"."s_1700000000000000_rejections" AS "r"
  ON "r"."row_id" = "d"."_lightning_row_id"
GROUP BY
  "d"."_lightning_op",
  COALESCE("r"."status", 'succeeded');
