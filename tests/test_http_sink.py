"""Tests for the fake JSON-over-HTTP destination in ``tests.fakes.http_sink``."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.http_sink import HttpSink, RecordedRequest


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    """A running sink that records requests."""
    with HttpSink(record_requests=True) as s:
        yield s


@pytest.fixture
def client(sink: HttpSink) -> Iterator[httpx.Client]:
    """A sync client bound to the sink's base URL."""
    with httpx.Client(base_url=sink.url, timeout=5) as c:
        yield c


def test_url_and_lifecycle() -> None:
    s = HttpSink()
    with pytest.raises(RuntimeError):
        _ = s.url
    with s:
        url = s.url
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith(str(s.port))
        assert httpx.put(f"{url}/c/1", json={"a": 1}).status_code == 200
    s.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = s.url
    with pytest.raises(httpx.TransportError):
        httpx.put(f"{url}/c/1", json={"a": 1}, timeout=1)
    assert s.records == {"c": {"1": {"a": 1}}}  # state survives stop


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
def test_per_row_upsert(client: httpx.Client, sink: HttpSink, method: str) -> None:
    r = client.request(method, "/users/42", json={"name": "Ada"})
    assert r.status_code == 200
    client.request(method, "/users/42", json={"name": "Grace"})
    assert sink.records == {"users": {"42": {"name": "Grace"}}}
    assert sink.record("users", "42") == {"name": "Grace"}
    assert client.get("/users/42").json() == {"name": "Grace"}


def test_row_id_is_url_decoded_and_paths_nest(client: httpx.Client, sink: HttpSink) -> None:
    client.put("/v1/users/a%2Fb%7C%20c", json={"x": 1})
    client.put("/v1/users/plain?dry=1", json={"x": 2})
    assert sink.records == {"v1/users": {"a/b| c": {"x": 1}, "plain": {"x": 2}}}
    assert sink.requests[0].path == "/v1/users/a%2Fb%7C%20c"


def test_per_row_delete_is_idempotent(client: httpx.Client, sink: HttpSink) -> None:
    client.put("/users/1", json={"a": 1})
    assert client.delete("/users/1").status_code == 200
    assert sink.records == {}
    assert client.delete("/users/1").status_code == 204
    assert client.delete("/nope/9").status_code == 204
    sink.delete_missing_status = 200
    assert client.delete("/users/1").status_code == 200


def test_delete_missing_status_at_construction() -> None:
    with HttpSink(delete_missing_status=200) as s:
        assert httpx.delete(f"{s.url}/users/1").status_code == 200


def test_batch_upsert_and_delete(client: httpx.Client, sink: HttpSink) -> None:
    rows = [{"row_id": "1", "a": 1}, {"row_id": 2, "a": 2}, {"row_id": "3", "a": 3}]
    r = client.post("/v1/users", json=rows)
    assert r.status_code == 200 and r.json() == {"ok": True, "count": 3}
    assert sink.records == {"v1/users": {"1": {"a": 1}, "2": {"a": 2}, "3": {"a": 3}}}
    r = client.request("DELETE", "/v1/users", json=[{"row_id": "1"}, {"row_id": "missing"}])
    assert r.status_code == 200
    assert sink.records == {"v1/users": {"2": {"a": 2}, "3": {"a": 3}}}
    assert client.patch("/v1/users", json=[{"a": 1}]).status_code == 400


