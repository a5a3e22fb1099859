"""Array expansion (a sync's ``array_expansion``) on each warehouse: one row per element of a
native array, a JSON array or text holding a JSON array, read in the warehouse; NULL and
empty arrays give no rows; an element twice in one array is a duplicated key; a removed
element is a ``removed`` row; the element as a mapping, the match field and the key; and the
settings' mistakes named with their key path and fix.

Snowflake's emulator (fakesnow) runs the FLATTEN of tests/golden/snowflake/array_expansion_*
on DuckDB; Spark and Databricks hold JSON as text, so the ``text`` kind covers them and the
``json`` kind is not run there (``CANNOT_RUN`` in tests/spark_workspace.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config import ConfigError
from engine.project_file import load_project
from tests.conftest import Workspace
from tests.fakes.contentstack import FakeContentstack
from tests.fakes.http_sink import HttpSink
from tests.test_contentstack import cs  # noqa: F401 - the fixture

Elements = list[str | None] | dict[str, Any] | str | None
COLUMN_TYPES = {"native": "VARCHAR[]", "json": "JSON", "text": "VARCHAR"}
NO_CHANGE = {"added": 0, "changed": 0, "removed": 0}


def literal(kind: str, elements: Elements) -> str:
    """An array column's value as DuckDB SQL (transpiled for the warehouse)."""
    if elements is None:
        return "NULL"
    if kind == "native":
        assert isinstance(elements, list)
        items = ", ".join("NULL" if e is None else f"'{e}'" for e in elements)
        return f"CAST([{items}] AS VARCHAR[])"
    text = json.dumps(elements).replace("'", "''")
    return f"JSON('{text}')" if kind == "json" else f"'{text}'"


def people(ws: Workspace, kind: str, rows: list[tuple[int, str, Elements]]) -> None:
    """Replace the ``people`` table: (id, name, emails), emails of the given kind."""
    ws.sql(f"CREATE OR REPLACE TABLE people (id BIGINT, name VARCHAR, emails {COLUMN_TYPES[kind]})")
    selects = [f"SELECT {i}, '{name}', {literal(kind, elements)}" for i, name, elements in rows]
    ws.sql("INSERT INTO people " + " UNION ALL ".join(selects))


def project(
    ws: Workspace,
    column: str = "emails",
    model_sql: str = "select * from people",
    primary_key: str = "id",
    destination: dict[str, Any] | None = None,
    **sync: Any,
) -> None:
    """Model ``people``, sync ``s`` (mirror, deleting) expanding ``column``."""
    ws.write_project(
        {
            "sources": {"wh": ws.source()},
            "models": {"people": {"source": "wh", "primary_key": primary_key, "sql": model_sql}},
            "destinations": {"dest": destination or {"type": "file", "path": "out"}},
            "syncs": {
                "s": {
                    "model": "people",
                    "destination": "dest",
                    "mode": "mirror",
                    "delete_behavior": "delete",
                    "array_expansion": {"column": column},
                    "mappings": [
                        {"from": "_ht_emails_element", "to": "email"},
                        {"from": "name", "to": "name"},
                    ],
                }
                | sync
            },
        }
    )


def run(ws: Workspace) -> dict[str, Any]:
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stderr + result.stdout
    return result.json()  # type: ignore[no-any-return]


def sent(ws: Workspace, body: dict[str, Any], op: str) -> dict[str, Any]:
    """row_id -> fields of one op the run wrote to the file destination."""
    path = ws.root / "out" / "s" / str(body["sync_run_id"]) / f"{op}.jsonl"
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {row["row_id"]: row.get("fields") for row in rows}


def counts(ws: Workspace) -> dict[str, int]:
    plan = ws.cli("plan", "s", "--json")
    assert plan.exit_code == 0, plan.stderr + plan.stdout
    return plan.json()["counts"]  # type: ignore[no-any-return]


