/* The keys a run that never committed planned to send (its delta, kept until a later run */
/* commits): it may have sent any of them before it died. */
SELECT
  "_LIGHTNING_ROW_ID" AS "ROW_ID",
  "_LIGHTNING_OP" AS "OP_TYPE",
  "_LIGHTNING_MATCH" AS "MATCH_VALUE"
FROM "HIGHTOUCH_PLANNER"."S_1600000000000000_DELTA"
WHERE
  "_LIGHTNING_REJECT_REASON" IS NULL;
