"""Connecting to Snowflake: the connector's arguments from a source's settings (key-pair auth
included), and what the connector's errors mean, with the fix for those a user can cause.

Error numbers: https://docs.snowflake.com/en/user-guide/python-connector-api and the
connector's ``errorcode`` module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialects.errors import ErrorKind, WarehouseError

AUTH_ERRORS = frozenset({390100, 390144, 390102, 390318, 394304})
ROLE_ERRORS = frozenset({390189})
NO_WAREHOUSE = frozenset({606})
PRIVILEGE_ERRORS = frozenset({3001, 3003, 3041})
REACH_ERRORS = frozenset({250001, 250003, 251011, 251012})
# The session is gone (aborted, expired or closed): 390111 session no longer exists, 390112
# session expired, 390114 token expired, 250002 connection closed, 290401 the server answered
# 401 to a request of the session.
SESSION_GONE = frozenset({390111, 390112, 390114, 250002, 290401})
TRANSIENT_ERRORS = frozenset({625, 604, 610})  # lock waits, statement queueing timeouts
_PASSED = (
    ("account", "user", "password", "authenticator", "token", "warehouse", "role")
    + ("database", "schema", "host", "port", "protocol")
    + ("login_timeout", "network_timeout", "socket_timeout")
)


def private_key(settings: dict[str, Any], project_dir: Path) -> bytes | None:
    """The private key as DER (PKCS#8), read from ``private_key`` or ``private_key_path``."""
    pem = settings.get("private_key")
    path = settings.get("private_key_path")
    if not pem and not path:
        return None
    from cryptography.hazmat.primitives import serialization

    where = "private_key" if pem else "private_key_path"
    try:
        if pem:
            data = str(pem).encode()
        else:
            file = Path(str(path)).expanduser()
            data = (file if file.is_absolute() else project_dir / file).read_bytes()
        passphrase = settings.get("private_key_passphrase")
        key = serialization.load_pem_private_key(
            data, password=str(passphrase).encode() if passphrase else None
        )
    except (ValueError, TypeError, OSError) as error:
        raise WarehouseError(
            f"The Snowflake source's {where} could not be read as a PEM private key: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}. Fix: "
            "point it at the rsa_key.p8 made with `openssl genrsa 2048 | openssl pkcs8 "
            "-topk8`, and set private_key_passphrase if (and only if) the key is encrypted.",
            ErrorKind.CONNECTION,
            error,
        ) from error
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def connect_arguments(settings: dict[str, Any], project_dir: Path, label: str) -> dict[str, Any]:
    """What the connector's ``connect()`` gets (secrets included: never print it)."""
    arguments = {k: settings[k] for k in _PASSED if settings.get(k) not in (None, "")}
    key = private_key(settings, project_dir)
    if key is not None:
        arguments["private_key"] = key
        arguments.setdefault("authenticator", "SNOWFLAKE_JWT")
    arguments.setdefault("application", "lightning-sync")
    arguments["paramstyle"] = "numeric"
    # A NUMBER with a scale is read from Arrow as a decimal, not as a double (the
    # connector's default, which would round 38-digit values and drop trailing zeros).
    arguments["arrow_number_to_decimal"] = True
    arguments["autocommit"] = True
    arguments["session_parameters"] = {
        "QUERY_TAG": str(settings.get("query_tag") or label),
        "TIMEZONE": "UTC",
        "TIMESTAMP_TYPE_MAPPING": "TIMESTAMP_NTZ",
        "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
    }
    return arguments


def connect_error(error: BaseException, settings: dict[str, Any], where: str) -> WarehouseError:
    """A failed connect as a WarehouseError naming the fix; ``where`` describes the source."""
    number = getattr(error, "errno", None)
    first = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".!")
    if number in AUTH_ERRORS:
        fix = (
            "check user and the password, or that the public key of private_key is set on "
            "the user (ALTER USER <user> SET RSA_PUBLIC_KEY='...')"
        )
    elif number in ROLE_ERRORS:
        fix = (
            f"grant the role to the user (GRANT ROLE {settings.get('role')} TO USER "
            f"{settings.get('user')}) or fix `role` under the source"
        )
    elif number in REACH_ERRORS:
        fix = (
            "check `account` (the account identifier, e.g. myorg-myaccount) and, for a "
            "private endpoint, host/port/protocol, and that this machine can reach it"
        )
    else:
        fix = "check account, user, role and credentials under the source in lightning.yml"
    return WarehouseError(
        f"Cannot connect to {where}: {first}. Fix: {fix}.", ErrorKind.CONNECTION, error
    )


def classify(error: BaseException) -> ErrorKind:
    """What a connector error means to the engine (see ``Dialect.classify_error``)."""
    from snowflake.connector import errors

    if not isinstance(error, errors.Error):
        return ErrorKind.TERMINAL
    number = getattr(error, "errno", None)
    if number in PRIVILEGE_ERRORS or "insufficient privileges" in str(error).lower():
        return ErrorKind.PERMISSION
    if number in TRANSIENT_ERRORS:
        return ErrorKind.TRANSIENT
    if number in AUTH_ERRORS | ROLE_ERRORS | REACH_ERRORS | NO_WAREHOUSE | SESSION_GONE:
        return ErrorKind.CONNECTION
    if str(getattr(error, "sqlstate", None) or "").startswith("08"):  # connection exception
        return ErrorKind.CONNECTION
    if isinstance(error, errors.ProgrammingError):
        return ErrorKind.SQL
    if isinstance(error, errors.OperationalError | errors.InterfaceError):
        return ErrorKind.CONNECTION
    return ErrorKind.TERMINAL