@pytest.mark.each_warehouse
@pytest.mark.parametrize("kind", ["native", "json", "text"])
def test_one_row_per_element_and_a_removed_element_is_removed(ws: Workspace, kind: str) -> None:
    rows: list[tuple[int, str, Elements]] = [
        (1, "ada", ["a@x", "b@x"]),
        (2, "bob", []),
        (3, "cy", None),
        (4, "di", ["d@x"]),
    ]
    if kind != "native":  # JSON that is not an array gives no rows either
        rows += [(5, "eve", {"a": "e@x"}), (6, "flo", "f@x")]
    people(ws, kind, rows)
    project(ws)
    first = run(ws)
    assert first["counts"]["planned"] == {"added": 3, "changed": 0, "removed": 0}
    assert sent(ws, first, "added") == {
        "1|a@x": {"email": "a@x", "name": "ada"},
        "1|b@x": {"email": "b@x", "name": "ada"},
        "4|d@x": {"email": "d@x", "name": "di"},
    }
    assert counts(ws) == NO_CHANGE  # the same row ids on the next read

    ws.sql(f"UPDATE people SET emails = {literal(kind, ['a@x'])} WHERE id = 1")
    ws.sql(f"UPDATE people SET emails = {literal(kind, ['e@x'])} WHERE id = 2")
    ws.sql("UPDATE people SET name = 'dee' WHERE id = 4")
    second = run(ws)
    assert second["counts"]["succeeded"] == {"added": 1, "changed": 1, "removed": 1}
    assert list(sent(ws, second, "removed")) == ["1|b@x"]
    assert sent(ws, second, "added") == {"2|e@x": {"email": "e@x", "name": "bob"}}
    assert sent(ws, second, "changed") == {"4|d@x": {"email": "d@x", "name": "dee"}}
    last_run = [row[1:4] for row in ws.changelog() if row[0] == second["sync_run_id"]]
    assert ("removed", "1|b@x", "succeeded") in last_run


@pytest.mark.each_warehouse
def test_a_duplicated_element_is_a_duplicated_key_and_a_null_element_a_null_key(
    ws: Workspace,
) -> None:
    people(ws, "text", [(1, "ada", ["a@x", "a@x", "b@x"]), (2, "bob", ["c@x", None])])
    project(ws)
    body = run(ws)
    assert body["keys"] == {"null_key_rows": 1, "duplicate_keys": 1, "duplicate_rows": 2}
    assert set(sent(ws, body, "added")) == {"1|b@x", "2|c@x"}
    assert [row[1:] for row in ws.changelog() if row[2] == "1|a@x"] == [
        ("added", "1|a@x", "failed", "primary key is not unique")
    ]


@pytest.mark.each_warehouse
def test_the_element_as_the_key_and_the_match_field(
    ws: Workspace,
    cs: FakeContentstack,  # noqa: F811 - the fixture imported above
) -> None:
    people(ws, "text", [(1, "ada", ["A@x.com", "b@x.com"]), (2, "bob", ["c@x.com"])])
    destination = {
        "type": "contentstack",
        "access_token": "at.fakedal.token",
        "api_base_url": cs.url,
        "edge_api_base_url": cs.url,
        "management_api_base_url": cs.url,
        "project_uid": "6650f1a2b3c4d5e6f7a8b9c0",
        "auth_token": "cs-fake-authtoken",
    }
    project(
        ws,
        primary_key="_ht_emails_element",
        destination=destination,
        mode="upsert",
        delete_behavior="do_nothing",
        mappings=[{"from": "name", "to": "first_name"}],
        contentstack={"type": "users", "match": {"from": "_ht_emails_element", "to": "email"}},
    )
    body = run(ws)
    assert body["counts"]["succeeded"] == {"added": 3, "changed": 0, "removed": 0}
    assert {row[2] for row in ws.changelog()} == {"A@x.com", "b@x.com", "c@x.com"}
    for email, name in [("a@x.com", "ada"), ("b@x.com", "ada"), ("c@x.com", "bob")]:
        assert cs.profile("email", email) == {"email": email, "first_name": name}


