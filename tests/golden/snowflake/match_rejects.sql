/* Keys whose match value (the column addressing the record in the destination) is shared */
/* with another key: like a duplicated key, their rows fail before sending. (A NULL match */
/* value fails in the destination's own row check, with its reason.) The plan's NULL-key group */
/* (deleted from it after the delta is built) is no key and shares no match value. */
SELECT
  "P"."ROW_ID" AS "ROW_ID",
  'match column \'email\' is not unique (another key has it)' AS "REASON"
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN" AS "P"
INNER JOIN (
  SELECT
    "MATCH_VALUE"
  FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
  WHERE
    NOT "MATCH_VALUE" IS NULL AND NOT "ROW_ID" IS NULL
  GROUP BY
    "MATCH_VALUE"
  HAVING
    COUNT(*) > 1
) AS "SHARED"
  ON "SHARED"."MATCH_VALUE" = "P"."MATCH_VALUE";
