"""The example project of examples/http, as a user runs it: its seed, its own printing sink
(examples/http/sink.py, started as a process on a free port) and its lightning.yml, with
only the sink's port changed. It uses array expansion, a template, a static value, a run
variable and nested fields; the test checks what reached the sink, byte for byte in the
path, and that a second run sends only what changed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from examples.http.seed import seed
from tests.conftest import Workspace

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "http"


class PrintingSink:
    """examples/http/sink.py in its own process; ``lines()`` is what it printed so far."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._file = out.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "sink.py"), "--port", "0"],
            stdout=self._file,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        banner = self.process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert found, banner
        self.url = found.group(0)

    def lines(self, count: int) -> list[str]:
        """The printed lines, once there are ``count`` (the sink prints as it answers)."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.out.read_text().splitlines()
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._file.close()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[PrintingSink]:
    server = PrintingSink(tmp_path / "sink.out")
    yield server
    server.stop()


def test_the_http_example_sends_one_contact_per_email(ws: Workspace, sink: PrintingSink) -> None:
    project = yaml.safe_load((EXAMPLE / "lightning.yml").read_text())
    assert project["destinations"]["contacts_api"]["base_url"] == "http://127.0.0.1:8765"
    project["destinations"]["contacts_api"]["base_url"] = sink.url
    ws.write_project(project)
    seed(ws.warehouse, 12)  # 22 emails: customer 10 has none

    first = ws.cli("run", "customer_contacts", "--json")
    assert first.exit_code == 0, first.stdout + first.stderr
    assert first.json()["counts"]["succeeded"]["added"] == 22
    lines = sink.lines(22)
    assert len(lines) == 22
    ada = next(line for line in lines if line.startswith("PUT /contacts/ada4%2B1%40example.com "))
    body = json.loads(ada.split(" ", 2)[2])
    assert body == {
        "email": "ada4+1@example.com",
        "name": "Ada LOVELACE",
        "address": {"city": "London", "country": "GB"},
        "region": "EMEA",
        "synced_by": str(first.json()["sync_run_id"]),
    }

    # A new city for customer 4 and one email left for customer 8: only those are sent.
    ws.sql("UPDATE customers SET city = 'Paris' WHERE customer_id = 4")
    ws.sql("UPDATE customers SET emails = ['ada8@example.com'] WHERE customer_id = 8")
    second = ws.cli("run", "customer_contacts", "--json")
    assert second.exit_code == 0, second.stdout + second.stderr
    assert second.json()["counts"]["succeeded"] == {"added": 0, "changed": 2, "removed": 2}
    sent = sorted(line.split(" {")[0] for line in sink.lines(26)[22:])
    assert sent == [
        "DELETE /contacts/ada8%2B1%40example.com",
        "DELETE /contacts/ada8%2B2%40example.com",
        "PUT /contacts/ada4%2B1%40example.com",
        "PUT /contacts/ada4%40example.com",
    ]