@pytest.mark.each_warehouse
@pytest.mark.parametrize(
    ("column", "model_sql", "expected"),
    [
        (
            "emials",
            "select * from people",
            [
                "syncs.s.array_expansion.column: 'emials' is not a column of model 'people'",
                "Fix: name the model's array column.",
            ],
        ),
        (
            "id",
            "select * from people",
            [
                "syncs.s.array_expansion.column: column 'id' of model 'people' is ",
                "which holds no array. Fix: expand a column holding an array",
            ],
        ),
        (
            "emails",
            "select people.*, name as _ht_emails_element from people",
            [
                "syncs.s.array_expansion.column: model 'people' already has a column",
                "Fix: rename that column in the model's SQL",
            ],
        ),
    ],
)
def test_a_bad_array_expansion_names_its_key_path_and_fix(
    ws: Workspace, column: str, model_sql: str, expected: list[str]
) -> None:
    people(ws, "text", [(1, "ada", ["a@x"])])
    project(ws, column=column, model_sql=model_sql)
    plan = ws.cli("plan", "s")
    assert plan.exit_code != 0
    said = " ".join((plan.stdout + plan.stderr).split())
    for part in expected:
        assert part in said


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"colum": "emails"}, "syncs.s.array_expansion.colum: unknown key 'colum'"),
        ({}, "syncs.s.array_expansion.column: required key is missing"),
        ("emails", "syncs.s.array_expansion"),
        ({"column": ""}, "syncs.s.array_expansion.column"),
    ],
)
def test_array_expansion_settings_are_checked(tmp_path: Path, setting: Any, expected: str) -> None:
    config = {
        "sources": {"wh": {"type": "duckdb", "path": "x.duckdb"}},
        "models": {"people": {"source": "wh", "primary_key": "id", "table": "people"}},
        "destinations": {"dest": {"type": "file", "path": "out"}},
        "syncs": {"s": {"model": "people", "destination": "dest", "array_expansion": setting}},
    }
    (tmp_path / "lightning.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as error:
        load_project(tmp_path / "lightning.yml")
    assert expected in str(error.value)


@pytest.mark.each_warehouse
def test_turning_expansion_on_changes_the_key_and_asks_for_a_resync(ws: Workspace) -> None:
    people(ws, "text", [(1, "ada", ["a@x", "b@x"])])
    project(ws, mappings=[{"from": "name", "to": "name"}])
    config = yaml.safe_load(ws.project_file.read_text())
    del config["syncs"]["s"]["array_expansion"]
    ws.write_project(config)
    assert list(sent(ws, run(ws), "added")) == ["1"]
    project(ws, mappings=[{"from": "name", "to": "name"}])
    refused = ws.cli("run", "s")
    said = " ".join((refused.stdout + refused.stderr).split())
    assert refused.exit_code != 0
    assert "changed from id to id, _ht_emails_element" in said and "--full-resync" in said
    resent = ws.cli("run", "s", "--full-resync", "--json")
    assert resent.exit_code == 0, resent.stderr
    assert set(sent(ws, resent.json(), "added")) == {"1|a@x", "1|b@x"}


@pytest.mark.each_warehouse
def test_the_element_in_a_templated_http_path_and_as_its_match_column(ws: Workspace) -> None:
    people(ws, "text", [(1, "ada", ["a+1@x.com", "b@x.com"]), (2, "bob", ["a+1@x.com"])])
    with HttpSink(record_requests=True) as sink:
        path = "/users/{{ row._ht_emails_element }}"
        http = {
            "match_column": "_ht_emails_element",
            "added": {"method": "PUT", "path": path},
            "changed": {"method": "PUT", "path": path},
            "removed": {"method": "DELETE", "path": path},
        }
        destination = {"type": "http", "base_url": sink.url, "max_attempts": 1}
        project(ws, destination=destination, http=http)
        body = run(ws)
        # a+1@x.com is the element of two keys: both rows fail, the third is sent.
        assert body["counts"]["succeeded"]["added"] == 1
        assert [r.path for r in sink.requests] == ["/users/b%40x.com"]
        reasons = {r[4] for r in ws.changelog() if r[3] == "failed"}
        assert reasons == {"match column '_ht_emails_element' is not unique (another key has it)"}

        # bob's copy removed in the model: ada's element is sent; b@x.com is removed when dropped.
        people(ws, "text", [(1, "ada", ["a+1@x.com"]), (2, "bob", [])])
        sink.clear_requests()
        run(ws)
        assert sorted((r.method, r.path) for r in sink.requests) == [
            ("DELETE", "/users/b%40x.com"),
            ("PUT", "/users/a%2B1%40x.com"),
        ]
        assert counts(ws) == NO_CHANGE
