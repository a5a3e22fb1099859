/* A sync's array_expansion: the model with one row per element of one array column (a NULL */
/* or empty array gives no row), the element in a generated column after the model's own. */
/* The array and the element come from the dialect (Dialect.array_elements). */
SELECT
  `model_row`.*,
  IF(
    JSON_TYPE(`_lightning_element`) IN ('object', 'array'),
    TO_JSON_STRING(`_lightning_element`),
    JSON_VALUE(`_lightning_element`, '$')
  ) AS `_ht_Tags_element`
FROM (
  SELECT
    *
  FROM t
) AS `model_row`
CROSS JOIN UNNEST(JSON_QUERY_ARRAY(
  IF(
    JSON_TYPE(PARSE_JSON(`model_row`.`Tags`)) = 'array',
    PARSE_JSON(`model_row`.`Tags`),
    NULL
  ),
  '$'
)) AS `_lightning_element`;
