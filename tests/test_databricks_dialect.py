"""The Databricks dialect without a workspace: settings, auth, error classification with the
fix, and setup help. (The SQL on real Spark: the ``spark`` warehouse of the warehouse tests.)

The errors are the connector's own exception classes carrying the error classes and SQLSTATEs
Databricks documents (https://docs.databricks.com/aws/en/error-messages/), as a workspace
would raise them; nothing here reaches the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialects.databricks import DatabricksDialect, placeholder_names
from dialects.databricks_connect import classify, connect_error
from dialects.errors import ErrorKind, WarehouseError
from engine.config import ConfigError
from engine.warehouse import dialect_for
from tests.conftest import Workspace

exc = pytest.importorskip("databricks.sql.exc", reason="pip install -e '.[databricks]'")
SETTINGS = {"server_hostname": "dbc-1.cloud.databricks.com", "http_path": "/sql/1.0/warehouses/ab"}


def _project(ws: Workspace, **source: object) -> None:
    ws.write_project(
        {
            "sources": {"wh": {"type": "databricks", **SETTINGS, **source}},
            "models": {"users": {"source": "wh", "primary_key": "id", "sql": "select 1 as id"}},
            "destinations": {"dest": {"type": "file", "path": "out"}},
            "syncs": {
                "s": {
                    "model": "users",
                    "destination": "dest",
                    "mappings": [{"from": "id", "to": "id"}],
                }
            },
        }
    )


def test_a_mistyped_setting_is_refused_with_the_nearest_one(ws: Workspace) -> None:
    _project(ws, access_token="t", catalgo="main")
    with pytest.raises(ConfigError, match=r"sources\.wh\.catalgo.*Did you mean 'catalog'"):
        dialect_for(ws.project(), "wh")
    _project(ws, acess_token="t")
    with pytest.raises(ConfigError, match=r"Did you mean 'access_token'"):
        dialect_for(ws.project(), "wh")


def test_connect_arguments_token_or_service_principal(tmp_path: Path) -> None:
    token = DatabricksDialect({**SETTINGS, "access_token": "dapi1", "catalog": "main"}, tmp_path)
    arguments = token.connect_arguments()
    assert arguments["access_token"] == "dapi1" and arguments["catalog"] == "main"
    assert arguments["session_configuration"]["TIMEZONE"] == "UTC"
    assert arguments["user_agent_entry"] == "lightning-sync"
    m2m = DatabricksDialect({**SETTINGS, "client_id": "c", "client_secret": "s"}, tmp_path)
    arguments = m2m.connect_arguments()
    assert callable(arguments["credentials_provider"]) and "access_token" not in arguments


def test_missing_settings_are_named_before_connecting(tmp_path: Path) -> None:
    dialect = DatabricksDialect({"server_hostname": "h", "client_id": "c"}, tmp_path)
    with pytest.raises(WarehouseError, match="lacks http_path, client_secret") as raised:
        dialect.connect()
    assert raised.value.kind is ErrorKind.CONNECTION


def _server_error(message: str) -> Exception:
    return exc.ServerOperationError(message, {"diagnostic-info": None})


@pytest.mark.parametrize(
    ("error", "kind", "fix"),
    [
        (
            exc.RequestError(
                "Error during request to server: Received 401 - UNAUTHORIZED. Confirm your "
                "authentication credentials.",
                {"http-code": 401},
            ),
            ErrorKind.CONNECTION,
            "new personal access token",
        ),
        (
            exc.RequestError(
                "Error during request to server: The SQL warehouse is stopped.",
                {"http-code": 400},
            ),
            ErrorKind.CONNECTION,
            "start the SQL warehouse",
        ),
        (
            _server_error(
                "[NO_SUCH_CATALOG_EXCEPTION] Catalog 'sales' was not found. SQLSTATE: 42704"
            ),
            ErrorKind.CONNECTION,
            "CREATE CATALOG IF NOT EXISTS sales",
        ),
        (
            _server_error(
                "[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have CREATE "
                "SCHEMA on Catalog 'sales'. SQLSTATE: 42501"
            ),
            ErrorKind.PERMISSION,
            "lightning-sync init",
        ),
    ],
)
def test_errors_a_user_can_cause_say_how_to_fix_them(
    tmp_path: Path, error: Exception, kind: ErrorKind, fix: str
) -> None:
    settings = {**SETTINGS, "access_token": "dapi-secret", "catalog": "sales"}
    assert classify(error) is kind
    wrapped = connect_error(error, settings, "Databricks h")
    assert fix in str(wrapped) and "dapi-secret" not in str(wrapped)
    dialect = DatabricksDialect(settings, tmp_path)
    assert fix in str(dialect.wrap(error, "Run 1 failed"))


def test_other_errors_are_the_statements_or_transient() -> None:
    missing = _server_error(
        "[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found. SQLSTATE: 42P01"
    )
    assert classify(missing) is ErrorKind.SQL
    conflict = _server_error("[DELTA_CONCURRENT_APPEND] Files were added. SQLSTATE: 2D521")
    assert classify(conflict) is ErrorKind.TRANSIENT
    assert classify(exc.RequestError("busy", {"http-code": 503})) is ErrorKind.TRANSIENT
    assert classify(ValueError("engine bug")) is ErrorKind.TERMINAL


@pytest.mark.parametrize(
    "error",
    [
        _server_error(
            "[INVALID_HANDLE.SESSION_CLOSED] The handle 0a1b is invalid. Session was "
            "closed. SQLSTATE: HY000"
        ),
        _server_error(
            "[INVALID_HANDLE.SESSION_NOT_FOUND] The handle 0a1b is invalid. Session "
            "not found. SQLSTATE: HY000"
        ),
        exc.RequestError("INVALID_STATE: Invalid SessionHandle: 0a1b", {"http-code": 400}),
    ],
)
def test_a_session_that_is_gone_is_a_lost_connection(error: Exception) -> None:
    """Databricks' INVALID_HANDLE (closed, expired, driver restarted) is not the SQL's fault."""
    assert classify(error) is ErrorKind.CONNECTION


def test_grants_name_the_catalog_the_schemas_and_the_warehouse(tmp_path: Path) -> None:
    dialect = DatabricksDialect({**SETTINGS, "catalog": "sales"}, tmp_path)
    grants = dialect.grant_statements("etl@example.com", ["hightouch_planner", "hightouch_audit"])
    text = "\n".join(grants)
    assert "GRANT USE CATALOG ON CATALOG `sales` TO `etl@example.com`;" in grants
    assert "CREATE SCHEMA IF NOT EXISTS `sales`.`hightouch_planner`;" in grants
    assert (
        "GRANT USE SCHEMA, CREATE TABLE, MODIFY, SELECT ON SCHEMA `sales`.`hightouch_audit` "
        "TO `etl@example.com`;" in grants
    )
    assert "Can use" in text


def test_placeholders_are_found_by_parsing() -> None:
    sql = "SELECT ':no' AS a /* :neither */ FROM t WHERE b = :yes LIMIT :limit"
    assert placeholder_names(sql) == {"yes", "limit"}
