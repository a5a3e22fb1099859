/* Planned ops, and how many of them are rejected before sending (duplicated keys); and, as */
/* one 'keys' row, the plan's key check (key_stats.sql: NULL-key rows, duplicated keys and */
/* their rows), read along so that it costs no round trip of its own. */
SELECT
  'ops' AS "PART",
  "_LIGHTNING_OP" AS "OP",
  COUNT(*) AS "PLANNED",
  COUNT("_LIGHTNING_REJECT_REASON") AS "REJECTED",
  0 AS "DUPLICATE_ROWS"
FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_DELTA"
GROUP BY
  "_LIGHTNING_OP"
UNION ALL
SELECT
  'keys',
  NULL,
  "K"."NULL_KEY_ROWS",
  "K"."DUPLICATE_KEYS",
  "K"."DUPLICATE_ROWS"
FROM (
  SELECT
    COALESCE(SUM(CASE WHEN "ROW_ID" IS NULL THEN "COPIES" END), 0) AS "NULL_KEY_ROWS",
    COUNT(CASE WHEN NOT "ROW_ID" IS NULL AND "COPIES" > 1 THEN 1 END) AS "DUPLICATE_KEYS",
    COALESCE(SUM(CASE WHEN NOT "ROW_ID" IS NULL AND "COPIES" > 1 THEN "COPIES" END), 0) AS "DUPLICATE_ROWS"
  FROM "HIGHTOUCH_PLANNER"."S_1700000000000000_PLAN"
) AS "K";
