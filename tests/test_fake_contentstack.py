"""Tests proving the Contentstack fake serves each route, rule, error shape, limit and knob."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from tests.fakes.contentstack import (
    BADREQ_BODY_MESSAGE,
    CS_UNAUTHORIZED_MESSAGE,
    EDGE_PATCH_OK_MESSAGE,
    NOTFOUND_UPDATE_MESSAGE,
    DalLimits,
    FakeContentstack,
)

DAL_TOKEN = "at.fakedal.token"
MGMT_TOKEN = "cs-fake-authtoken"
PROJECT = "6650f1a2b3c4d5e6f7a8b9c0"
DAL_AUTH = {"Authorization": DAL_TOKEN}
MGMT_HEADERS = {"authtoken": MGMT_TOKEN, "x-project-uid": PROJECT}


@pytest.fixture
def cs() -> Iterator[FakeContentstack]:
    """A running fake with default settings."""
    with FakeContentstack() as fake:
        yield fake


@pytest.fixture
def client(cs: FakeContentstack) -> Iterator[httpx.Client]:
    """An httpx client pointed at the fake."""
    with http(cs.url) as c:
        yield c


def http(base_url: str) -> httpx.Client:
    """A client for the fake (plain HTTP, so no CA bundle is loaded)."""
    return httpx.Client(base_url=base_url, timeout=5, verify=False)


def dal_path(key: str, value: str, table: str = "user") -> str:
    """The DAL attributes path with a URL-encoded identity value."""
    return f"/v2/attributes/{table}/{key}/{urllib.parse.quote(value, safe='')}"


def patch_user(
    client: httpx.Client, value: str, body: Any, key: str = "external_id"
) -> httpx.Response:
    """PATCH one DAL profile with the valid token."""
    return client.patch(dal_path(key, value), headers=DAL_AUTH, json=body)


def assert_dal_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the Lytics v2 error envelope and return it."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"status", "request_id", "errors"}
    assert body["status"] == status
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert [e["code"] for e in body["errors"]] == [code]
    assert isinstance(body["errors"][0]["message"], str)
    return body


def assert_mgmt_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    """Assert the Contentstack error shape and return it."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error_message", "error_code", "errors"}
    assert isinstance(body["error_message"], str)
    assert isinstance(body["errors"], dict)
    return body


