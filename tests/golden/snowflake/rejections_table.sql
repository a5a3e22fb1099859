/* Every planned row that did not succeed: failed (attempted) or aborted (never attempted). */
/* row_id has the plan's key type (an integer key stays an integer: faster joins). */
CREATE TABLE "HIGHTOUCH_PLANNER"."S_1700000000000000_REJECTIONS" AS
SELECT
  "ROW_ID",
  CAST(NULL AS VARCHAR) AS "OP_TYPE",
  CAST(NULL AS VARCHAR) AS "STATUS",
  CAST(NULL AS VARCHAR) AS "FAILURE_REASON",
  CAST(NULL AS VARCHAR) AS "MATCH_VALUE"
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
WHERE
  FALSE;
