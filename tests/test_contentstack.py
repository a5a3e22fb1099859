"""The contentstack destination end to end against the fake Contentstack on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialects.base import JsonText
from engine.destinations import build_destination
from engine.destinations.base import DeltaRow
from engine.destinations.contentstack_rows import (
    api_reason,
    hash_email,
    prepare_edge,
    prepare_user,
)
from engine.destinations.contentstack_settings import ContentstackSyncSettings, region_urls
from engine.destinations.http_client import Sent
from examples.contentstack.seed import seed
from tests.conftest import REPO, Workspace
from tests.fakes.contentstack import FakeContentstack

DAL_TOKEN = "at.fakedal.token"
MGMT_TOKEN = "cs-fake-authtoken"
PROJECT = "6650f1a2b3c4d5e6f7a8b9c0"
FAST_RETRIES = {"backoff_seconds": 0.01, "max_backoff_seconds": 0.05}


@pytest.fixture
def cs() -> Iterator[FakeContentstack]:
    """A running fake with default settings."""
    with FakeContentstack() as fake:
        yield fake


def users(ws: Workspace, rows: list[tuple[Any, ...]]) -> None:
    """Replace the users table: (id, email, external_id, first_name, plan, audiences, uid)."""
    ws.sql(
        "CREATE OR REPLACE TABLE users (id BIGINT, email VARCHAR, external_id VARCHAR, "
        "first_name VARCHAR, plan VARCHAR, audience_ids VARCHAR[], uid VARCHAR)"
    )
    if rows:
        ws.insert_many("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)", [list(r) for r in rows])


def some_users(n: int, start: int = 1) -> list[tuple[Any, ...]]:
    return [
        (i, f"User{i}@Example.com", f"ext-{i}", f"F{i}", "pro", ["aud1", f"aud{i}"], f"u{i}")
        for i in range(start, start + n)
    ]


def project(
    ws: Workspace,
    cs: FakeContentstack,
    block: dict[str, Any] | None = None,
    mode: str = "upsert",
    mappings: list[dict[str, str]] | None = None,
    destination: dict[str, Any] | None = None,
    model_sql: str = "select * from users",
) -> None:
    """A project syncing model ``users`` to the fake (sync ``s``)."""
    dest = {
        "type": "contentstack",
        "access_token": DAL_TOKEN,
        "api_base_url": cs.url,
        "edge_api_base_url": cs.url,
        "management_api_base_url": cs.url,
        "project_uid": PROJECT,
        "auth_token": MGMT_TOKEN,
        **FAST_RETRIES,
    }
    ws.write_project(
        {
            "sources": {"wh": ws.source()},
            "models": {"users": {"source": "wh", "primary_key": "id", "sql": model_sql}},
            "destinations": {"cs": {**dest, **(destination or {})}},
            "syncs": {
                "s": {
                    "model": "users",
                    "destination": "cs",
                    "mode": mode,
                    "mappings": mappings
                    if mappings is not None
                    else [
                        {"from": "first_name", "to": "first_name"},
                        {"from": "plan", "to": "plan"},
                    ],
                    "contentstack": block
                    or {"type": "users", "match": {"from": "external_id", "to": "external_id"}},
                }
            },
        }
    )


def statuses(ws: Workspace, run: int = -1) -> dict[str, tuple[str, str | None]]:
    """row_id -> (status, failure_reason) in one run's changelog (default: the last)."""
    rows = ws.changelog()
    run_id = sorted({r[0] for r in rows})[run]
    return {r[2]: (r[3], r[4]) for r in rows if r[0] == run_id}


def encodings(value: str) -> tuple[str, str]:
    """A path segment as sent: every reserved character percent-encoded. The aiohttp-based
    transport may leave ``@`` and ``:`` bare (both are legal in a path segment and decode
    to the same value)."""
    return urllib.parse.quote(value, safe=""), urllib.parse.quote(value, safe="@:")


