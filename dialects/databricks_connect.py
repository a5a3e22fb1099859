"""Connecting to Databricks: the connector's arguments from a source's settings (a personal
access token or OAuth machine-to-machine), and what an error means, with the fix for those a
user can cause.

Databricks and Spark name an error by its class in brackets and end it with its SQLSTATE
(``[TABLE_OR_VIEW_NOT_FOUND] ... SQLSTATE: 42P01``; the classes are Spark's
``error-conditions.json`` and https://docs.databricks.com/aws/en/error-messages/), so one
classification serves the connector's ``ServerOperationError`` and Spark's own exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dialects.errors import ErrorKind, WarehouseError

SETTINGS = frozenset(
    {"server_hostname", "http_path", "access_token", "client_id", "client_secret"}
    | {"catalog", "schema"}
)
_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]*)(?:\.[A-Z0-9_]+)?\]")
_SQLSTATE = re.compile(r"SQLSTATE:?\s*([0-9A-Z]{5})")
PERMISSION_CLASSES = frozenset({"INSUFFICIENT_PERMISSIONS", "PERMISSION_DENIED"})
NO_CATALOG_CLASSES = frozenset({"NO_SUCH_CATALOG_EXCEPTION", "CATALOG_NOT_FOUND"})
# Another writer committed first (Delta's optimistic concurrency): the statement may be retried.
CONFLICT_CLASSES = frozenset(
    {"DELTA_CONCURRENT_APPEND", "DELTA_CONCURRENT_DELETE_READ", "DELTA_CONCURRENT_DELETE_DELETE"}
    | {"DELTA_METADATA_CHANGED", "DELTA_CONCURRENT_TRANSACTION", "DELTA_CONCURRENT_WRITE"}
)
# The session is gone (closed from outside, expired, the driver restarted): the statement
# never ran, and the run's connection is lost.
LOST_SESSION_CLASSES = frozenset({"INVALID_HANDLE"})
_LOST_SESSION = re.compile(r"invalid sessionhandle|session (was )?(closed|not found)", re.I)
_STOPPED = re.compile(r"warehouse\b.*\b(stopped|not running|is starting|terminated)", re.I)
_BAD_TOKEN = re.compile(r"\b401\b|unauthori[sz]ed|invalid access token|invalid_client", re.I)


def error_class(error: BaseException) -> str | None:
    """The error's class (``TABLE_OR_VIEW_NOT_FOUND``), as Databricks and Spark name it."""
    getter = getattr(error, "getCondition", None)
    if callable(getter):
        found = getter()
        if found:
            return str(found).split(".")[0]
    match = _CLASS.search(str(error))
    return match.group(1) if match else None


def sqlstate(error: BaseException) -> str | None:
    """The error's SQLSTATE, where it has one."""
    getter = getattr(error, "getSqlState", None)
    if callable(getter):
        found = getter()
        if found:
            return str(found)
    match = _SQLSTATE.search(str(error))
    return match.group(1) if match else None


def http_code(error: BaseException) -> int | None:
    """The HTTP status the connector's request got, where it says."""
    context = getattr(error, "context", None) or {}
    code = context.get("http-code") if isinstance(context, dict) else None
    return int(code) if isinstance(code, int | str) and str(code).isdigit() else None


def connect_arguments(settings: dict[str, Any], label: str) -> dict[str, Any]:
    """What the connector's ``connect()`` gets (secrets included: never print it)."""
    arguments: dict[str, Any] = {
        "server_hostname": str(settings.get("server_hostname") or ""),
        "http_path": str(settings.get("http_path") or ""),
        "user_agent_entry": label,
        # The row's text and the sync logs' timestamps do not depend on the workspace's zone.
        "session_configuration": {"TIMEZONE": "UTC", "ANSI_MODE": "true"},
    }
    for name in ("catalog", "schema"):
        if settings.get(name):
            arguments[name] = str(settings[name])
    if settings.get("client_id") or settings.get("client_secret"):
        arguments["credentials_provider"] = service_principal(settings)
    elif settings.get("access_token"):
        arguments["access_token"] = str(settings["access_token"])
    return arguments


