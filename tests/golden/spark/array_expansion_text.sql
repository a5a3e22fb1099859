/* A sync's array_expansion: the model with one row per element of one array column (a NULL */
/* or empty array gives no row), the element in a generated column after the model's own. */
/* The array and the element come from the dialect (Dialect.array_elements). */
SELECT
  `model_row`.*,
  `expanded`.`_lightning_element` AS `_ht_Tags_element`
FROM (
  SELECT
    *
  FROM t
) AS `model_row`
LATERAL VIEW
EXPLODE(FROM_JSON(`model_row`.`Tags`, 'array<string>')) `expanded` AS `_lightning_element`;
