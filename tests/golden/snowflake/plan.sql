/* The run's plan: one row per key (NULL keys fold into one group, counted then deleted), */
/* with the hash of the mapped columns and what a later removal needs (the match value). */
CREATE TABLE "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN" AS
SELECT
  "_LIGHTNING_ROW_ID" AS "ROW_ID",
  CASE WHEN COUNT(*) = 1 THEN MIN("_LIGHTNING_ROW_HASH") END AS "ROW_HASH",
  MIN("_LIGHTNING_MATCH") AS "MATCH_VALUE",
  COUNT(*) AS "COPIES"
FROM "LIGHTNING_STAGE_1700000000000000"
GROUP BY
  "_LIGHTNING_ROW_ID";
