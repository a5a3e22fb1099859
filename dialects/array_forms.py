"""Each warehouse's way to read an array column one row per element (a sync's
``array_expansion``), side by side; each dialect names its own as ``array_forms``.

The engine UNNESTs the array that these forms give (sqlglot writes the warehouse's own form:
``CROSS JOIN UNNEST`` on DuckDB, PostgreSQL and BigQuery, ``TABLE(FLATTEN(...))`` on Snowflake,
``LATERAL VIEW EXPLODE`` on Databricks and Spark). An element of a JSON array (or of text
holding one) comes as text: a string as itself, anything else as its JSON text, a JSON null as
NULL; a JSON value that is not an array gives no rows, like NULL and ``[]``.
"""

from __future__ import annotations

from dialects.base import ArrayForms

# json_extract_string with ``$[*]`` gives a VARCHAR[] of the array's elements (strings
# unquoted, others as JSON), and an empty list for an object or a scalar; it reads text as
# JSON itself. https://duckdb.org/docs/stable/data/json/json_functions
DUCKDB = ArrayForms(
    native=("*[[]*]",),  # VARCHAR[] (a list) and VARCHAR[3] (an array)
    json=("json",),
    text=("varchar",),
    json_array="json_extract_string(__v__, '$[*]')",
)

# jsonb_array_elements_text refuses an object or a scalar, hence the jsonb_typeof guard.
# https://www.postgresql.org/docs/current/functions-json.html
POSTGRES = ArrayForms(
    native=("*[]",),
    json=("json", "jsonb"),
    text=("text", "varchar", "bpchar"),
    json_array=(
        "ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(CAST(__v__ AS JSONB)) "
        "= 'array' THEN CAST(__v__ AS JSONB) END))"
    ),
)

# FLATTEN also reads an OBJECT's values, hence IS_ARRAY; an element (a VARIANT, in a native
# ARRAY too) cast to VARCHAR is a string's own text, else its JSON, and NULL for a JSON null.
# https://docs.snowflake.com/en/sql-reference/functions/flatten
SNOWFLAKE = ArrayForms(
    native=("array",),
    json=("variant",),
    text=("text", "varchar", "string"),
    json_array="IFF(IS_ARRAY(__v__), __v__, NULL)",
    json_element="CAST(__v__ AS VARCHAR)",
    text_to_json="PARSE_JSON(__v__)",
    native_element="CAST(__v__ AS VARCHAR)",
    element_column="value",  # FLATTEN's VALUE (sql_templates/snowflake/array_expansion.sql)
)

# JSON_QUERY_ARRAY gives the elements as JSON (NULL for anything but an array; JSON_TYPE
# keeps an object from failing where the check is strict); JSON_VALUE a scalar's text.
# https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions
BIGQUERY = ArrayForms(
    native=("array<*",),
    json=("json",),
    text=("string",),
    json_array="JSON_QUERY_ARRAY(IF(JSON_TYPE(__v__) = 'array', __v__, NULL))",
    json_element=(
        "IF(JSON_TYPE(__v__) IN ('object', 'array'), TO_JSON_STRING(__v__), JSON_VALUE(__v__))"
    ),
    text_to_json="PARSE_JSON(__v__)",
)

# Databricks and Spark keep JSON as text: from_json with array<string> reads a string element
# as itself and any other as its JSON text; anything but a JSON array is NULL.
# https://docs.databricks.com/aws/en/sql/language-manual/functions/from_json
DATABRICKS = ArrayForms(
    native=("array<*",),
    json=(),
    text=("string",),
    json_array="from_json(__v__, 'array<string>')",
)
