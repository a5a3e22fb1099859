-- A sync's array_expansion: the model with one row per element of one array column (a NULL
-- or empty array gives no row), the element in a generated column after the model's own.
-- The array and the element come from the dialect (Dialect.array_elements).
SELECT
    model_row.*,
    __element__
FROM __model__ AS model_row
CROSS JOIN UNNEST(__elements__) AS "expanded"("_lightning_element");