def test_bad_bodies(client: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    assert client.put("/users/1", content=b"{nope", headers=headers).status_code == 400
    assert client.put("/users/1", json=3).status_code == 400
    assert client.put("/users/1").status_code == 400
    assert client.put("/", json={"a": 1}).status_code == 400
    assert client.get("/users/404").status_code == 404


def test_required_headers(sink: HttpSink) -> None:
    sink.required_headers = {"Authorization": "Bearer t"}
    with httpx.Client(base_url=sink.url) as c:
        r = c.put("/users/1", json={"a": 1})
        assert r.status_code == 401 and "error" in r.json()
        assert c.put("/users/1", json={}, headers={"Authorization": "Bearer x"}).status_code == 401
        ok = c.put("/users/1", json={"a": 1}, headers={"authorization": "Bearer t"})
        assert ok.status_code == 200
    assert sink.records == {"users": {"1": {"a": 1}}}
    assert sink.requests[-1].headers["Authorization"] == "Bearer t"


def test_required_headers_at_construction() -> None:
    with HttpSink(required_headers={"X-Key": "k"}) as s:
        assert httpx.put(f"{s.url}/c/1", json={}).status_code == 401
        assert httpx.put(f"{s.url}/c/1", json={}, headers={"X-Key": "k"}).status_code == 200


def test_fail_rows_per_row_and_batch() -> None:
    with HttpSink(fail_rows={"bad": (422, '{"error": "invalid email"}')}) as s:
        r = httpx.put(f"{s.url}/users/bad", json={"a": 1})
        assert r.status_code == 422 and r.json() == {"error": "invalid email"}
        assert httpx.put(f"{s.url}/users/good", json={"a": 1}).status_code == 200
        batch = [{"row_id": "x"}, {"row_id": "bad"}]
        assert httpx.post(f"{s.url}/users", json=batch).status_code == 422
        assert s.records == {"users": {"good": {"a": 1}}}  # failing batch stores nothing
        s.fail_row("x", 400, "plain text reason")
        r = httpx.post(f"{s.url}/users", json=[{"row_id": "x"}])
        assert (r.status_code, r.text) == (400, "plain text reason")
        s.fail_rows = {}
        assert httpx.post(f"{s.url}/users", json=batch).status_code == 200
        assert set(s.records["users"]) == {"good", "x", "bad"}


def test_fail_rows_on_delete(sink: HttpSink, client: httpx.Client) -> None:
    sink.fail_rows = {"7": (409, "locked")}
    assert client.delete("/users/7").status_code == 409


def test_fail_times(sink: HttpSink, client: httpx.Client) -> None:
    sink.fail_times = {"1": 2}
    assert client.put("/u/1", json={}).status_code == 500
    assert client.post("/u", json=[{"row_id": "1"}, {"row_id": "2"}]).status_code == 500
    assert sink.fail_times == {"1": 0}
    assert client.put("/u/1", json={"ok": 1}).status_code == 200
    assert sink.records == {"u": {"1": {"ok": 1}}}
    with HttpSink(fail_times={"z": 1}) as s:
        assert httpx.put(f"{s.url}/u/z", json={}).status_code == 500
        assert httpx.put(f"{s.url}/u/z", json={}).status_code == 200


def test_rate_limit_next(sink: HttpSink, client: httpx.Client) -> None:
    sink.rate_limit_next(2, retry_after=1.5)
    r = client.put("/u/1", json={})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1.5"
    assert client.put("/u/1", json={}).status_code == 429
    assert client.put("/u/1", json={}).status_code == 200
    sink.rate_limit_next(1, retry_after=2)
    assert client.put("/u/1", json={}).headers["Retry-After"] == "2"
    sink.rate_limit_next(1)
    r = client.put("/u/1", json={})
    assert r.status_code == 429 and "Retry-After" not in r.headers


def test_server_errors_next(sink: HttpSink, client: httpx.Client) -> None:
    sink.server_errors_next(1)
    assert client.put("/u/1", json={}).status_code == 503
    sink.server_errors_next(2, status=502)
    assert [client.put("/u/1", json={}).status_code for _ in range(3)] == [502, 502, 200]


def test_revoke_after_and_restore(sink: HttpSink, client: httpx.Client) -> None:
    client.put("/u/0", json={})
    sink.revoke_after(2)
    codes = [client.put(f"/u/{i}", json={}).status_code for i in range(1, 5)]
    assert codes == [200, 200, 401, 401]
    assert "error" in client.put("/u/9", json={}).json()
    sink.restore_auth()
    assert client.put("/u/9", json={}).status_code == 200
    assert set(sink.records["u"]) == {"0", "1", "2", "9"}


def test_latency_is_non_blocking() -> None:
    with HttpSink(latency_seconds=0.2) as s:
        assert s.latency_seconds == 0.2

        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=s.url) as c:
                rs = await asyncio.gather(*(c.put(f"/u/{i}", json={}) for i in range(10)))
            return [r.status_code for r in rs]

        t0 = time.perf_counter()
        assert asyncio.run(burst()) == [200] * 10
        elapsed = time.perf_counter() - t0
        assert 0.2 <= elapsed < 1.0  # concurrent sleeps, not 10 x 0.2 s
        s.latency_seconds = 0
        t0 = time.perf_counter()
        httpx.put(f"{s.url}/u/x", json={})
        assert time.perf_counter() - t0 < 0.2


