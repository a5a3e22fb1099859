/* Planned ops, and how many of them are rejected before sending (duplicated keys). */
SELECT
  "_LIGHTNING_OP",
  COUNT(*),
  COUNT("_LIGHTNING_REJECT_REASON")
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_DELTA"
GROUP BY
  "_LIGHTNING_OP";
