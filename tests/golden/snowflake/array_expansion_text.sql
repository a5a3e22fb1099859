/* array_expansion.sql on Snowflake: FLATTEN's own VALUE column holds the element (a table */
/* alias with column names would rename it). */
SELECT
  "MODEL_ROW".*,
  CAST("EXPANDED"."VALUE" AS VARCHAR) AS "_ht_Tags_element"
FROM (
  SELECT
    *
  FROM t
) AS "MODEL_ROW"
CROSS JOIN TABLE(
  FLATTEN(
    INPUT => IFF(IS_ARRAY(PARSE_JSON("MODEL_ROW"."Tags")), PARSE_JSON("MODEL_ROW"."Tags"), NULL)
  )
) AS "EXPANDED";
