"""The Databricks dialect's connector layer on real Spark SQL: a ``databricks`` source whose
connection is a local Spark session standing in for the connector's (``dialects.spark_cursor``).

What runs here is the Databricks dialect's own code (parameters, cursors, Arrow paging, error
classification, the GRANT hint) against Spark's answers. The connector's network path (HTTP,
auth, cloud fetch) is not: that needs a real workspace.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from dialects.databricks import DatabricksDialect
from dialects.errors import ErrorKind
from dialects.spark import SparkDialect
from engine.state import AUDIT_SCHEMA, PLANNER_SCHEMA
from engine.warehouse import PermissionProblem, schema_error
from tests.conftest import Workspace

exc = pytest.importorskip("databricks.sql.exc", reason="pip install -e '.[databricks]'")


class DatabricksOnSpark(DatabricksDialect):
    """The Databricks dialect, its connection a Spark session instead of the connector's."""

    def _open(self) -> Any:
        return SparkDialect({"remote": self.settings["remote"]}, self.project_dir)._open()

    def setup_statements(self) -> list[str]:
        return ["SET TIME ZONE 'UTC'"]  # the connector's session_configuration

    # Plain Spark has no information_schema: Unity Catalog's is used only on a workspace.
    list_schemas = SparkDialect.list_schemas
    list_tables = SparkDialect.list_tables
    schema_tables = SparkDialect.schema_tables
    table_columns = SparkDialect.table_columns
    schema_columns_query = SparkDialect.schema_columns_query


@pytest.fixture
def dialect(spark_ws: Workspace, tmp_path: Path) -> Any:
    connected = DatabricksOnSpark({"remote": spark_ws.url, "catalog": "sales"}, tmp_path)
    connected.connect()
    yield connected
    connected.close()


def test_parameters_are_bound_and_the_delta_is_paged_as_arrow(dialect: DatabricksDialect) -> None:
    dialect.execute("CREATE SCHEMA IF NOT EXISTS s")
    dialect.execute("CREATE TABLE s.t (k BIGINT, v STRING, at TIMESTAMP_NTZ)")
    rows = [
        (i, "it's :not a parameter" if i == 3 else None, dt.datetime(2024, 1, i))
        for i in range(1, 6)
    ]
    dialect.bulk_insert(exp.table_("t", db="s", quoted=True), ["k", "v", "at"], rows)
    batches = list(
        dialect.stream("SELECT k, v, at FROM s.t WHERE k >= :low ORDER BY k", {"low": 1}, 2)
    )
    assert [len(batch["k"]) for batch in batches] == [2, 2, 1]
    assert [k for batch in batches for k in batch["k"]] == [1, 2, 3, 4, 5]
    assert batches[1]["v"] == ["it's :not a parameter", None] and batches[1]["at"][
        0
    ] == dt.datetime(2024, 1, 3)
    found = dialect.fetchall("SELECT v FROM s.t WHERE k = :k", {"k": 3, "unused": 1})
    assert found == [("it's :not a parameter",)]
    assert dialect.statements_issued and dialect.statements_issued >= 4


def test_spark_errors_are_classified_as_databricks_ones(dialect: DatabricksDialect) -> None:
    with pytest.raises(Exception) as raised:
        dialect.fetchall("SELECT * FROM no_such_table")
    assert dialect.classify_error(raised.value) is ErrorKind.SQL
    assert "TABLE_OR_VIEW_NOT_FOUND" in str(dialect.wrap(raised.value, "models.users"))


def test_a_missing_privilege_prints_the_grants_for_the_connected_principal(
    dialect: DatabricksDialect,
) -> None:
    refused = exc.ServerOperationError(
        "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have CREATE SCHEMA "
        "on Catalog 'sales'. SQLSTATE: 42501",
        {},
    )
    problem = schema_error(dialect, refused)
    assert isinstance(problem, PermissionProblem)
    user = dialect.current_user()
    assert f"GRANT USE CATALOG ON CATALOG `sales` TO `{user}`;" in problem.grants
    for schema in (PLANNER_SCHEMA, AUDIT_SCHEMA):
        assert f"CREATE SCHEMA IF NOT EXISTS `sales`.`{schema}`;" in problem.grants
    assert "Can use" in str(problem)


def test_the_row_hash_tells_where_a_null_is(dialect: DatabricksDialect) -> None:
    # xxhash64 skips NULLs: without the IS NULL flags ('x', NULL) and (NULL, 'x') hash alike,
    # and a value moving from one mapped column to the other would go unnoticed.
    a, b = exp.column("a", quoted=True), exp.column("b", quoted=True)
    hashed = dialect.row_hash([a, b], ["STRING", "STRING"]).sql(dialect.sqlglot_dialect)
    rows = dialect.fetchall(f"SELECT {hashed} FROM VALUES ('x', NULL), (NULL, 'x') AS t(a, b)")
    assert rows[0][0] != rows[1][0]


def test_a_views_query_is_read_from_unity_catalogs_information_schema(
    dialect: DatabricksDialect,
) -> None:
    """``view_definition`` asks Unity Catalog's ``information_schema.views`` (which plain
    Spark lacks: a table of that name and shape stands in for it here) for the view's query,
    in the named schema or the current one, names in lower case as Unity Catalog keeps them."""
    dialect.execute("CREATE SCHEMA IF NOT EXISTS information_schema")
    dialect.execute(
        "CREATE TABLE information_schema.views (table_catalog STRING, table_schema STRING, "
        "table_name STRING, view_definition STRING)"
    )
    dialect.execute(
        "INSERT INTO information_schema.views VALUES "
        "('sales', 'crm', 'active_users', 'SELECT * FROM crm.users WHERE active'), "
        "('sales', 'default', 'active_users', 'SELECT 1 AS id')"
    )
    assert (
        dialect.view_definition(exp.to_table("CRM.Active_Users"))
        == "SELECT * FROM crm.users WHERE active"
    )
    assert dialect.view_definition(exp.to_table("active_users")) == "SELECT 1 AS id"
    assert dialect.view_definition(exp.to_table("crm.users")) is None  # a table, not a view


def test_a_delta_with_an_instant_column_is_paged_to_its_end(dialect: DatabricksDialect) -> None:
    """The last, empty page of a read whose columns include a TIMESTAMP (an instant) is built
    from the query's schema with its time zone, as a page with rows is."""
    dialect.execute("CREATE SCHEMA IF NOT EXISTS s")
    dialect.execute("CREATE TABLE s.t (k BIGINT, at TIMESTAMP)")
    dialect.execute("INSERT INTO s.t VALUES (1, TIMESTAMP '2024-01-02 03:04:05')")
    batches = list(dialect.stream("SELECT k, at FROM s.t", None, 10))
    assert [b["k"] for b in batches] == [[1]]
    assert list(dialect.stream("SELECT k, at FROM s.t WHERE k > 1", None, 10)) == []