def run_ok(ws: Workspace, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = ws.cli("run", "s", "--json", env=env)
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.json()


# -- well-formed requests ---------------------------------------------------------------------
@pytest.mark.each_warehouse
def test_hashed_email_match_with_audiences_column(ws: Workspace, cs: FakeContentstack) -> None:
    users(ws, some_users(3) + [(4, "  Mixed.Case+tag@Example.COM ", "e4", "F4", "free", [], "u4")])
    project(
        ws,
        cs,
        {
            "type": "users",
            "match": {"from": "email", "to": "email_sha256"},
            "audiences": {"from": "audience_ids"},
        },
        destination={"access_token": "${CS_TOKEN}"},
    )
    out = run_ok(ws, env={"CS_TOKEN": DAL_TOKEN})
    assert out["counts"]["succeeded"]["added"] == 4
    sent = {r.path_params["value"]: r for r in cs.requests_for("dal", "PATCH")}
    expected = hashlib.sha256(b"mixed.case+tag@example.com").hexdigest()
    assert expected in sent and hash_email("user1@example.com") in sent
    request = sent[expected]
    assert request.headers["authorization"] == DAL_TOKEN  # no Bearer prefix
    assert request.headers["content-type"] == "application/json"
    assert request.raw_path == f"/v2/attributes/user/email_sha256/{expected}"
    assert request.json() == {"first_name": "F4", "plan": "free", "external_audiences": []}
    first = sent[hash_email(" USER1@example.com")]
    assert first.json()["external_audiences"] == ["aud1"]  # duplicates dropped, order kept
    assert cs.profile("email_sha256", expected)["plan"] == "free"
    # A column that already holds the hash is sent as it is (lower-cased).
    assert hash_email(expected.upper()) == expected


def test_identifier_is_url_encoded_and_static_audiences(
    ws: Workspace, cs: FakeContentstack
) -> None:
    odd = "a/b c+d@x?#%é"
    users(ws, [(1, "A@X.com", odd, "F1", "pro", None, "u1")])
    project(
        ws,
        cs,
        {
            "type": "users",
            "match": {"from": "external_id", "to": "external_id"},
            "audiences": ["65f1c2e3d4b5a69788796a5b", "0123456789abcdef0123456789abcdef"],
        },
        mode="update",
    )
    run_ok(ws)
    (request,) = cs.requests_for("dal")
    assert request.method == "PATCH"
    raw = request.raw_path.removeprefix("/v2/attributes/user/external_id/")
    assert raw in encodings(odd)
    assert request.path_params["value"] == odd
    assert request.json()["external_audiences"] == [
        "65f1c2e3d4b5a69788796a5b",
        "0123456789abcdef0123456789abcdef",
    ]


def test_changed_static_audiences_or_method_resend_every_user(
    ws: Workspace, cs: FakeContentstack
) -> None:
    users(ws, some_users(3))
    block: dict[str, Any] = {
        "type": "users",
        "match": {"from": "external_id", "to": "external_id"},
        "audiences": ["aud-a"],
    }
    project(ws, cs, block, mode="update")
    run_ok(ws)
    run_ok(ws)  # nothing changed: nothing sent
    assert len(cs.requests_for("dal")) == 3
    project(ws, cs, {**block, "audiences": ["aud-a", "aud-b"]}, mode="update")
    assert run_ok(ws)["counts"]["planned"]["changed"] == 3
    sent = cs.requests_for("dal")[3:]
    assert [r.json()["external_audiences"] for r in sent] == [["aud-a", "aud-b"]] * 3
    project(ws, cs, {**block, "audiences": ["aud-b", "aud-a"]}, mode="update")
    assert run_ok(ws)["counts"]["planned"]["changed"] == 0  # the same set in another order
    project(ws, cs, {**block, "audiences": ["aud-b", "aud-a"], "method": "PUT"}, mode="update")
    assert run_ok(ws)["counts"]["planned"]["changed"] == 3
    assert {r.method for r in cs.requests_for("dal")[6:]} == {"PUT"}


def test_email_match_is_normalized_and_put_replaces(ws: Workspace, cs: FakeContentstack) -> None:
    cs.add_profile({"email": "a@x.com", "old": "gone", "plan": "free"})
    users(ws, [(1, " A@X.com ", "e1", "F1", "pro", None, "u1")])
    project(ws, cs, {"type": "users", "match": {"from": "email", "to": "email"}, "method": "put"})
    run_ok(ws)
    (request,) = cs.requests_for("dal")
    assert request.method == "PUT"
    assert request.raw_path.removeprefix("/v2/attributes/user/email/") in encodings("a@x.com")
    assert cs.profile("email", "a@x.com") == {"email": "a@x.com", "first_name": "F1", "plan": "pro"}


def test_a_shared_match_value_fails_those_users_before_sending(
    ws: Workspace, cs: FakeContentstack
) -> None:
    rows = some_users(3)
    rows[1] = (2, "b@x", "ext-1", "F2", "pro", None, "u2")  # the external_id of user 1
    users(ws, rows)
    project(ws, cs)
    run_ok(ws)
    got = statuses(ws)
    shared = ("failed", "match column 'external_id' is not unique (another key has it)")
    assert got["1"] == got["2"] == shared and got["3"] == ("succeeded", None)
    assert [r.raw_path.rsplit("/", 1)[-1] for r in cs.requests_for("dal")] == ["ext-3"]


# -- modes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("create_on_write", [True, False])
@pytest.mark.parametrize("mode", ["update", "upsert"])
def test_update_and_upsert_against_create_on_write(
    ws: Workspace, cs: FakeContentstack, mode: str, create_on_write: bool
) -> None:
    cs.create_on_write = create_on_write
    cs.add_profile({"external_id": "ext-1", "plan": "free"})
    users(ws, some_users(2))
    project(ws, cs, mode=mode)
    run_ok(ws)
    got = statuses(ws)
    assert got["1"] == ("succeeded", None)
    assert cs.profile("external_id", "ext-1")["plan"] == "pro"
    if create_on_write:
        assert got["2"] == ("succeeded", None)
        assert cs.profile("external_id", "ext-2") is not None
    else:
        status, reason = got["2"]
        assert status == "failed" and cs.profile("external_id", "ext-2") is None
        assert "HTTP 404" in reason and "NOTFOUND-003" in reason
        assert "The attribute you are trying to update does not exist" in reason
        hint = "mode update does not create" if mode == "update" else "did not create one"
        assert hint in reason
        cs.create_on_write = True  # the profile can be created now: the retry succeeds
        run_ok(ws)
        assert statuses(ws) == {"2": ("succeeded", None)}


def test_concurrency_and_rate_limit_are_respected(ws: Workspace, cs: FakeContentstack) -> None:
    cs.latency_seconds = 0.01
    users(ws, some_users(60))
    block = {
        "type": "users",
        "match": {"from": "external_id", "to": "external_id"},
        "concurrency": 4,
        "rate_limit_per_second": 30,
    }
    project(ws, cs, block)
    run_ok(ws)
    sent = cs.requests_for("dal")
    assert len(sent) == 60 and cs.peak_in_flight <= 4
    # A burst of 30, then 30 per second: the last of 60 starts about 1 s after the first.
    assert sent[-1].monotonic - sent[0].monotonic >= 0.9


# -- per-user failures and retries ------------------------------------------------------------
@pytest.mark.each_warehouse
def test_rejected_user_is_logged_with_the_api_reason_and_retried(
    ws: Workspace, cs: FakeContentstack
) -> None:
    users(ws, some_users(5))
    cs.reject_user("ext-3", 422, "VALIDATION-044", "first_name must be shorter")
    project(ws, cs)
    out = run_ok(ws)
    assert out["counts"]["failed"]["added"] == 1
    reason = "HTTP 422 Unprocessable Entity: VALIDATION-044: first_name must be shorter"
    assert statuses(ws)["3"] == ("failed", reason)
    rows = ws.query(
        "select failure_reason, count(*) from hightouch_audit.sync_changelog "
        "where sync_id = 's' and status <> 'succeeded' group by 1"
    )
    assert rows == [(reason, 1)]

    cs.clear_requests()
    run_ok(ws)  # still rejected: only that row is sent again
    assert [r.path_params["value"] for r in cs.requests_for("dal")] == ["ext-3"]
    assert statuses(ws) == {"3": ("failed", reason)}

    cs.reject_users.clear()
    run_ok(ws)
    assert statuses(ws) == {"3": ("succeeded", None)}
    assert ws.runs()[-1]["num_succeeded_add"] == 1


def test_429_with_and_without_retry_after_and_a_5xx_storm(
    ws: Workspace, cs: FakeContentstack
) -> None:
    users(ws, some_users(1))
    project(ws, cs)
    cs.rate_limit_next(1, retry_after=0.4)
    cs.rate_limit_next(1)  # no Retry-After: backoff
    cs.server_errors_next(2, status=500)
    cs.server_errors_next(1, status=503)  # an HTML gateway page
    run_ok(ws)
    sent = cs.requests_for("dal")
    assert [r.status for r in sent] == [429, 429, 500, 500, 503, 200]
    assert sent[1].monotonic - sent[0].monotonic >= 0.39  # waited what Retry-After said
    assert sent[2].monotonic - sent[1].monotonic < 0.3  # backoff_seconds: 0.01
    assert statuses(ws)["1"] == ("succeeded", None)


def test_retries_exhausted_fail_the_row_and_the_next_run_sends_it(
    ws: Workspace, cs: FakeContentstack
) -> None:
    users(ws, some_users(2))
    block = {
        "type": "users",
        "match": {"from": "external_id", "to": "external_id"},
        "concurrency": 1,
    }
    project(ws, cs, block, destination={"max_attempts": 3})
    cs.server_errors_next(3, status=500)
    run_ok(ws)
    failed = [v for v in statuses(ws).values() if v[0] == "failed"]
    assert failed == [
        (
            "failed",
            "HTTP 500 Internal Server Error: INTERNAL-019: Internal server error "
            "(after 3 attempts)",
        )
    ]
    run_ok(ws)
    assert [v[0] for v in statuses(ws).values()] == ["succeeded"]
    assert len(cs.profiles) == 2


# -- credentials ------------------------------------------------------------------------------
@pytest.mark.each_warehouse
def test_token_revoked_mid_run_aborts_and_the_next_run_finishes(
    ws: Workspace, cs: FakeContentstack
) -> None:
    cs.latency_seconds = 0.002
    users(ws, some_users(400))
    project(
        ws,
        cs,
        {"type": "users", "match": {"from": "external_id", "to": "external_id"}, "concurrency": 2},
    )

    def revoke() -> None:
        while len(cs.requests) < 60:
            time.sleep(0.001)
        cs.revoke_token(DAL_TOKEN)

    thread = threading.Thread(target=revoke)
    thread.start()
    result = ws.cli("run", "s", "--json")
    thread.join()
    assert result.exit_code == 1
    out = result.json()
    assert out["status"] == "failed"
    assert "access token" in out["error"] and "UNAUTHORIZED-017" in out["error"]
    assert "Data & Insights -> Account -> Access Tokens" in out["error"]
    assert "Data Manager" in out["error"]
    got = statuses(ws)
    succeeded = {k for k, v in got.items() if v[0] == "succeeded"}
    aborted = {k for k, v in got.items() if v[0] == "aborted"}
    assert len(got) == 400 and succeeded | aborted == set(got)
    assert 50 <= len(succeeded) < 350 and out["aborted"] == len(aborted)
    # An aborted row has no failure_reason (set for failed rows only); the run's error says why.
    assert all(v[1] is None for k, v in got.items() if k in aborted)
    assert ws.runs()[-1]["error"] == out["error"]
    # Every succeeded row really arrived before the revocation.
    assert {p["external_id"] for p in cs.profiles} == {f"ext-{k}" for k in succeeded}

    cs.add_dal_token("at.new.token")
    cs.latency_seconds = 0.0
    project(ws, cs, destination={"access_token": "at.new.token"})
    run_ok(ws)
    assert {k for k, v in statuses(ws).items() if v[0] == "succeeded"} == aborted
    assert len(cs.profiles) == 400


def test_read_only_token_ends_the_run_before_any_row_succeeds(
    ws: Workspace, cs: FakeContentstack
) -> None:
    cs.add_dal_token("at.readonly", read_only=True)
    users(ws, some_users(20))
    project(ws, cs, destination={"access_token": "at.readonly"})
    result = ws.cli("run", "s")
    assert result.exit_code == 1
    assert "lacks permission" in result.stderr and "Data Manager" in result.stderr
    assert {v[0] for v in statuses(ws).values()} == {"aborted"}


# -- limits -----------------------------------------------------------------------------------
def test_rows_breaking_documented_limits_fail_before_sending(
    ws: Workspace, cs: FakeContentstack
) -> None:
    rows = [
        (1, "a@x", "ok-1", "F", "pro", ["a1"], "u1"),
        (2, "b@x", "x" * 257, "F", "pro", ["a1"], "u2"),
        (3, "c@x", "big", "F" * 4100, "pro", ["a1"], "u3"),
        (4, "d@x", "many", "F", "pro", [str(i) for i in range(1001)], "u4"),
        (5, "e@x", None, "F", "pro", ["a1"], "u5"),
        (6, "f@x", "é" * 128, "F", "pro", ["a1"], "u6"),  # 256 bytes: at the limit
    ]
    users(ws, rows)
    project(
        ws,
        cs,
        {
            "type": "users",
            "match": {"from": "external_id", "to": "external_id"},
            "audiences": {"from": "audience_ids"},
        },
    )
    run_ok(ws)
    got = statuses(ws)
    assert got["1"] == got["6"] == ("succeeded", None)
    assert "257 bytes" in got["2"][1] and "256 bytes per identifier" in got["2"][1]
    assert "4 KB" in got["3"][1]
    assert "1,003 attribute values" in got["4"][1] and "1,000" in got["4"][1]
    assert "4 KB" in got["4"][1]  # every limit broken is named
    assert "match column 'external_id' is empty" in got["5"][1]
    assert sorted(r.path_params["value"] for r in cs.requests_for("dal")) == ["ok-1", "é" * 128]


# -- Personalize attributes -------------------------------------------------------------------
@pytest.mark.each_warehouse
def test_attributes_path_creates_missing_attributes_once_within_10_per_second(
    ws: Workspace, cs: FakeContentstack
) -> None:
    cs.add_attribute("plan")
    users(ws, some_users(30))
    extra = [f"a{i}" for i in range(12)]
    model_sql = (
        "select *, " + ", ".join(f"id + {i} as {a}" for i, a in enumerate(extra)) + (" from users")
    )
    mappings = [{"from": "plan", "to": "plan"}] + [{"from": a, "to": a} for a in extra]
    block = {"type": "attributes", "match": {"from": "uid"}}
    project(ws, cs, block, mappings=mappings, model_sql=model_sql)
    run_ok(ws)

    management = cs.requests_for("management")
    assert [r.method for r in management] == ["GET"] + ["POST"] * 12
    assert all(r.status in (200, 201) for r in management)
    assert {r.json()["key"] for r in management[1:]} == set(extra)
    assert management[1].headers["authtoken"] == MGMT_TOKEN
    assert management[1].headers["x-project-uid"] == PROJECT
    times = [r.monotonic for r in management]
    assert all(sum(1 for t in times if s <= t < s + 1.0) <= 10 for s in times)

    edge = cs.requests_for("edge", "PATCH")
    assert len(edge) == 30
    first = next(r for r in edge if r.headers["x-cs-personalize-user-uid"] == "u1")
    assert first.headers["x-project-uid"] == PROJECT
    assert first.headers["content-type"] == "application/json"
    assert "authorization" not in first.headers
    assert cs.edge_user_attributes("u1") == {
        "plan": "pro",
        **{a: 1 + i for i, a in enumerate(extra)},
    }

    cs.clear_requests()
    ws.sql("UPDATE users SET plan = 'free' WHERE id = 2")
    run_ok(ws)
    assert [r.method for r in cs.requests_for("management")] == ["GET"]
    assert cs.edge_user_attributes("u2")["plan"] == "free"


def test_attributes_path_edge_failures_and_204(ws: Workspace, cs: FakeContentstack) -> None:
    cs.edge_patch_status = 204
    cs.reject_user("u2", 400, "personalize.USER.INVALID", "user uid is blocked")
    users(ws, some_users(3) + [(4, "d@x", "e4", "F4", "pro", None, None)])
    project(
        ws,
        cs,
        {"type": "attributes", "match": {"from": "uid", "to": "user_uid"}},
        mappings=[{"from": "plan", "to": "plan"}],
    )
    run_ok(ws)
    got = statuses(ws)
    assert got["1"] == got["3"] == ("succeeded", None)
    assert got["2"] == (
        "failed",
        "HTTP 400 Bad Request: personalize.USER.INVALID: user uid is blocked",
    )
    assert "no Personalize user UID" in got["4"][1]
    assert [a["key"] for a in cs.attributes()] == ["plan"]


def test_attributes_path_with_a_rejected_authtoken_sends_nothing(
    ws: Workspace, cs: FakeContentstack
) -> None:
    users(ws, some_users(5))
    project(
        ws,
        cs,
        {"type": "attributes", "match": {"from": "uid"}},
        destination={"auth_token": "stale"},
    )
    result = ws.cli("run", "s")
    assert result.exit_code == 1
    assert "Management API rejected the token" in result.stderr
    assert "/v3/user-session" in result.stderr
    assert cs.requests_for("edge") == []
    assert {v[0] for v in statuses(ws).values()} == {"aborted"}


def test_attributes_quota_reached_ends_the_run_with_the_api_reason(
    ws: Workspace, cs: FakeContentstack
) -> None:
    cs.attribute_quota = 0
    users(ws, some_users(2))
    project(
        ws,
        cs,
        {"type": "attributes", "match": {"from": "uid"}},
        mappings=[{"from": "plan", "to": "plan"}],
    )
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 1
    error = result.json()["error"]
    assert "Could not create the custom attribute 'plan'" in error
    assert "QUOTA_EXCEEDED" in error and "HTTP 422" in error


# -- regions and configuration ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "edge", "management"),
    [
        ("NA", "personalize-edge", "personalize-api"),
        ("eu", "eu-personalize-edge", "eu-personalize-api"),
        ("Azure NA", "azure-na-personalize-edge", "azure-na-personalize-api"),
        ("azure_eu", "azure-eu-personalize-edge", "azure-eu-personalize-api"),
        ("GCP-NA", "gcp-na-personalize-edge", "gcp-na-personalize-api"),
        ("gcp eu", "gcp-eu-personalize-edge", "gcp-eu-personalize-api"),
        ("AU", "au-personalize-edge", "au-personalize-api"),
    ],
)
def test_regions_by_name(name: str, edge: str, management: str) -> None:
    assert region_urls(name) == (
        f"https://{edge}.contentstack.com",
        f"https://{management}.contentstack.com",
    )