def missing_settings(settings: dict[str, Any]) -> list[str]:
    """The settings a Databricks source lacks (empty when it can try to connect)."""
    missing = [name for name in ("server_hostname", "http_path") if not settings.get(name)]
    oauth = settings.get("client_id") or settings.get("client_secret")
    if oauth:
        missing += [n for n in ("client_id", "client_secret") if not settings.get(n)]
    elif not settings.get("access_token"):
        missing.append("access_token (or client_id and client_secret)")
    return missing


def service_principal(settings: dict[str, Any]) -> Callable[[], Any]:
    """OAuth machine-to-machine for the connector (its documented ``credentials_provider``,
    built with the Databricks SDK, imported only when the connector calls it)."""

    def provider() -> Any:
        try:
            from databricks.sdk.core import Config, oauth_service_principal
        except ImportError as error:
            raise WarehouseError(
                "OAuth machine-to-machine (client_id, client_secret) needs the Databricks "
                "SDK. Fix: pip install 'lightning-sync[databricks]' (or databricks-sdk).",
                ErrorKind.CONNECTION,
                error,
            ) from error
        config = Config(
            host=f"https://{settings['server_hostname']}",
            client_id=str(settings["client_id"]),
            client_secret=str(settings["client_secret"]),
        )
        return oauth_service_principal(config)

    return provider


def classify(error: BaseException) -> ErrorKind:
    """What a Databricks (or Spark) error means to the engine."""
    kind = error_class(error)
    state = sqlstate(error) or ""
    text = str(error)
    if kind in PERMISSION_CLASSES or state == "42501" or http_code(error) == 403:
        return ErrorKind.PERMISSION
    if kind in CONFLICT_CLASSES or http_code(error) in (429, 503):
        return ErrorKind.TRANSIENT
    if kind in NO_CATALOG_CLASSES or _STOPPED.search(text) or _BAD_TOKEN.search(text):
        return ErrorKind.CONNECTION
    if kind in LOST_SESSION_CLASSES or _LOST_SESSION.search(text):
        return ErrorKind.CONNECTION
    if http_code(error) == 401 or state.startswith("08"):
        return ErrorKind.CONNECTION
    if kind is not None or state:
        return ErrorKind.SQL
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & {"RequestError", "OperationalError", "InterfaceError", "SparkConnectGrpcException"}:
        return ErrorKind.CONNECTION
    if names & {"ServerOperationError", "ProgrammingError", "DatabaseError", "PySparkException"}:
        return ErrorKind.SQL
    return ErrorKind.TERMINAL


def fix_for(error: BaseException, settings: dict[str, Any]) -> str | None:
    """The fix for an error a user can cause (None: nothing specific to say)."""
    catalog = settings.get("catalog") or "<catalog>"
    kind = error_class(error)
    text = str(error)
    if kind in NO_CATALOG_CLASSES:
        return (
            f"set `catalog` under the source to a Unity Catalog catalog that exists (SHOW "
            f"CATALOGS), or create it: CREATE CATALOG IF NOT EXISTS {catalog}"
        )
    if kind in PERMISSION_CLASSES or sqlstate(error) == "42501" or http_code(error) == 403:
        return (
            "grant the engine's principal USE CATALOG on the catalog and USE SCHEMA, CREATE "
            "TABLE, MODIFY and SELECT on its schemas (`lightning-sync init` prints the GRANT "
            "statements), and SELECT on the tables the models read"
        )
    if _STOPPED.search(text):
        return (
            "start the SQL warehouse (SQL Warehouses > Start) or turn on its auto-start, and "
            "check that http_path names it"
        )
    if _BAD_TOKEN.search(text) or http_code(error) == 401:
        return (
            "the access token is invalid or expired: make a new personal access token (User "
            "Settings > Developer > Access tokens) or check client_id/client_secret of the "
            "service principal"
        )
    return None


def connect_error(error: BaseException, settings: dict[str, Any], where: str) -> WarehouseError:
    """A failed connect as a WarehouseError naming the fix; ``where`` describes the source."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".!")
    fix = fix_for(error, settings) or (
        "check server_hostname and http_path (the SQL warehouse's Connection details) and "
        "that this machine can reach the workspace"
    )
    kind = classify(error)
    if kind not in (ErrorKind.PERMISSION, ErrorKind.TRANSIENT):
        kind = ErrorKind.CONNECTION
    return WarehouseError(f"Cannot connect to {where}: {first}. Fix: {fix}.", kind, error)
