/* Planned ops, and how many of them are rejected before sending (duplicated keys); and, as */
/* one 'keys' row, the plan's key check (key_stats.sql: NULL-key rows, duplicated keys and */
/* their rows), read along so that it costs no round trip of its own. */
SELECT
  'ops' AS "part",
  "_lightning_op" AS "op",
  COUNT(*) AS "planned",
  COUNT("_lightning_reject_reason") AS "rejected",
  0 AS "duplicate_rows"
FROM "hightouch_planner"."s_1700000000000000_delta"
GROUP BY
  "_lightning_op"
UNION ALL
SELECT
  'keys',
  NULL,
  "k"."null_key_rows",
  "k"."duplicate_keys",
  "k"."duplicate_rows"
FROM (
  SELECT
    COALESCE(SUM(CASE WHEN "row_id" IS NULL THEN "copies" END), 0) AS "null_key_rows",
    COUNT(CASE WHEN NOT "row_id" IS NULL AND "copies" > 1 THEN 1 END) AS "duplicate_keys",
    COALESCE(SUM(CASE WHEN NOT "row_id" IS NULL AND "copies" > 1 THEN "copies" END), 0) AS "duplicate_rows"
  FROM "hightouch_planner"."s_1700000000000000_plan"
) AS "k";
