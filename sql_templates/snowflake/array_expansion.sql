-- array_expansion.sql on Snowflake: FLATTEN's own VALUE column holds the element (a table
-- alias with column names would rename it).
SELECT
    model_row.*,
    __element__
FROM __model__ AS model_row
CROSS JOIN TABLE(FLATTEN(INPUT => __elements__)) AS expanded;