def test_region_setting_and_explicit_urls(ws: Workspace, cs: FakeContentstack) -> None:
    users(ws, some_users(1))
    block = {"type": "attributes", "match": {"from": "uid"}}
    project(
        ws,
        cs,
        block,
        destination={
            "region": "gcp eu",
            "edge_api_base_url": None,
            "management_api_base_url": None,
        },
    )
    dest = build_destination(ws.project(), "s")
    assert dest.settings.edge_url() == "https://gcp-eu-personalize-edge.contentstack.com"
    assert dest.settings.management_url() == "https://gcp-eu-personalize-api.contentstack.com"
    project(ws, cs, block, destination={"region": "EU"})
    dest = build_destination(ws.project(), "s")
    assert dest.settings.edge_url() == dest.settings.management_url() == cs.url


USERS = {"type": "users", "match": {"from": "external_id", "to": "external_id"}}


@pytest.mark.parametrize(
    ("mode", "block", "destination", "mappings", "expected"),
    [
        ("mirror", USERS, {}, None, "syncs.s.mode: the contentstack destination (type: users)"),
        ("update", {"type": "attributes", "match": {"from": "uid"}}, {}, None, "Fix: use upsert"),
        (
            "upsert",
            {"type": "users", "match": {"from": "email", "to": "mail"}},
            {},
            None,
            "syncs.s.contentstack: match.to is 'mail'. Fix: set match.to to one of external_id",
        ),
        ("upsert", {"type": "users", "match": {"from": "email"}}, {}, None, "match.to is missing"),
        (
            "upsert",
            {"type": "user", "match": {"from": "email", "to": "email"}},
            {},
            None,
            "syncs.s.contentstack.type: Input should be 'users' or 'attributes'",
        ),
        (
            "upsert",
            {**USERS, "concurency": 4},
            {},
            None,
            "syncs.s.contentstack.concurency: unknown key",
        ),
        ("upsert", {**USERS, "method": "POST"}, {}, None, "syncs.s.contentstack.method"),
        ("upsert", {"type": "users"}, {}, None, "syncs.s.contentstack.match: required key"),
        ("upsert", USERS, {"access_token": None}, None, "destinations.cs.access_token: missing"),
        ("upsert", USERS, {"access_token": "Bearer at.x"}, None, "without a 'Bearer ' prefix"),
        (
            "upsert",
            USERS,
            {"region": "mars"},
            None,
            "destinations.cs.region: unknown region 'mars'. Fix: use one of NA, EU",
        ),
        (
            "upsert",
            USERS,
            {"api_base_url": "api.lytics.io"},
            None,
            "destinations.cs.api_base_url: 'api.lytics.io' is not an http(s) URL",
        ),
        (
            "upsert",
            {"type": "attributes", "match": {"from": "uid"}},
            {"auth_token": None},
            None,
            "destinations.cs.auth_token: missing",
        ),
        (
            "upsert",
            {"type": "attributes", "match": {"from": "uid"}},
            {"project_uid": None},
            None,
            "destinations.cs.project_uid: missing",
        ),
        (
            "upsert",
            {"type": "attributes", "match": {"from": "uid"}, "audiences": ["a"]},
            {},
            None,
            "audiences applies to type: users only",
        ),
        (
            "upsert",
            {"type": "attributes", "match": {"from": "uid", "to": "email"}},
            {},
            None,
            "set match.to to user_uid",
        ),
        (
            "upsert",
            {**USERS, "audiences": ["a"]},
            {},
            [{"from": "plan", "to": "external_audiences"}],
            "is both mapped and set",
        ),
        ("upsert", USERS, {}, [], "nothing to send"),
        ("upsert", {**USERS, "audiences": 5}, {}, None, "audiences: 5 is neither a column"),
        ("upsert", {"type": "users", "match": "email"}, {}, None, "'email' is not a mapping"),
        (
            "upsert",
            {"type": "users", "match": {"from": "mail", "to": "email"}},
            {},
            None,
            "syncs.s.contentstack.match.from: 'mail' is not a column of model 'users'. "
            "Did you mean 'email'?",
        ),
        (
            "upsert",
            {**USERS, "audiences": {"from": "audiences"}},
            {},
            None,
            "syncs.s.contentstack.audiences.from: 'audiences' is not a column",
        ),
    ],
)
def test_config_errors_name_the_key_and_the_fix(
    ws: Workspace,
    cs: FakeContentstack,
    mode: str,
    block: dict[str, Any],
    destination: dict[str, Any],
    mappings: list[dict[str, str]] | None,
    expected: str,
) -> None:
    users(ws, some_users(1))
    project(ws, cs, block, mode=mode, destination=destination, mappings=mappings)
    result = ws.cli("run", "s")
    assert result.exit_code == 2, result.stderr
    assert expected in " ".join(result.stderr.split())
    assert cs.requests == []


