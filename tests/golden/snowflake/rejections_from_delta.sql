/* The run's rejections table, created with the rows rejected before sending (duplicated keys */
/* and shared match values): failed, with their reason. Delivery appends what does not succeed. */
/* row_id has the plan's key type, as the delta keeps it (rejections_table.sql makes the same */
/* table empty, for a run that builds no delta). */
CREATE TABLE "HIGHTOUCH_PLANNER"."S_1700000000000000_REJECTIONS" AS
SELECT
  "_LIGHTNING_ROW_ID" AS "ROW_ID",
  CAST("_LIGHTNING_OP" AS VARCHAR) AS "OP_TYPE",
  CAST('failed' AS VARCHAR) AS "STATUS",
  CAST("_LIGHTNING_REJECT_REASON" AS VARCHAR) AS "FAILURE_REASON",
  CAST("_LIGHTNING_MATCH" AS VARCHAR) AS "MATCH_VALUE"
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_DELTA"
WHERE
  NOT "_LIGHTNING_REJECT_REASON" IS NULL;