def assert_edge_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    """Assert the Personalize Edge error shape and return it."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == status
    assert isinstance(body["message"], str)
    return body


def edge_patch(
    client: httpx.Client, user: str, body: Any, project: str = PROJECT, **headers: str
) -> httpx.Response:
    """PATCH /user-attributes for one user."""
    all_headers = {"x-project-uid": project, "x-cs-personalize-user-uid": user, **headers}
    return client.patch("/user-attributes", headers=all_headers, json=body)


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_url_and_stop_idempotent() -> None:
    fake = FakeContentstack()
    with pytest.raises(RuntimeError):
        _ = fake.url
    with fake:
        assert fake.url == f"http://127.0.0.1:{fake.port}"
        assert httpx.get(fake.url + "/unknown", verify=False).status_code == 404
    fake.stop()
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_starts_inside_a_running_event_loop() -> None:
    async def main() -> int:
        with FakeContentstack() as fake:
            async with httpx.AsyncClient(base_url=fake.url, verify=False) as ac:
                resp = await ac.patch(dal_path("external_id", "u1"), headers=DAL_AUTH, json={})
                return resp.status_code

    assert asyncio.run(main()) == 200


# --------------------------------------------------------------------------- DAL: routes


def test_dal_patch_returns_envelope_and_stores_profile(
    cs: FakeContentstack, client: httpx.Client
) -> None:
    resp = patch_user(client, "u-1", {"first_name": "Ada", "age": 36})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"data", "status", "request_id"}
    assert body["status"] == 200
    assert body["data"] == {"external_id": "u-1", "first_name": "Ada", "age": 36}
    assert cs.profile("external_id", "u-1") == body["data"]
    assert cs.profiles == [body["data"]]


def test_dal_put_replaces_and_patch_merges(cs: FakeContentstack, client: httpx.Client) -> None:
    patch_user(client, "u-1", {"a": 1, "b": 1})
    resp = patch_user(client, "u-1", {"b": 2, "c": 3})
    assert resp.json()["data"] == {"external_id": "u-1", "a": 1, "b": 2, "c": 3}
    resp = client.put(dal_path("external_id", "u-1"), headers=DAL_AUTH, json={"d": 4})
    assert resp.status_code == 200
    assert resp.json()["data"] == {"external_id": "u-1", "d": 4}
    assert cs.profile("external_id", "u-1") == {"external_id": "u-1", "d": 4}


def test_dal_identity_keys(cs: FakeContentstack, client: httpx.Client) -> None:
    sha = "a" * 64
    for key, value in [("external_id", "x1"), ("email", "a@b.co"), ("email_sha256", sha)]:
        assert patch_user(client, value, {"k": key}, key=key).status_code == 200
        assert cs.profile(key, value) == {key: value, "k": key}
    assert_dal_error(patch_user(client, "555", {}, key="phone"), 400, "BADREQ-001")


def test_dal_profile_reachable_by_each_identifier(
    cs: FakeContentstack, client: httpx.Client
) -> None:
    patch_user(client, "u-1", {"email": "Ada@Example.com"})
    resp = patch_user(client, "ada@example.com", {"plan": "pro"}, key="email")
    assert resp.json()["data"] == {"external_id": "u-1", "email": "ada@example.com", "plan": "pro"}
    assert len(cs.profiles) == 1


def test_dal_value_is_url_decoded_and_email_lowercased(
    cs: FakeContentstack, client: httpx.Client
) -> None:
    resp = patch_user(client, "Ada+News@Example.COM", {"x": 1}, key="email")
    assert resp.status_code == 200
    rec = cs.requests[-1]
    assert rec.raw_path == "/v2/attributes/user/email/Ada%2BNews%40Example.COM"
    assert rec.path_params == {"table": "user", "key": "email", "value": "Ada+News@Example.COM"}
    assert cs.profile("email", "ada+news@example.com") == {"email": "ada+news@example.com", "x": 1}


def test_dal_encoded_slash_in_value(cs: FakeContentstack, client: httpx.Client) -> None:
    assert patch_user(client, "tenant/42", {"x": 1}).status_code == 200
    assert cs.requests[-1].path_params["value"] == "tenant/42"
    assert cs.profile("external_id", "tenant/42") is not None
    raw = client.patch("/v2/attributes/user/external_id/tenant/42", headers=DAL_AUTH, json={})
    assert_dal_error(raw, 404, "UNKNOWN-000")


def test_dal_unknown_table(client: httpx.Client) -> None:
    resp = client.patch(dal_path("email", "a@b.co", table="accounts"), headers=DAL_AUTH, json={})
    assert_dal_error(resp, 404, "TABLE-NOTFOUND-009")


def test_dal_body_must_be_a_json_object(client: httpx.Client) -> None:
    path = dal_path("external_id", "u-1")
    for content in (b"not json", b"[1, 2]", b"", b'"text"'):
        resp = client.patch(path, headers=DAL_AUTH, content=content)
        body = assert_dal_error(resp, 400, "BADREQ-001")
        assert body["errors"][0]["message"] == BADREQ_BODY_MESSAGE
    resp = patch_user(client, "u-1", {"external_audiences": "not-a-list"})
    assert_dal_error(resp, 400, "BADREQ-001")


def test_dal_only_put_and_patch(client: httpx.Client) -> None:
    assert client.post(dal_path("external_id", "u"), headers=DAL_AUTH, json={}).status_code == 405


# --------------------------------------------------------------------------- DAL: auth


def test_dal_auth_rules(cs: FakeContentstack, client: httpx.Client) -> None:
    path = dal_path("external_id", "u-1")
    assert_dal_error(client.patch(path, json={}), 401, "UNAUTHORIZED-017")
    bearer = {"Authorization": f"Bearer {DAL_TOKEN}"}
    assert_dal_error(client.patch(path, headers=bearer, json={}), 401, "UNAUTHORIZED-017")
    wrong = {"Authorization": "at.wrong.token"}
    assert_dal_error(client.patch(path, headers=wrong, json={}), 401, "UNAUTHORIZED-017")
    query = client.patch(path, params={"access_token": DAL_TOKEN}, json={})
    assert_dal_error(query, 401, "UNAUTHORIZED-017")
    assert client.patch(path, headers=DAL_AUTH, json={}).status_code == 200


def test_dal_token_revoked_mid_run(cs: FakeContentstack, client: httpx.Client) -> None:
    assert patch_user(client, "u-1", {"a": 1}).status_code == 200
    cs.revoke_token(DAL_TOKEN)
    assert_dal_error(patch_user(client, "u-2", {"a": 1}), 401, "UNAUTHORIZED-017")
    assert cs.profile("external_id", "u-2") is None
    cs.add_dal_token(DAL_TOKEN)
    assert patch_user(client, "u-2", {"a": 1}).status_code == 200


def test_dal_read_only_token_is_forbidden(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.add_dal_token("at.reader.token", read_only=True)
    resp = client.patch(
        dal_path("external_id", "u"), headers={"Authorization": "at.reader.token"}, json={}
    )
    assert_dal_error(resp, 403, "FORBIDDEN-026")


# --------------------------------------------------------------------------- DAL: guess knobs


def test_create_on_write_true_upserts(cs: FakeContentstack, client: httpx.Client) -> None:
    assert cs.create_on_write is True
    assert patch_user(client, "new-user", {"a": 1}).status_code == 200
    assert client.put(dal_path("email", "n@x.io"), headers=DAL_AUTH, json={}).status_code == 200
    assert len(cs.profiles) == 2


def test_create_on_write_false_404s_unknown_profiles() -> None:
    with FakeContentstack(create_on_write=False) as fake, http(fake.url) as c:
        for method in ("PUT", "PATCH"):
            resp = c.request(method, dal_path("external_id", "ghost"), headers=DAL_AUTH, json={})
            body = assert_dal_error(resp, 404, "NOTFOUND-003")
            assert body["errors"][0]["message"] == NOTFOUND_UPDATE_MESSAGE
        assert fake.profiles == []
        fake.add_profile({"external_id": "known", "email": "Known@X.io"})
        resp = patch_user(c, "known@x.io", {"a": 1}, key="email")
        assert resp.status_code == 200
        assert resp.json()["data"] == {"external_id": "known", "email": "known@x.io", "a": 1}
        fake.create_on_write = True  # knob flips while running
        assert patch_user(c, "ghost", {}).status_code == 200


@pytest.mark.parametrize(
    ("merge", "expected"),
    [(True, ["aud-1", "aud-2", "aud-3"]), (False, ["aud-2", "aud-3"])],
)
def test_external_audiences_on_patch(merge: bool, expected: list[str]) -> None:
    with (
        FakeContentstack(merge_external_audiences=merge) as fake,
        http(fake.url) as c,
    ):
        patch_user(c, "u", {"external_audiences": ["aud-1", "aud-2"]})
        resp = patch_user(c, "u", {"external_audiences": ["aud-2", "aud-3"]})
        assert resp.json()["data"]["external_audiences"] == expected
        assert fake.profile("external_id", "u")["external_audiences"] == expected  # type: ignore[index]
        # PUT always sets the list exactly.
        c.put(dal_path("external_id", "u"), headers=DAL_AUTH, json={"external_audiences": ["z"]})
        assert fake.profile("external_id", "u") == {"external_id": "u", "external_audiences": ["z"]}


# --------------------------------------------------------------------------- DAL: limits


def test_identifier_limit_256_bytes(client: httpx.Client) -> None:
    assert patch_user(client, "x" * 256, {}).status_code == 200
    assert_dal_error(patch_user(client, "x" * 257, {}), 400, "BADREQ-001")
    # Bytes, not characters: 129 two-byte characters are 258 bytes.
    assert_dal_error(patch_user(client, "é" * 129, {}), 400, "BADREQ-001")


def test_record_limit_4kb(cs: FakeContentstack, client: httpx.Client) -> None:
    path = dal_path("external_id", "u")
    overhead = len(b'{"v":""}')
    ok = b'{"v":"' + b"a" * (4096 - overhead) + b'"}'
    assert len(ok) == 4096
    assert client.patch(path, headers=DAL_AUTH, content=ok).status_code == 200
    too_big = b'{"v":"' + b"a" * (4097 - overhead) + b'"}'
    resp = client.patch(path, headers=DAL_AUTH, content=too_big)
    body = assert_dal_error(resp, 400, "BADREQ-001")
    assert "4096" in body["errors"][0]["message"]
    assert cs.profile("external_id", "u") == {"external_id": "u", "v": "a" * (4096 - overhead)}


def test_profile_attribute_value_limit_1000(cs: FakeContentstack, client: httpx.Client) -> None:
    # external_id + 999 attributes = 1000 values: allowed; one more is over the limit.
    for start in range(0, 999, 333):
        body = {f"a{i}": 1 for i in range(start, start + 333)}
        assert patch_user(client, "u", body).status_code == 200
    assert len(cs.profile("external_id", "u") or {}) == 1000
    assert_dal_error(patch_user(client, "u", {"one_more": 1}), 400, "BADREQ-001")
    assert patch_user(client, "u", {"a0": 2}).status_code == 200  # overwrite: still 1000
    # List elements count one each.
    assert_dal_error(patch_user(client, "u", {"a1": [1, 2]}), 400, "BADREQ-001")


def test_profile_size_and_identifier_limits() -> None:
    limits = DalLimits(profile_bytes=200, identifiers_per_profile=3)
    with FakeContentstack(limits=limits) as fake, http(fake.url) as c:
        assert patch_user(c, "u", {"a": "x" * 100}).status_code == 200
        resp = patch_user(c, "u", {"b": "x" * 100})
        assert "200 bytes" in assert_dal_error(resp, 400, "BADREQ-001")["errors"][0]["message"]
        assert "b" not in (fake.profile("external_id", "u") or {})
        assert patch_user(c, "u", {"_uids": ["1", "2"]}).status_code == 200
        resp = patch_user(c, "u", {"_uids": ["1", "2", "3"]})
        assert "identifiers" in assert_dal_error(resp, 400, "BADREQ-001")["errors"][0]["message"]
        assert fake.profile("_uids", "2") is not None


# --------------------------------------------------------------------------- per-user rejections


def test_reject_users_dal_and_edge(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.reject_users["bad@x.io"] = (422, "BADREQ-001", "invalid email")
    cs.reject_user("edge-bad", 400, "E123", "user blocked")
    body = assert_dal_error(patch_user(client, "bad@x.io", {}, key="email"), 422, "BADREQ-001")
    assert body["errors"][0]["message"] == "invalid email"
    assert cs.profile("email", "bad@x.io") is None
    assert patch_user(client, "good@x.io", {}, key="email").status_code == 200
    cs.add_attribute("age")
    body = assert_edge_error(edge_patch(client, "edge-bad", {"age": "1"}), 400)
    assert body["message"] == "user blocked" and body["code"] == "E123"
    assert edge_patch(client, "edge-ok", {"age": "1"}).status_code == 200


# --------------------------------------------------------------------------- injected faults


def test_rate_limit_next_with_and_without_retry_after(
    cs: FakeContentstack, client: httpx.Client
) -> None:
    cs.rate_limit_next(2, retry_after=1.5)
    cs.rate_limit_next(1)
    cs.rate_limit_next(1, retry_after=3)
    cs.rate_limit_next(1, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    seen = [patch_user(client, "u", {"a": 1}) for _ in range(6)]
    assert [r.status_code for r in seen] == [429, 429, 429, 429, 429, 200]
    assert [r.headers.get("Retry-After") for r in seen[:5]] == [
        "1.5",
        "1.5",
        None,
        "3",
        "Wed, 21 Oct 2015 07:28:00 GMT",
    ]
    assert_dal_error(seen[0], 429, "UNKNOWN-000")
    assert len(cs.requests) == 6 and cs.requests[0].status == 429


def test_faults_are_fifo_and_filtered_by_api(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.rate_limit_next(1, api="management")
    cs.server_errors_next(1, 500)
    cs.rate_limit_next(1)
    assert_dal_error(patch_user(client, "u", {}), 500, "INTERNAL-019")
    assert patch_user(client, "u", {}).status_code == 429
    assert patch_user(client, "u", {}).status_code == 200
    assert_mgmt_error(client.get("/attributes", headers=MGMT_HEADERS), 429)
    assert client.get("/attributes", headers=MGMT_HEADERS).status_code == 200


def test_server_error_storm_shapes(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.server_errors_next(3, status=503)
    cs.server_errors_next(1, status=502, api="edge")
    cs.server_errors_next(1, status=500, api="management")
    for _ in range(3):
        resp = patch_user(client, "u", {"a": 1})
        assert resp.status_code == 503
        assert resp.headers["content-type"].startswith("text/html")
    assert cs.profile("external_id", "u") is None  # failed requests change nothing
    resp = edge_patch(client, "u", {})
    assert resp.status_code == 502 and "Bad Gateway" in resp.text
    assert_mgmt_error(client.get("/attributes", headers=MGMT_HEADERS), 500)
    assert patch_user(client, "u", {"a": 1}).status_code == 200
    with pytest.raises(ValueError):
        cs.server_errors_next(1, status=404)


def test_clear_faults(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.server_errors_next(5)
    cs.clear_faults()
    assert patch_user(client, "u", {}).status_code == 200


def test_edge_injected_429_shape(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.rate_limit_next(1, retry_after=2, api="edge")
    resp = edge_patch(client, "u", {})
    assert_edge_error(resp, 429)
    assert resp.headers["Retry-After"] == "2"


# --------------------------------------------------------------------------- latency


def test_latency_delays_and_requests_overlap(cs: FakeContentstack) -> None:
    cs.latency_seconds = 0.1
    started = time.monotonic()
    assert httpx.patch(
        cs.url + dal_path("external_id", "u"), headers=DAL_AUTH, json={}, verify=False
    ).is_success
    assert time.monotonic() - started >= 0.1
    with pytest.raises(httpx.ReadTimeout):
        httpx.patch(
            cs.url + dal_path("external_id", "u"),
            headers=DAL_AUTH,
            json={},
            timeout=0.02,
            verify=False,
        )

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=cs.url, verify=False) as ac:
            calls = [
                ac.patch(dal_path("external_id", f"u{i}"), headers=DAL_AUTH, json={"i": i})
                for i in range(40)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    cs.clear_requests()
    started = time.monotonic()
    statuses = asyncio.run(burst())
    assert statuses == [200] * 40
    assert time.monotonic() - started < 1.5  # 40 x 0.1 s one after another would be 4 s
    assert cs.peak_in_flight >= 10


def test_throughput_thousands_per_second(cs: FakeContentstack) -> None:
    """The server sustains well over a thousand DAL writes per second.

    The load is driven with aiohttp's client: in this process httpx's async pool, not the
    server, is the bottleneck at high concurrency.
    """

    async def load(n: int) -> tuple[list[int], float]:
        connector = aiohttp.TCPConnector(limit=32)
        async with aiohttp.ClientSession(base_url=cs.url, connector=connector) as session:

            async def one(i: int) -> int:
                path = dal_path("external_id", f"u{i}")
                async with session.patch(path, headers=DAL_AUTH, json={"i": i}) as resp:
                    await resp.read()
                    return resp.status

            started = time.monotonic()
            statuses = await asyncio.gather(*(one(i) for i in range(n)))
            return list(statuses), time.monotonic() - started

    statuses, elapsed = asyncio.run(load(1000))
    assert statuses == [200] * 1000
    assert len(cs.profiles) == 1000
    # About 0.5 s on an idle two-core machine; the bound leaves room for a busy one.
    assert elapsed < 4


# --------------------------------------------------------------------------- recording


def test_requests_are_recorded_in_order(cs: FakeContentstack, client: httpx.Client) -> None:
    patch_user(client, "u1", {"a": 1})
    client.get("/attributes", headers=MGMT_HEADERS, params={"q": "x"})
    edge_patch(client, "u1", {})
    recs = cs.requests
    assert [(r.api, r.method) for r in recs] == [
        ("dal", "PATCH"),
        ("management", "GET"),
        ("edge", "PATCH"),
    ]
    assert recs[0].headers["authorization"] == DAL_TOKEN
    assert recs[0].json() == {"a": 1}
    assert recs[1].query == {"q": "x"}
    assert recs[1].headers["x-project-uid"] == PROJECT
    assert recs[2].status == 200
    assert recs[0].monotonic <= recs[1].monotonic <= recs[2].monotonic
    assert [r.path for r in cs.requests_for(api="dal", method="patch")] == [
        "/v2/attributes/user/external_id/u1"
    ]
    cs.clear_requests()
    assert cs.requests == []


def test_reset_clears_state_but_keeps_tokens(cs: FakeContentstack, client: httpx.Client) -> None:
    patch_user(client, "u", {"a": 1})
    cs.add_attribute("age")
    cs.reject_users["x"] = (400, "C", "m")
    cs.rate_limit_next(3)
    cs.reset()
    assert cs.profiles == [] and cs.attributes() == [] and cs.requests == []
    assert cs.reject_users == {}
    assert patch_user(client, "u", {"a": 1}).status_code == 200


# --------------------------------------------------------------------------- Management API


def test_mgmt_get_and_post_attributes(cs: FakeContentstack, client: httpx.Client) -> None:
    resp = client.get("/attributes", headers=MGMT_HEADERS)
    assert resp.status_code == 200 and resp.json() == []
    body = {"name": "Age", "key": "age", "description": "Age in years"}
    created = client.post("/attributes", headers=MGMT_HEADERS, json=body)
    assert created.status_code == 201
    obj = created.json()
    assert set(obj) == {
        "name",
        "key",
        "description",
        "project",
        "uid",
        "createdBy",
        "updatedBy",
        "createdAt",
        "updatedAt",
        "createdByUserName",
        "updatedByUserName",
        "__type",
    }
    assert (obj["name"], obj["key"], obj["description"]) == ("Age", "age", "Age in years")
    assert obj["project"] == PROJECT and obj["__type"] == "CUSTOM" and len(obj["uid"]) == 24
    listed = client.get("/attributes", headers=MGMT_HEADERS).json()
    assert listed == [obj] == cs.attributes()


def test_mgmt_create_status_knob() -> None:
    with (
        FakeContentstack(attribute_create_status=200) as fake,
        http(fake.url) as c,
    ):
        resp = c.post("/attributes", headers=MGMT_HEADERS, json={"name": "A", "key": "a"})
        assert resp.status_code == 200 and resp.json()["key"] == "a"


def test_mgmt_auth_headers(cs: FakeContentstack, client: httpx.Client) -> None:
    project = {"x-project-uid": PROJECT}
    for auth in (
        {"authtoken": MGMT_TOKEN},
        {"authorization": MGMT_TOKEN},
        {"authorization": f"Bearer {MGMT_TOKEN}"},
    ):
        assert client.get("/attributes", headers={**auth, **project}).status_code == 200
    missing = assert_mgmt_error(client.get("/attributes", headers=project), 401)
    assert missing == {
        "error_message": CS_UNAUTHORIZED_MESSAGE,
        "error_code": 105,
        "errors": {"authtoken": ["is not valid."]},
    }
    bad = client.get("/attributes", headers={"authorization": "Bearer nope", **project})
    assert assert_mgmt_error(bad, 401)["errors"] == {"authorization": ["is not valid."]}
    cs.revoke_token(MGMT_TOKEN)
    assert_mgmt_error(client.get("/attributes", headers=MGMT_HEADERS), 401)


def test_mgmt_read_only_token_cannot_create(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.add_management_token("oauth-read", read_only=True)
    headers = {"authorization": "Bearer oauth-read", "x-project-uid": PROJECT}
    assert client.get("/attributes", headers=headers).status_code == 200
    resp = client.post("/attributes", headers=headers, json={"name": "A", "key": "a"})
    assert_mgmt_error(resp, 403)
    assert cs.attributes() == []


def test_mgmt_project_header(cs: FakeContentstack, client: httpx.Client) -> None:
    resp = client.get("/attributes", headers={"authtoken": MGMT_TOKEN})
    assert "x-project-uid" in assert_mgmt_error(resp, 400)["errors"]
    other = "6650f1a2b3c4d5e6f7a8b9ff"
    assert_mgmt_error(
        client.get("/attributes", headers={"authtoken": MGMT_TOKEN, "x-project-uid": other}), 404
    )
    cs.add_project(other)
    headers = {"authtoken": MGMT_TOKEN, "x-project-uid": other}
    client.post("/attributes", headers=headers, json={"name": "A", "key": "a"})
    assert [a["key"] for a in cs.attributes(other)] == ["a"]
    assert cs.attributes() == []


def test_mgmt_post_validation_duplicate_and_quota() -> None:
    with FakeContentstack(attribute_quota=2) as fake, http(fake.url) as c:
        resp = c.post("/attributes", headers=MGMT_HEADERS, json={"name": "No key"})
        errors = assert_mgmt_error(resp, 422)["errors"]
        assert set(errors) == {"key"} and set(errors["key"][0]) == {"code", "message"}
        assert_mgmt_error(c.post("/attributes", headers=MGMT_HEADERS, content=b"[]"), 400)
        for key in ("a", "b"):
            c.post("/attributes", headers=MGMT_HEADERS, json={"name": key, "key": key})
        dup = c.post("/attributes", headers=MGMT_HEADERS, json={"name": "A", "key": "a"})
        assert "DUPLICATE" in assert_mgmt_error(dup, 422)["errors"]["key"][0]["code"]
        over = c.post("/attributes", headers=MGMT_HEADERS, json={"name": "C", "key": "c"})
        assert "QUOTA" in assert_mgmt_error(over, 422)["errors"]["key"][0]["code"]
        assert [a["key"] for a in fake.attributes()] == ["a", "b"]


def test_mgmt_rate_limit_10_per_second(cs: FakeContentstack, client: httpx.Client) -> None:
    started = time.monotonic()
    statuses = [client.get("/attributes", headers=MGMT_HEADERS).status_code for _ in range(6)]
    statuses += [
        client.post("/attributes", headers=MGMT_HEADERS, json={"name": k, "key": k}).status_code
        for k in "abcdef"
    ]
    assert time.monotonic() - started < 1.0
    assert statuses == [200] * 6 + [201] * 4 + [429] * 2
    limited = client.get("/attributes", headers=MGMT_HEADERS)
    assert "Retry-After" not in limited.headers
    assert_mgmt_error(limited, 429)
    assert len(cs.attributes()) == 4
    # The DAL and Edge APIs do not share the limit.
    assert patch_user(client, "u", {}).status_code == 200
    time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
    assert client.get("/attributes", headers=MGMT_HEADERS).status_code == 200


def test_mgmt_rate_limit_can_be_disabled(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.management_rate_limit = None
    statuses = {client.get("/attributes", headers=MGMT_HEADERS).status_code for _ in range(25)}
    assert statuses == {200}


def test_dal_rate_limit_knob(cs: FakeContentstack, client: httpx.Client) -> None:
    statuses = {patch_user(client, "u", {}).status_code for _ in range(20)}
    assert statuses == {200}  # no documented DAL limit by default
    cs.dal_rate_limit = 3
    statuses_list = [patch_user(client, "u", {}).status_code for _ in range(5)]
    assert statuses_list == [200, 200, 200, 429, 429]


# --------------------------------------------------------------------------- Edge API


def test_edge_patch_user_attributes(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.add_attribute("age")
    cs.add_attribute("plan")
    resp = edge_patch(client, "user-1", {"age": "10"})
    assert resp.status_code == 200
    assert resp.json() == {"message": EDGE_PATCH_OK_MESSAGE}
    edge_patch(client, "user-1", {"plan": "pro"})
    assert cs.edge_user_attributes("user-1") == {"age": "10", "plan": "pro"}
    edge_patch(client, "user-1", {"age": 11})
    assert cs.edge_user_attributes("user-1") == {"age": 11, "plan": "pro"}
    assert cs.edge_users() == {"user-1": {"age": 11, "plan": "pro"}}
    assert "authorization" not in cs.requests[-1].headers  # no auth on the Edge API


def test_edge_accepts_legacy_user_uid_header(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.add_attribute("age")
    headers = {"x-project-uid": PROJECT, "x-cs-eclipse-user-uid": "legacy-user"}
    assert client.patch("/user-attributes", headers=headers, json={"age": "1"}).status_code == 200
    assert cs.edge_user_attributes("legacy-user") == {"age": "1"}


def test_edge_rejects_unknown_attributes_until_created(
    cs: FakeContentstack, client: httpx.Client
) -> None:
    cs.add_attribute("age")
    resp = edge_patch(client, "u", {"age": "1", "shoe_size": "42"})
    assert "shoe_size" in assert_edge_error(resp, 400)["message"]
    assert cs.edge_user_attributes("u") is None
    client.post("/attributes", headers=MGMT_HEADERS, json={"name": "Shoe", "key": "shoe_size"})
    assert edge_patch(client, "u", {"age": "1", "shoe_size": "42"}).status_code == 200


def test_edge_request_validation(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.add_attribute("age")
    no_project = client.patch(
        "/user-attributes", headers={"x-cs-personalize-user-uid": "u"}, json={"age": "1"}
    )
    assert_edge_error(no_project, 400)
    no_user = client.patch("/user-attributes", headers={"x-project-uid": PROJECT}, json={})
    assert_edge_error(no_user, 400)
    not_json = client.patch(
        "/user-attributes",
        headers={"x-project-uid": PROJECT, "x-cs-personalize-user-uid": "u"},
        content=b'{"age": "1"}',
    )
    assert_edge_error(not_json, 400)
    assert_edge_error(edge_patch(client, "u", {"age": "1"}, project="0" * 24), 404)
    assert_edge_error(edge_patch(client, "u", {"age": {"n": 1}}), 400)
    assert_edge_error(edge_patch(client, "u", [{"age": "1"}]), 400)
    assert cs.edge_users() == {}


def test_edge_patch_status_knob(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.add_attribute("age")
    cs.edge_patch_status = 204
    resp = edge_patch(client, "u", {"age": "1"})
    assert resp.status_code == 204 and resp.content == b""
    assert cs.edge_user_attributes("u") == {"age": "1"}


def test_edge_has_no_rate_limit(cs: FakeContentstack, client: httpx.Client) -> None:
    cs.add_attribute("age")
    assert {edge_patch(client, f"u{i}", {"age": "1"}).status_code for i in range(30)} == {200}