def test_api_reason_shapes() -> None:
    import httpx

    def sent(status: int, body: str) -> Sent:
        return Sent(httpx.Response(status), 1, body.encode())

    mgmt = (
        '{"error_message": "Validation failed.", "error_code": 422, "errors": {"key": '
        '[{"code": "personalize.ATTRIBUTES.DUPLICATE_KEY", "message": "exists"}]}}'
    )
    assert api_reason(sent(422, mgmt)) == (
        "HTTP 422 Unprocessable Entity: 422: Validation failed.; key: exists "
        "(personalize.ATTRIBUTES.DUPLICATE_KEY)"
    )
    assert api_reason(sent(502, "<html>Bad Gateway</html>")) == (
        "HTTP 502 Bad Gateway: <html>Bad Gateway</html>"
    )
    assert api_reason(sent(404, "")) == "HTTP 404 Not Found"


def test_audience_column_forms_and_edge_row_checks() -> None:
    settings = ContentstackSyncSettings.model_validate(
        {"match": {"from": "e", "to": "external_id"}, "audiences": {"from": "a"}}
    )

    def body(value: Any) -> Any:
        row = DeltaRow("1", "added", {"plan": "pro"}, {"e": "x", "a": value}, "x")
        prepared = prepare_user(row, settings)
        return prepared if isinstance(prepared, str) else json.loads(prepared.body)

    assert body(["a", "b", "a"])["external_audiences"] == ["a", "b"]
    assert body('["a", "b"]')["external_audiences"] == ["a", "b"]
    assert body("a, b")["external_audiences"] == ["a", "b"]
    assert body("")["external_audiences"] == []
    assert "external_audiences" not in body(None)
    assert "not a list of audience IDs" in body({"x": 1})

    edge = ContentstackSyncSettings.model_validate({"type": "attributes", "match": {"from": "u"}})
    nested = DeltaRow("1", "added", {"tags": ["a"], "plan": "pro"}, {"u": "u1"}, "u1")
    assert "flat" in str(prepare_edge(nested, edge)) and "tags" in str(prepare_edge(nested, edge))
    # A JSON column (DuckDB hands it over as its text) holding an object is nested too.
    as_json = DeltaRow("1", "added", {"doc": JsonText(' {"a": 1}')}, {"u": "u1"}, "u1")
    refused = prepare_edge(as_json, edge)
    assert isinstance(refused, str) and "flat" in refused and "doc" in refused
    scalar = DeltaRow("1", "added", {"doc": JsonText("1.50")}, {"u": "u1"}, "u1")
    prepared = prepare_edge(scalar, edge)
    assert not isinstance(prepared, str) and prepared.body == b'{"doc":1.50}'
    spaced = DeltaRow("1", "added", {"plan": "pro"}, {"u": "u 1"}, "u 1")
    assert "HTTP header" in str(prepare_edge(spaced, edge))


