/* No rejections, typed as a run's rejections table is: row_id has the plan's key type (an */
/* integer key stays an integer: faster joins). The baseline's rejections when there is no */
/* baseline, and the rows of the rejections table of a run that builds no delta. */
SELECT
  "row_id",
  CAST(NULL AS TEXT) AS "op_type",
  CAST(NULL AS TEXT) AS "status",
  CAST(NULL AS TEXT) AS "failure_reason",
  CAST(NULL AS TEXT) AS "match_value"
FROM "hightouch_planner"."s_1700000000000000_plan"
WHERE
  FALSE;
