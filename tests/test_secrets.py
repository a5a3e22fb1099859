"""Secrets never leave the process (README "Secrets"): a destination that echoes every request
back (headers, URL with its query string, body; in an error body and in a redirect) never
gets a credential into the CLI's output, the sync logs or the engine's state tables.

Each secret is checked in the forms an echo may carry it: as is, percent-encoded and base64
(as in a ``Basic`` header), on every warehouse.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest

from engine.secrets import MARKER, Redactor, find_secrets, is_auth_name, mask_userinfo
from tests.conftest import CliResult, Workspace
from tests.fakes.echo_server import EchoServer

ROWS = [(i, f"u{i}@x", f"N{i}") for i in range(1, 7)]  # 6: enough to stop an unreachable run

# Literal secrets in the project file, found by where they sit (URL userinfo, an auth header,
# an auth query parameter, a header marked secret, a token setting) ...
URL_USER = "url-user-S3cr3t"
BEARER = "Bearer bearer-S3cr3t-token"
QUERY_KEY = "query-S3cr3t/key"  # written percent-encoded in the path
MARKED = "marked-S3cr3t-header"
CS_TOKEN = "cs-dal-S3cr3t-token"
# ... and secrets from the environment, wherever they are used.
ENV = {
    "LT_URL_PASS": "p%40ss-env-S3cr3t",  # percent-encoded in the URL; "p@ss-env-S3cr3t" sent
    "LT_TENANT": "tenant-env-S3cr3t",  # a header whose name says nothing
    "LT_API_KEY": "api-key-env-S3cr3t",
    "LT_CS_AUTHTOKEN": "cs-mgmt-env-S3cr3t",
}


def forms(secret: str) -> set[str]:
    """A secret as an echo may show it."""
    raw = secret.encode()
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def forbidden(*secrets: str) -> set[str]:
    found: set[str] = set()
    for secret in secrets:
        found |= forms(secret)
    return found


def engine_tables_text(ws: Workspace) -> str:
    """Every row of every table of the engine (state, sync logs, rejections) as text."""
    tables = ws.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE lower(table_schema) IN ('hightouch_planner', 'hightouch_audit') ORDER BY 1, 2"
    )  # lower(): Snowflake stores the engine's unquoted names upper case
    assert any("rejections" in name.lower() for _, name in tables)
    parts = []
    for schema, name in tables:
        rows = ws.query(f'SELECT * FROM "{schema}"."{name}"')
        parts.append(f"{schema}.{name}: {rows!r}")
    return "\n".join(parts)


def assert_hidden(text: str, secrets: set[str], where: str) -> None:
    # Output wrapped to the terminal's width may break a secret at a space or mid-word.
    forms_seen = (text, text.replace("\n", ""), text.replace("\n", " "))
    leaked = sorted(s for s in secrets if any(s in seen for seen in forms_seen))
    assert not leaked, f"{where} shows {leaked}:\n{text[:3000]}"


def output(result: CliResult) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def http_project(ws: Workspace, echo: EchoServer, style: str) -> set[str]:
    """A project whose destination is the echo server; returns the secrets it holds."""
    headers: dict[str, Any] = {
        "X-Marked": {"value": MARKED, "secret": True},
        "X-Tenant": "${LT_TENANT}",
    }
    base_url = echo.url
    if style == "userinfo":
        base_url = f"http://{URL_USER}:${{LT_URL_PASS}}@127.0.0.1:{echo.port}"
        secrets = {URL_USER, ENV["LT_URL_PASS"], "p@ss-env-S3cr3t"}
        secrets |= {f"{URL_USER}:p@ss-env-S3cr3t"}  # the Basic credential, base64 in forms()
    else:
        headers |= {"Authorization": BEARER, "X-Api-Key": "${LT_API_KEY}"}
        secrets = {BEARER, BEARER.split()[1], ENV["LT_API_KEY"]}
    path = f"/users/{{row_id}}?api_key={quote(QUERY_KEY, safe='')}&v=1"
    ws.simple_project(
        destination={"type": "http", "base_url": base_url, "headers": headers, "max_attempts": 1},
        sync={
            "sync_logs": ["changelog", "snapshot", "runs"],
            "http": {
                "added": {"method": "PUT", "path": path},
                "changed": {"method": "PUT", "path": path},
                "concurrency": 1,
            },
        },
    )
    return secrets | {QUERY_KEY, MARKED, ENV["LT_TENANT"]}


def changelog_reasons(ws: Workspace) -> list[str]:
    return [r[4] for r in ws.changelog() if r[4] is not None]


@pytest.mark.each_warehouse
@pytest.mark.parametrize("style", ["userinfo", "bearer"])
def test_an_echoing_http_destination_never_gets_a_secret_out(
    ws: Workspace, echo: EchoServer, style: str
) -> None:
    ws.users(ROWS)
    secrets = forbidden(*http_project(ws, echo, style))
    printed: list[str] = []

    # 4xx: every row fails, its failure_reason is the echo (redacted), in each encoding.
    for form in EchoServer.FORMS:
        echo.form = form
        result = ws.cli("run", "s", env=ENV)
        assert result.exit_code == 0, output(result)
        printed.append(output(result))
    # The request as received (the query string arrives percent-encoded, exactly as written).
    assert all(s in unquote(echo.requests[0]) for s in (QUERY_KEY, MARKED, ENV["LT_TENANT"]))
    if style == "userinfo":  # URL credentials are sent as Basic auth
        basic = base64.b64encode(f"{URL_USER}:p@ss-env-S3cr3t".encode()).decode()
        assert f"authorization: Basic {basic}" in echo.requests[0]
    reasons = changelog_reasons(ws)
    assert len(reasons) == 3 * len(ROWS)
    assert all(r.count(MARKER) >= 3 and "HTTP 400" in r for r in reasons), reasons

    # A redirect whose Location (and body) carry the request.
    echo.status = 302
    result = ws.cli("run", "s", "--json", env=ENV)
    assert result.exit_code == 0, output(result)
    printed.append(output(result))
    assert result.json()["counts"]["failed"]["added"] == len(ROWS)

    # 401: the run ends early; its error (printed, --json, sync_runs.error) quotes the echo.
    echo.status = 401
    for args in (("run", "s"), ("run", "s", "--json")):
        result = ws.cli(*args, env=ENV)
        assert result.exit_code == 1, output(result)
        printed.append(output(result))
    errors = [run["error"] for run in ws.runs() if run["error"]]
    assert len(errors) == 2 and all(MARKER in e and "HTTP 401" in e for e in errors)

    # Unreachable: the fatal error names the base URL (with its credentials, if any).
    port = echo.port
    echo.__exit__(None, None, None)
    result = ws.cli("run", "s", "--json", env=ENV)
    printed.append(output(result))
    assert result.exit_code == 1 and f"127.0.0.1:{port}" in result.json()["error"]

    for args in (("runs", "s"), ("runs", "s", "--json"), ("plan", "s"), ("plan", "s", "--json")):
        result = ws.cli(*args, env=ENV)
        assert result.exit_code == 0, output(result)
        printed.append(output(result))
    assert_hidden("\n".join(printed), secrets, "the CLI's output")
    assert_hidden(engine_tables_text(ws), secrets, "the warehouse")


@pytest.mark.each_warehouse
def test_contentstack_tokens_never_get_out(ws: Workspace, echo: EchoServer) -> None:
    ws.sql("CREATE OR REPLACE TABLE users (id BIGINT, external_id VARCHAR, plan VARCHAR)")
    ws.insert_many("INSERT INTO users VALUES (?, ?, ?)", [[i, f"e{i}", "pro"] for i in (1, 2)])

    match = {"users": {"from": "external_id", "to": "external_id"}, "attributes": {"from": "id"}}

    def project(kind: str) -> None:
        ws.write_project(
            {
                "sources": {"wh": ws.source()},
                "models": {"users": {"source": "wh", "primary_key": "id", "table": "users"}},
                "destinations": {
                    "cs": {
                        "type": "contentstack",
                        "access_token": CS_TOKEN,
                        "auth_token": "${LT_CS_AUTHTOKEN}",
                        "project_uid": "proj-1",
                        "api_base_url": echo.url,
                        "edge_api_base_url": echo.url,
                        "management_api_base_url": echo.url,
                        "max_attempts": 1,
                    }
                },
                "syncs": {
                    "s": {
                        "model": "users",
                        "destination": "cs",
                        "sync_logs": ["changelog", "snapshot", "runs"],
                        "mappings": [{"from": "plan", "to": "plan"}],
                        "contentstack": {"type": kind, "match": match[kind]},
                    }
                },
            }
        )

    secrets = forbidden(CS_TOKEN, ENV["LT_CS_AUTHTOKEN"])
    printed = []
    project("users")
    result = ws.cli("run", "s", env=ENV)  # 400: both rows fail with the echo as reason
    assert result.exit_code == 0, output(result)
    printed.append(output(result))
    assert all(MARKER in r for r in changelog_reasons(ws)) and len(changelog_reasons(ws)) == 2
    echo.status = 401  # the token is rejected: the run ends early quoting the echo
    for kind in ("users", "attributes"):
        project(kind)
        result = ws.cli("run", "s", "--json", env=ENV)
        assert result.exit_code == 1, output(result)
        assert MARKER in result.json()["error"]
        printed.append(output(result))
    assert CS_TOKEN in echo.requests[0] and ENV["LT_CS_AUTHTOKEN"] in echo.requests[-1]
    assert_hidden("\n".join(printed), secrets, "the CLI's output")
    assert_hidden(engine_tables_text(ws), secrets, "the warehouse")


PG_PASSWORD = "pg-env-S3cr3t-pw"


@pytest.mark.parametrize(
    ("dsn", "env"),
    [
        # libpq quotes a malformed URI whole in its error ...
        ("postgresql://lt_user:${LT_PG_PASS}@[::1/db", {"LT_PG_PASS": PG_PASSWORD}),
        # ... or the part it cannot read ...
        ("${LT_PG_DSN}", {"LT_PG_DSN": PG_PASSWORD}),
        ("postgresql://lt_user:pg-literal S3cret@127.0.0.1/db", {}),
        # ... and a refused connection says where it tried.
        ("postgresql://lt_user:${LT_PG_PASS}@127.0.0.1:9/db", {"LT_PG_PASS": PG_PASSWORD}),
        ("host=127.0.0.1 port=9 password='pg-literal S3cret' user=x", {}),
    ],
)
def test_a_source_password_is_not_printed_when_the_connection_fails(
    tmp_path: Path, dsn: str, env: dict[str, str]
) -> None:
    ws = Workspace(tmp_path)
    ws.write_project(
        {
            "sources": {"wh": {"type": "postgres", "dsn": dsn, "connect_timeout": 2}},
            "models": {"users": {"source": "wh", "primary_key": "id", "table": "users"}},
            "destinations": {"dest": {"type": "file", "path": "out"}},
            "syncs": {
                "s": {
                    "model": "users",
                    "destination": "dest",
                    "mappings": [{"from": "name", "to": "name"}],
                }
            },
        }
    )
    secret = env.get("LT_PG_PASS") or env.get("LT_PG_DSN") or "pg-literal S3cret"
    for args in (("run", "s"), ("run", "s", "--json"), ("plan", "s"), ("init",)):
        result = ws.cli(*args, env=env)
        assert result.exit_code == 1, output(result)
        assert "Cannot connect" in output(result) or "connect" in output(result).lower()
        assert_hidden(output(result), forms(secret), f"`{' '.join(args)}`")


def test_a_literal_token_on_a_line_yaml_cannot_read_is_not_printed(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write_text(
        "sources:\n  wh: {type: duckdb, path: w.duckdb}\n"
        'destinations:\n  d: {type: http, access_token: "yaml-S3cret-token\n'
    )
    result = ws.cli("run", "s")
    assert result.exit_code == 2 and "not valid YAML at line" in output(result)
    assert_hidden(output(result), forms("yaml-S3cret-token"), "the YAML error")


# -- the redaction itself ---------------------------------------------------------------------
def test_every_form_an_echo_may_give_a_secret_is_redacted() -> None:
    secret = 'p@ss w/"rd-é'
    redactor = Redactor({secret})
    raw = secret.encode()
    shown = [
        secret,
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote(secret),
        quote_plus(secret),
        quote(quote(secret, safe=""), safe=""),  # encoded twice (a URL inside a URL)
        'p%40ss w/"rd-%C3%A9',  # encoded in part
        "".join(f"%{byte:02X}" for byte in raw),  # every byte encoded, letters too
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1],
        html.escape(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]
    for form in shown:
        assert redactor.redact(f"before {form} after") == f"before {MARKER} after", form


def test_a_secret_cut_short_by_a_truncation_is_redacted() -> None:
    redactor = Redactor({"tok-1234567890"})
    assert redactor.redact("body: tok-12345...") == f"body: {MARKER}..."
    assert redactor.redact("body: tok-1234... (after 3 attempts)") == (
        f"body: {MARKER}... (after 3 attempts)"
    )
    assert redactor.redact("body: tok-123\u2026 [cut]") == f"body: {MARKER}\u2026 [cut]"
    assert redactor.redact("tok- is a prefix, tok-1 too") == "tok- is a prefix, tok-1 too"


def test_values_too_short_to_be_credentials_are_left_alone() -> None:
    redactor = Redactor({"abc", "", "1"})
    assert not redactor
    assert redactor.redact("abc 1") == "abc 1"


def test_which_settings_hold_secrets() -> None:
    basic = base64.b64encode(b"basic-user:basic-pass").decode()
    found = find_secrets(
        {
            "db": {"dsn": "postgresql://db-user:db%40pass@h/x", "port": 5432},
            "kv": {"dsn": "host=h password='kv pass' user=kv-user"},
            "api": {
                "base_url": "https://h/v1?api_key=qs-key&region=eu-west",
                "headers": {
                    "Authorization": f"Basic {basic}",
                    "X-Api-Key": "xapi-key",
                    "X-Custom": {"value": "marked-value", "secret": True},
                    "X-Tenant": "acme-tenant",
                    "Accept": "application/json",
                },
                "timeout_seconds": 30,
            },
            "cs": {"access_token": "cs-token", "oauth_token": "oauth-tok", "project_uid": "p-uid"},
            "pg": {"password": 12345678, "user": "pg-user"},
        }
    )
    for secret in (
        "db-user",
        "db%40pass",
        "db@pass",
        "db-user:db@pass",
        "kv pass",
        "qs-key",
        f"Basic {basic}",
        basic,
        "basic-user:basic-pass",
        "basic-pass",
        "xapi-key",
        "marked-value",
        "cs-token",
        "oauth-tok",
        "12345678",
    ):
        assert secret in found, secret
    for plain in ("acme-tenant", "application/json", "eu-west", "p-uid", "pg-user", "kv-user"):
        assert plain not in found, plain
    assert is_auth_name("Proxy-Authorization") and is_auth_name("authtoken")
    assert is_auth_name("set-cookie") and not is_auth_name("Content-Type")


def test_an_exception_and_its_causes_are_scrubbed() -> None:
    redactor = Redactor({"scrub-S3cret"})
    with pytest.raises(RuntimeError) as caught, redactor.scrubbing():
        try:
            raise ValueError("driver said scrub-S3cret")
        except ValueError as error:
            raise RuntimeError("wrapped: scrub-S3cret") from error
    assert str(caught.value) == f"wrapped: {MARKER}"
    assert str(caught.value.__cause__) == f"driver said {MARKER}"
    assert mask_userinfo("see https://u:p@h/x") == f"see https://{MARKER}@h/x"


def test_an_unexpected_error_is_printed_with_its_traceback_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from engine.cli import _guard

    ws = Workspace(tmp_path)
    ws.simple_project(destination={"type": "http", "base_url": "http://u:guard-S3cret@h"})

    def bug() -> None:
        raise KeyError("http://u:guard-S3cret@h/x")

    with pytest.raises(typer.Exit) as exit_:
        _guard(bug, ws.project())
    printed = capsys.readouterr()
    assert exit_.value.exit_code == 1
    assert "Traceback" in printed.err and "KeyError" in printed.err and MARKER in printed.err
    assert_hidden(printed.out + printed.err, forms("guard-S3cret"), "the traceback")


@pytest.mark.each_warehouse
def test_init_does_not_print_a_source_setting_from_the_environment(ws: Workspace) -> None:
    ws.users(ROWS)
    source = ws.source()
    if "path" in source:  # DuckDB: the file's path is printed
        secret, source["path"] = source["path"], "${LT_SOURCE}"
    elif "database" in source:  # Snowflake: the database's name is printed
        secret, source["database"] = source["database"], "${LT_SOURCE}"
    elif "project" in source:  # BigQuery: the project id is printed
        secret, source["project"] = source["project"], "${LT_SOURCE}"
    elif "remote" in source:  # Spark: the server's URL is printed
        secret, source["remote"] = source["remote"], "${LT_SOURCE}"
    else:  # PostgreSQL: the database's name is printed
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        parts = conninfo_to_dict(source["dsn"])
        secret, parts["dbname"] = parts["dbname"], "${LT_SOURCE}"
        source["dsn"] = make_conninfo(**parts)
    ws.write_project(
        {
            "sources": {"wh": source},
            "models": {"users": {"source": "wh", "primary_key": "id", "table": "users"}},
        }
    )
    result = ws.cli("init", env={"LT_SOURCE": secret})
    assert result.exit_code == 0, output(result)
    unwrapped = result.stdout.replace("\n", "")  # a long path wraps, mid-word if need be
    assert "ok" in unwrapped and MARKER in unwrapped
    assert_hidden(output(result), {secret}, "`init`")
