"""The BigQuery dialect's settings, errors and setup help, without a server (nothing here
reaches the network: every case fails before the first request)."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.bigquery")

from google.api_core import exceptions  # noqa: E402

from dialects.bigquery import BigQueryDialect  # noqa: E402
from dialects.bigquery_sql import (  # noqa: E402
    bigquery_type,
    parameter_names,
    query_parameters,
    script_of,
)
from dialects.errors import ErrorKind, WarehouseError  # noqa: E402

BASE = {"project": "my-project", "location": "EU"}


def _dialect(tmp_path: Path, **settings: object) -> BigQueryDialect:
    return BigQueryDialect(BASE | settings, tmp_path)


def test_a_bad_credentials_file_is_a_clear_connection_error(tmp_path: Path) -> None:
    (tmp_path / "key.json").write_text('{"type": "service_account"}', encoding="utf-8")
    with pytest.raises(WarehouseError) as raised:
        _dialect(tmp_path, credentials_path="key.json").connect()
    assert raised.value.kind is ErrorKind.CONNECTION
    message = str(raised.value)
    assert "credentials_path 'key.json' could not be read as a service-account key" in message
    assert "Fix: point it at the JSON key file" in message
    with pytest.raises(WarehouseError, match="could not be read"):
        _dialect(tmp_path, credentials_path="missing.json").connect()


def test_project_and_location_are_required_and_anonymous_needs_an_endpoint(
    tmp_path: Path,
) -> None:
    with pytest.raises(WarehouseError, match="needs location"):
        BigQueryDialect({"project": "p"}, tmp_path).connect()
    with pytest.raises(WarehouseError, match="anonymous: true without api_endpoint"):
        _dialect(tmp_path, anonymous=True).connect()
    with pytest.raises(WarehouseError, match="maximum_bytes_billed is '10 GB'"):
        _dialect(tmp_path, maximum_bytes_billed="10 GB").connect()


def test_errors_are_classified_by_their_reason() -> None:
    dialect = BigQueryDialect(BASE, Path("."))

    def error(kind: type[exceptions.GoogleAPICallError], reason: str) -> BaseException:
        return kind("x", errors=[{"reason": reason, "message": "x"}])

    assert dialect.classify_error(error(exceptions.Forbidden, "accessDenied")) is (
        ErrorKind.PERMISSION
    )
    assert dialect.classify_error(error(exceptions.Forbidden, "billingNotEnabled")) is (
        ErrorKind.PERMISSION
    )
    assert dialect.classify_error(error(exceptions.Forbidden, "rateLimitExceeded")) is (
        ErrorKind.TRANSIENT
    )
    assert dialect.classify_error(error(exceptions.BadRequest, "invalidQuery")) is ErrorKind.SQL
    assert dialect.classify_error(error(exceptions.NotFound, "notFound")) is ErrorKind.SQL
    assert dialect.classify_error(exceptions.Unauthorized("x")) is ErrorKind.CONNECTION
    # The run's session aborted from outside or expired: the connection, not the SQL or a row.
    gone = exceptions.BadRequest("Invalid input session id.", errors=[{"reason": "invalid"}])
    assert dialect.classify_error(gone) is ErrorKind.CONNECTION
    assert dialect.classify_error(ValueError("x")) is ErrorKind.TERMINAL
    wrapped = dialect.wrap(
        exceptions.NotFound("Not found: Dataset p:d was not found in location EU"), "models.m"
    )
    assert "every dataset a model reads must be in that location" in str(wrapped)
    billing = dialect.wrap(
        exceptions.Forbidden("Billing has not been enabled for this project. Enable billing"),
        "run",
    )
    assert "enable billing on project my-project" in str(billing).lower()


def test_init_prints_the_roles_and_the_dataset_statements(tmp_path: Path) -> None:
    statements = _dialect(tmp_path).grant_statements(
        "lightning@my-project.iam.gserviceaccount.com", ["hightouch_planner", "hightouch_audit"]
    )
    text = "\n".join(statements)
    assert "roles/bigquery.user" in text and "roles/bigquery.dataViewer" in text
    assert (
        "CREATE SCHEMA IF NOT EXISTS `my-project.hightouch_planner` OPTIONS (location = 'EU');"
        in statements
    )
    assert (
        "GRANT `roles/bigquery.dataViewer`, `roles/bigquery.dataEditor` ON SCHEMA "
        '`my-project.hightouch_audit` TO "serviceAccount:lightning@my-project.iam.'
        'gserviceaccount.com";'
    ) in statements


def test_parameters_are_typed_and_found_by_parsing() -> None:
    sql = "SELECT 1 FROM t WHERE a = @a AND b = @b /* it's @not_one */ AND c = '@nor_this'"
    assert parameter_names(sql) == ("a", "b")
    bound = {p.name: p.type_ for p in query_parameters(sql, {"a": 1, "b": None, "x": 2})}
    assert bound == {"a": "INT64", "b": "STRING"}
    assert bigquery_type(True) == "BOOL"
    assert bigquery_type(1.5) == "FLOAT64"
    assert bigquery_type(decimal.Decimal("1.5")) == "BIGNUMERIC"
    assert bigquery_type(dt.date(2024, 1, 2)) == "DATE"
    assert bigquery_type(dt.datetime(2024, 1, 2)) == "DATETIME"


def test_a_script_of_statements_is_one_job_with_or_without_a_transaction() -> None:
    """Writes of one block go as one script job: a transaction (all or nothing), or for the
    drops of finished tables (DDL BigQuery keeps out of transactions) a plain script; each
    statement's parameters are renamed so two statements may bind one name differently."""
    statements = [
        ("DELETE FROM `d`.`t` WHERE id = @sync_id", {"sync_id": "a"}),
        ("DELETE FROM `d`.`u` WHERE id = @sync_id", {"sync_id": "b"}),
    ]
    sql, params = script_of(statements)
    assert sql.startswith("BEGIN TRANSACTION;\n") and sql.endswith(";\nCOMMIT TRANSACTION;")
    assert params == {"s0_sync_id": "a", "s1_sync_id": "b"}
    drops = [("DROP TABLE IF EXISTS `d`.`a`", None), ("DROP TABLE IF EXISTS `d`.`b`", None)]
    sql, params = script_of(drops, atomic=False)
    assert sql == "DROP TABLE IF EXISTS `d`.`a`;\nDROP TABLE IF EXISTS `d`.`b`;" and params == {}
