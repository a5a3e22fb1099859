/* The rejections table of a run that builds no delta: empty (rejections_from_delta.sql makes */
/* it for a run that does). */
CREATE TABLE "HIGHTOUCH_PLANNER"."S_1700000000000000_REJECTIONS" AS
SELECT
  *
FROM (
  /* No rejections, typed as a run's rejections table is: row_id has the plan's key type (an */
  /* integer key stays an integer: faster joins). The baseline's rejections when there is no */
  /* baseline, and the rows of the rejections table of a run that builds no delta. */
  SELECT
    "ROW_ID",
    CAST(NULL AS VARCHAR) AS "OP_TYPE",
    CAST(NULL AS VARCHAR) AS "STATUS",
    CAST(NULL AS VARCHAR) AS "FAILURE_REASON",
    CAST(NULL AS VARCHAR) AS "MATCH_VALUE"
  FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
  WHERE
    FALSE
) AS "NO_REJECTIONS";