def test_requests_recording_count_and_reset(sink: HttpSink, client: httpx.Client) -> None:
    client.put("/u/1", json={"a": 1}, headers={"X-Trace": "t1"})
    client.delete("/u/1")
    assert sink.request_count == 2
    first, second = sink.requests
    assert isinstance(first, RecordedRequest)
    method, path, headers, body, raw = first
    assert (method, path, body, raw) == ("PUT", "/u/1", {"a": 1}, b'{"a":1}')
    assert headers["x-trace"] == "t1"
    assert (second.method, second.body) == ("DELETE", None)
    sink.clear_requests()
    assert sink.requests == [] and sink.request_count == 2
    sink.record_requests = False
    client.put("/u/2", json={})
    assert sink.requests == [] and sink.request_count == 3
    sink.reset()
    assert (sink.records, sink.request_count) == ({}, 0)


def test_recording_is_off_by_default_and_bounded() -> None:
    with HttpSink() as s:
        httpx.put(f"{s.url}/u/1", json={})
        assert s.requests == [] and s.request_count == 1
    with HttpSink(record_requests=True, max_recorded_requests=2) as s, httpx.Client() as c:
        for i in range(3):
            c.put(f"{s.url}/u/{i}", json={})
        assert [r.path for r in s.requests] == ["/u/1", "/u/2"]


def test_knobs_from_other_threads_and_concurrent_clients(sink: HttpSink) -> None:
    sink.record_requests = False

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=sink.url) as c:
            sem = asyncio.Semaphore(8)

            async def one(i: int) -> int:
                async with sem:
                    return (await c.put(f"/u/{i}", json={"i": i})).status_code

            return list(await asyncio.gather(*(one(i) for i in range(64))))

    t = threading.Thread(target=sink.fail_row, args=("5", 418))
    t.start()
    t.join()
    codes = asyncio.run(burst())
    assert codes.count(418) == 1 and codes.count(200) == 63
    assert len(sink.records["u"]) == 63
    assert sink.request_count == 64


def test_bytes_and_streamed_error_bodies() -> None:
    from tests.fakes.http_sink import StreamedBody

    size = 20 * 1024 * 1024
    with HttpSink(fail_rows={"bin": (400, b"\x00\xff"), "big": (500, StreamedBody(size))}) as s:
        r = httpx.put(f"{s.url}/c/bin", json={})
        assert r.status_code == 400 and r.content == b"\x00\xff"
        assert httpx.put(f"{s.url}/c/big", json={}).content == b"x" * size  # read whole
        with httpx.Client() as c, c.stream("PUT", f"{s.url}/c/big", json={}) as response:
            next(response.iter_raw(1024))  # read a little, then hang up
        deadline = time.monotonic() + 10
        while len(s.streamed) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.streamed[0] == size
        assert s.streamed[1] < size


def _raw_exchange(sink: HttpSink, head: bytes, body: bytes) -> bytes:
    """Send a request over a raw socket; return every byte received until the socket ends."""
    received = b""
    with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as sock:
        sock.sendall(head + body)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def test_reset_mid_body_reads_part_of_the_body_and_changes_nothing(sink: HttpSink) -> None:
    body = b'{"name": "' + b"x" * 2000 + b'"}'
    head = b"PUT /users/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += b"Content-Type: application/json\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(body)
    sink.reset_connections("body", n=1, after=1)
    assert httpx.put(f"{sink.url}/users/1", json={"a": 1}).status_code == 200  # let through
    assert _raw_exchange(sink, head, body) == b""  # no status line: the socket was reset
    assert sink.records == {"users": {"1": {"a": 1}}}
    assert (sink.reset_count, sink.request_count) == (1, 2)
    # n=1: the next request goes through again.
    assert _raw_exchange(sink, head, body).startswith(b"HTTP/1.1 200")
    assert sink.record("users", "7") == {"name": "x" * 2000}


def test_reset_mid_response_applies_the_request_then_cuts_the_answer(sink: HttpSink) -> None:
    body = b'{"name": "Ada"}'
    head = b"PUT /users/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    head += b"Content-Type: application/json\r\n"
    head += b"Content-Length: %d\r\n\r\n" % len(body)
    sink.reset_connections("response")  # every request from now on
    received = _raw_exchange(sink, head, body)
    status, _, rest = received.partition(b"\r\n")
    headers, _, payload = rest.partition(b"\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK"
    lengths = [h for h in headers.lower().split(b"\r\n") if h.startswith(b"content-length:")]
    announced = int(lengths[0].split(b":")[1])
    assert 0 < len(payload) < announced  # the answer stops mid-body
    assert sink.record("users", "7") == {"name": "Ada"}  # but the change was applied
    with pytest.raises(httpx.TransportError):
        httpx.delete(f"{sink.url}/users/7", timeout=5)
    assert sink.records == {}
    assert sink.reset_count == 2
    sink.clear_failures()
    assert httpx.put(f"{sink.url}/users/8", json={}).status_code == 200
