SELECT
  "_lightning_op",
  COUNT(*)
FROM "hightouch_planner"."s_1700000000000000_delta"
GROUP BY
  "_lightning_op";
