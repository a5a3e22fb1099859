"""Tests for the bare request-line recorder in ``tests.fakes.raw_http``."""

from __future__ import annotations

import httpx

from tests.fakes.raw_http import RawHttpServer


def test_request_lines_are_recorded_as_sent() -> None:
    with RawHttpServer() as server, httpx.Client(base_url=server.url) as client:
        assert client.put("/users/a%40b%3Bc", json={"x": 1}).json() == {}
        assert client.get("/plain?q=%26").status_code == 200  # keep-alive: same connection
    assert server.requests == [b"PUT /users/a%40b%3Bc HTTP/1.1", b"GET /plain?q=%26 HTTP/1.1"]


def test_respond_chooses_status_headers_and_body() -> None:
    def respond(line: bytes) -> tuple[int, dict[str, str], bytes]:
        return 302, {"Location": "https://127.0.0.1:1/next"}, line

    with RawHttpServer(respond=respond) as server:
        response = httpx.get(f"{server.url}/x")
    assert response.status_code == 302
    assert response.headers["location"] == "https://127.0.0.1:1/next"
    assert response.content == b"GET /x HTTP/1.1"