# -- the example project ----------------------------------------------------------------------
def test_example_project_syncs_both_ways(ws: Workspace, cs: FakeContentstack) -> None:
    example = yaml.safe_load((REPO / "examples/contentstack/lightning.yml").read_text())
    dest = example["destinations"]["contentstack"]
    dest.update(api_base_url=cs.url, edge_api_base_url=cs.url, management_api_base_url=cs.url)
    ws.write_project(example)
    seed(Path(ws.warehouse), 40)
    env = {
        "CONTENTSTACK_DAL_TOKEN": DAL_TOKEN,
        "CONTENTSTACK_PROJECT_UID": PROJECT,
        "CONTENTSTACK_AUTHTOKEN": MGMT_TOKEN,
    }
    plan = ws.cli("plan", "users_to_dal", "--json", env=env)
    assert plan.exit_code == 0, plan.stderr
    assert plan.json()["counts"]["added"] == 40 and cs.requests == []  # a dry run sends nothing
    for sync in ("users_to_dal", "users_to_personalize"):
        result = ws.cli("run", sync, "--json", env=env)
        assert result.exit_code == 0, result.stderr
        assert result.json()["counts"]["succeeded"]["added"] == 40
    profile = cs.profile("email_sha256", hash_email("user2@example.com"))
    assert profile is not None and profile["plan"] == "enterprise"
    assert profile["external_audiences"] == ["65f1c2e3d4b5a69788796a5b"]
    assert cs.edge_user_attributes("pu000000000002") == {
        "plan": "enterprise",
        "lifetime_value": 0.74,
    }
    assert sorted(a["key"] for a in cs.attributes()) == ["lifetime_value", "plan"]
