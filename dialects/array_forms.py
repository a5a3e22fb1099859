"""Each warehouse's way to read an array column one row per element (a sync's
``array_expansion``), side by side; each dialect names its own as ``array_forms``.

The engine UNNESTs the array that these forms give (sqlglot writes the warehouse's own form:
``CROSS JOIN UNNEST`` on DuckDB, PostgreSQL and BigQuery, ``TABLE(FLATTEN(...))`` on Snowflake,
``LATERAL VIEW EXPLODE`` on Databricks and Spark). An element of a JSON array (or of text
holding one) comes as text: a string as itself, anything else as its JSON text, a JSON null as
NULL; a JSON value that is not an array gives no rows, like NULL and ``[]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from sqlglot import exp

from dialects.base import substituted


@dataclass(frozen=True)
class ArrayForms:
    """How a warehouse reads an array column as one row per element (a sync's
    ``array_expansion``): SQL expressions over ``__v__`` in the dialect's sqlglot syntax. The
    engine UNNESTs the array (sqlglot writes each warehouse's form: UNNEST, FLATTEN, LATERAL
    VIEW EXPLODE), so NULL and empty arrays give no rows.

    Attributes:
        native: column types (lower case, fnmatch patterns) of the warehouse's own arrays.
        json: column types of JSON values.
        text: column types of text, read as the JSON it holds.
        json_array: a JSON value as an array UNNEST reads; NULL unless the value is a JSON
            array (an object or a scalar gives no rows).
        json_element: an element of ``json_array`` as text: a string as itself, a number,
            boolean, object or array as its JSON text, a JSON null as NULL.
        text_to_json: text as the JSON value it holds (text that is not JSON is an error).
        native_element: an element of a native array as the generated column holds it.
        element_column: the column of the unnested rows (``expanded``) holding the element:
            the one array_expansion.sql names, or the warehouse's own where the dialect has
            its own template (sql_templates/<dialect>/array_expansion.sql).
    """

    native: tuple[str, ...]
    json: tuple[str, ...]
    text: tuple[str, ...]
    json_array: str
    json_element: str = "__v__"
    text_to_json: str = "__v__"
    native_element: str = "__v__"
    element_column: str = "_lightning_element"

    def elements(
        self, value: exp.Expr, type_name: str, element: exp.Expr, read: str
    ) -> ArrayElements | None:
        """An array column (``value``, of column type ``type_name``) ready to UNNEST, in
        sqlglot dialect ``read``; ``element`` is the unnested value. None where the type holds
        no array (nor JSON, nor text)."""
        kind = type_name.lower()
        if any(fnmatchcase(kind, pattern) for pattern in self.native):
            return ArrayElements(
                "native", value.copy(), substituted(self.native_element, element, read)
            )
        if any(fnmatchcase(kind, pattern) for pattern in self.text):
            value = substituted(self.text_to_json, value, read)
            found = "text"
        elif any(fnmatchcase(kind, pattern) for pattern in self.json):
            found = "json"
        else:
            return None
        return ArrayElements(
            found,
            substituted(self.json_array, value, read),
            substituted(self.json_element, element, read),
        )


@dataclass(frozen=True)
class ArrayElements:
    """An array column ready to UNNEST: ``array``, and ``element``, the unnested value as the
    generated column holds it."""

    kind: str  # native | json | text
    array: exp.Expr
    element: exp.Expr


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
