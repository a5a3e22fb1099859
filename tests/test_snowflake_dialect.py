"""The Snowflake dialect without a warehouse: settings, key-pair auth, parameter binding,
capabilities and setup help. (Behaviour on the emulator: tests/test_snowflake.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlglot import exp

from dialects.errors import ErrorKind, WarehouseError
from dialects.snowflake import SnowflakeDialect, numbered
from dialects.snowflake_connect import connect_error
from engine.config import ConfigError
from engine.sync_job import SyncJob
from engine.warehouse import dialect_for
from tests.conftest import Workspace


def _project(ws: Workspace, **source: object) -> None:
    ws.write_project(
        {
            "sources": {"wh": {"type": "snowflake", "account": "myorg-acct", **source}},
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
    _project(ws, user="u", warehuose="WH")
    with pytest.raises(ConfigError, match=r"sources\.wh\.warehuose.*Did you mean 'warehouse'"):
        dialect_for(ws.project(), "wh")


def test_query_tag_names_the_engine_and_the_sync(ws: Workspace) -> None:
    _project(ws, user="u", password="p")
    arguments = SyncJob(ws.project(), "s").dialect.connect_arguments()
    assert arguments["session_parameters"]["QUERY_TAG"] == "lightning-sync sync=s"
    assert arguments["paramstyle"] == "numeric"  # bound by the server, never spliced
    _project(ws, user="u", password="p", query_tag="team-x")
    arguments = SyncJob(ws.project(), "s").dialect.connect_arguments()
    assert arguments["session_parameters"]["QUERY_TAG"] == "team-x"


def _pem(passphrase: bytes | None) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def test_key_pair_auth_from_a_file_or_pem_text(tmp_path: Path) -> None:
    (tmp_path / "rsa_key.p8").write_text(_pem(b"secret"))
    dialect = SnowflakeDialect(
        {"account": "a", "user": "u", "private_key_path": "rsa_key.p8",
         "private_key_passphrase": "secret"},
        tmp_path,
    )
    arguments = dialect.connect_arguments()
    assert arguments["authenticator"] == "SNOWFLAKE_JWT"
    assert isinstance(arguments["private_key"], bytes) and "password" not in arguments
    from_text = SnowflakeDialect({"account": "a", "user": "u", "private_key": _pem(None)}, tmp_path)
    assert isinstance(from_text.connect_arguments()["private_key"], bytes)


def test_a_bad_key_says_how_to_fix_it_without_showing_it(tmp_path: Path) -> None:
    pem = _pem(b"secret")
    for settings in (
        {"private_key": "not a key"},
        {"private_key": pem, "private_key_passphrase": "wrong"},
        {"private_key_path": "missing.p8"},
    ):
        dialect = SnowflakeDialect({"account": "a", "user": "u", **settings}, tmp_path)
        with pytest.raises(WarehouseError) as raised:
            dialect.connect_arguments()
        assert raised.value.kind is ErrorKind.CONNECTION
        assert "Fix:" in str(raised.value) and "openssl" in str(raised.value)
        assert "BEGIN" not in str(raised.value) and "wrong" not in str(raised.value)


def test_parameters_survive_percent_signs_apostrophes_and_paths() -> None:
    sql = (
        "/* This sync's rows: 100% */ SELECT v:name, ':x', '50%', :a, :b, :a "
        "FROM t WHERE s LIKE '%it''s%' LIMIT :limit"
    )
    text, names = numbered(sql)
    assert names == ("a", "b", "limit")
    assert ":1, :2, :1" in text and "LIMIT :3" in text
    assert "This sync's rows: 100%" in text and "'%it\\'s%'" in text and "':x'" in text
    assert numbered("SELECT 'no:params' /* it's */") == ("SELECT 'no:params' /* it's */", ())


def test_capabilities_and_setup_help(tmp_path: Path) -> None:
    dialect = SnowflakeDialect({"account": "a", "role": "SYNC_ROLE", "warehouse": "WH",
                                "database": "ANALYTICS"}, tmp_path)
    caps = dialect.capabilities
    assert caps.ddl_commits and caps.identifier_case == "upper" and not caps.snapshot_rereads
    grants = "\n".join(dialect.grant_statements("SYNC_USER", ["hightouch_planner"]))
    assert "GRANT USAGE ON WAREHOUSE WH TO ROLE SYNC_ROLE;" in grants
    assert "GRANT USAGE ON DATABASE ANALYTICS TO ROLE SYNC_ROLE;" in grants
    assert "GRANT CREATE SCHEMA ON DATABASE ANALYTICS TO ROLE SYNC_ROLE;" in grants
    assert "GRANT OWNERSHIP ON SCHEMA ANALYTICS.HIGHTOUCH_PLANNER TO ROLE SYNC_ROLE" in grants
    assert "GRANT ROLE SYNC_ROLE TO USER SYNC_USER;" in grants


def test_errors_a_user_can_cause_name_the_fix(tmp_path: Path) -> None:
    from snowflake.connector import errors

    dialect = SnowflakeDialect(
        {"account": "myorg-acct", "user": "U", "role": "R", "warehouse": "WH"}, tmp_path
    )
    privilege = errors.ProgrammingError(
        msg="SQL access control error: Insufficient privileges to operate on database A",
        errno=3001,
    )
    assert dialect.classify_error(privilege) is ErrorKind.PERMISSION  # init prints the grants
    cases = {
        390100: "ALTER USER <user> SET RSA_PUBLIC_KEY",  # wrong password or key
        390189: "GRANT ROLE R TO USER U",  # role missing or not granted
        250001: "check `account`",  # wrong account: cannot reach it
    }
    for number, fix in cases.items():
        error = errors.DatabaseError(msg="refused", errno=number)
        message = str(connect_error(error, dialect.settings, dialect.describe()))
        assert fix in message and "myorg-acct" in message, message
        assert dialect.classify_error(error) is ErrorKind.CONNECTION
    suspended = errors.ProgrammingError(
        msg="No active warehouse selected in the current session.", errno=606
    )
    message = str(dialect.wrap(suspended, "Run 1 of sync 's' failed in the warehouse"))
    assert "GRANT USAGE ON WAREHOUSE" in message and "RESUME" in message
    assert dialect.classify_error(errors.ProgrammingError(msg="x", errno=1003)) is ErrorKind.SQL


def test_an_unreachable_account_fails_in_seconds_with_the_fix(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dialect = SnowflakeDialect(
        {"account": "nowhere", "user": "u", "password": "s3cr3t-value", "host": "127.0.0.1",
         "port": port, "protocol": "http", "login_timeout": 3},
        tmp_path,
    )
    started = time.monotonic()
    with pytest.raises(WarehouseError) as raised:
        dialect.connect()
    assert time.monotonic() - started < 30
    assert raised.value.kind is ErrorKind.CONNECTION
    assert "Cannot connect to Snowflake account nowhere" in str(raised.value)
    assert "Fix:" in str(raised.value) and "s3cr3t-value" not in str(raised.value)


def test_payloads_and_fields_keep_null_valued_keys(tmp_path: Path) -> None:
    from engine.sql import SqlRenderer

    dialect = SnowflakeDialect({"account": "a"}, tmp_path)
    pairs = [
        exp.JSONKeyValue(this=exp.Literal.string("email"), expression=exp.column("e", "d")),
        exp.JSONKeyValue(this=exp.Literal.string("n"), expression=exp.Null()),
    ]
    renderer = SqlRenderer(dialect)
    payload = renderer.expression(exp.cast(exp.JSONObject(expressions=pairs), "text"))
    assert payload == 'TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL(\'email\', "D"."E", \'n\', NULL))'
    fields = renderer.expression(exp.JSONObject(expressions=pairs))
    assert fields.startswith("OBJECT_CONSTRUCT_KEEP_NULL(")
    assert dialect.json_value(exp.column("x"), "NUMBER(38,0)") is not None
    assert dialect.json_value(exp.column("x"), "TIMESTAMP_NTZ") is None  # built in Python
