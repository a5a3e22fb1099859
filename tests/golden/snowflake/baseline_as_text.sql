/* A baseline whose key was stored as an integer, read as text (the key's type changed). */
SELECT
  CAST("ROW_ID" AS VARCHAR) AS "ROW_ID",
  "ROW_HASH",
  "MATCH_VALUE",
  "COPIES"
FROM (
  SELECT
    *
  FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
  WHERE
    FALSE
) AS "PREV_PLAN";
