"""Inline arrays (a mapping's ``array`` and ``fields``): an array of objects built from a model
column holding one, each element mapped as Hightouch's inline mapper does. The project file's
checks, the values without a warehouse, and runs on each warehouse (the column as text
holding a JSON array, which every warehouse has; DuckDB's native list of structs and JSON,
and PostgreSQL's jsonb, besides)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config import ConfigError, Mapping
from engine.mapping_values import MappedRow, MappingFailed
from engine.project_file import load_project
from tests.conftest import Workspace

ITEMS = {
    "array": "items",
    "to": "line_items",
    "fields": [
        {"from": "item_id", "to": "price_data.product"},
        {"static": "USD", "to": "price_data.currency"},
        {"from": "quantity", "to": "quantity", "cast": "number"},
        {"from": "note", "to": "note", "skip_nulls": True},
        {"variable": "sync_id", "to": "source"},
    ],
}


def load_with(tmp_path: Path, mappings: list[Any]) -> None:
    project = {
        "sources": {"wh": {"type": "duckdb", "path": "x.duckdb"}},
        "models": {"orders": {"source": "wh", "primary_key": "id", "table": "orders"}},
        "destinations": {"dest": {"type": "file", "path": "out"}},
        "syncs": {"s": {"model": "orders", "destination": "dest", "mappings": mappings}},
    }
    (tmp_path / "lightning.yml").write_text(yaml.safe_dump(project))
    load_project(tmp_path / "lightning.yml")


def three_levels() -> dict[str, Any]:
    deepest = {"array": "c", "to": "c", "fields": [{"from": "x", "to": "x"}]}
    middle = {"array": "b", "to": "b", "fields": [deepest]}
    return {"array": "a", "to": "a", "fields": [middle]}


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"array": "items", "to": "x"}, "mappings.0: an inline array needs both array"),
        ({"from": "a", "to": "x", "fields": []}, "needs both array (the column"),
        ({"array": "items", "to": "x", "fields": []}, "an inline array maps at least one"),
        (
            {"array": "items", "to": "x", "cast": "string", "fields": [{"from": "a", "to": "a"}]},
            "cast does not apply to an inline array. Fix: cast its fields.",
        ),
        (
            {"array": "items", "to": "x", "fields": [{"template": "{{ row.a }}", "to": "a"}]},
            "mappings.0.fields.0: give exactly one of from, static, variable, array",
        ),
        (
            {"array": "items", "to": "x", "fields": [{"from": "a", "to": "a..b"}]},
            "mappings.0.fields.0.to: 'a..b' is not a field name",
        ),
        (three_levels(), "inline arrays nest 2 levels at most"),
    ],
)
def test_a_bad_inline_array_names_its_key_path_and_fix(
    tmp_path: Path, mapping: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_with(tmp_path, [mapping])
    assert expected in str(error.value)
    assert "syncs.s.mappings" in str(error.value)


def build(value: Any, mapping: dict[str, Any] = ITEMS) -> dict[str, Any]:
    row = MappedRow(
        [(0, Mapping.model_validate(mapping))], [[("items", "items")]], {"sync_id": "s"}
    )
    return row.fields({"items": value}, "added")


def test_each_element_is_mapped_in_order_from_json_text_or_a_list() -> None:
    elements = [
        {"item_id": "542", "quantity": "50", "note": "gift"},
        {"item_id": "631", "quantity": 20, "note": None},
        {"quantity": 1},  # no item_id: price_data.product left out of this element
    ]
    expected = {
        "line_items": [
            {
                "price_data": {"product": "542", "currency": "USD"},
                "quantity": 50,
                "note": "gift",
                "source": "s",
            },
            {"price_data": {"product": "631", "currency": "USD"}, "quantity": 20, "source": "s"},
            {"price_data": {"currency": "USD"}, "quantity": 1, "source": "s"},
        ]
    }
    assert build(elements) == expected
    assert build(json.dumps(elements)) == expected
    assert build("[]") == {"line_items": []}
    assert build(None) == {"line_items": None}
    assert build(None, ITEMS | {"skip_nulls": True}) == {}


def test_an_array_inside_each_element_is_the_second_level() -> None:
    mapping = {
        "array": "items",
        "to": "invoices",
        "fields": [
            {"from": "invoice.id", "to": "id"},
            {"array": "lines", "to": "items", "fields": [{"from": "sku", "to": "product.sku"}]},
        ],
    }
    value = [{"invoice": {"id": "in_1"}, "lines": [{"sku": "a"}, {"sku": "b"}]}, {"lines": None}]
    assert build(value, mapping) == {
        "invoices": [
            {"id": "in_1", "items": [{"product": {"sku": "a"}}, {"product": {"sku": "b"}}]},
            {"items": None},
        ]
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('{"item_id": 1}', "column 'items' holds an object, not an array of objects"),
        ("not json", "column 'items' holds text that is not JSON"),
        (42, "column 'items' holds a number, not an array of objects"),
        ([{"item_id": 1}, "x"], "column 'items'[1] is a string, not an object"),
        ([{"quantity": "many"}], "column 'items'[0].quantity: cannot cast 'many' to number"),
    ],
)
def test_a_value_that_is_no_array_of_objects_fails_the_row(value: Any, reason: str) -> None:
    with pytest.raises(MappingFailed) as failed:
        build(value)
    assert str(failed.value) == f"mappings[0] (array to line_items): {reason}"


# -- runs on each warehouse -------------------------------------------------------------------
def orders(ws: Workspace, rows: list[tuple[int, str, list[dict[str, Any]] | None]]) -> None:
    ws.sql("CREATE OR REPLACE TABLE orders (id BIGINT, customer VARCHAR, items VARCHAR)")
    values = [[i, c, None if items is None else json.dumps(items)] for i, c, items in rows]
    ws.insert_many("INSERT INTO orders VALUES (?, ?, ?)", values)


def project(ws: Workspace, mappings: list[dict[str, Any]] | None = None) -> None:
    ws.write_project(
        {
            "sources": {"wh": ws.source()},
            "models": {
                "orders": {"source": "wh", "primary_key": "id", "sql": "select * from orders"}
            },
            "destinations": {"dest": {"type": "file", "path": "out"}},
            "syncs": {
                "s": {
                    "model": "orders",
                    "destination": "dest",
                    "mappings": mappings or [{"from": "customer", "to": "customer"}, ITEMS],
                }
            },
        }
    )


def run_and_read(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The run's counts and what it wrote: op -> row_id -> fields."""
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    body = result.json()
    folder = ws.root / "out" / "s" / str(body["sync_run_id"])
    sent: dict[str, dict[str, Any]] = {"counts": body["counts"]["succeeded"]}
    for op in ("added", "changed"):
        path = folder / f"{op}.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        sent[op] = {row["row_id"]: row["fields"] for row in map(json.loads, lines)}
    return sent


@pytest.mark.each_warehouse
def test_inline_arrays_are_sent_and_a_changed_element_changes_the_row(ws: Workspace) -> None:
    items = [{"item_id": "542", "quantity": 50, "ignored": 1}, {"item_id": "631", "quantity": 2}]
    orders(ws, [(1, "ada", items), (2, "bob", None), (3, "cy", [{"item_id": 1, "note": "x"}])])
    project(ws)
    first = run_and_read(ws)
    assert first["counts"]["added"] == 3
    assert first["added"]["1"]["line_items"] == [
        {"price_data": {"product": "542", "currency": "USD"}, "quantity": 50, "source": "s"},
        {"price_data": {"product": "631", "currency": "USD"}, "quantity": 2, "source": "s"},
    ]
    assert first["added"]["2"] == {"customer": "bob", "line_items": None}
    assert first["added"]["3"]["line_items"] == [
        {"price_data": {"product": 1, "currency": "USD"}, "note": "x", "source": "s"}
    ]

    # An element's property changed: the row is changed and sent whole.
    items[1]["quantity"] = 3
    orders(ws, [(1, "ada", items), (2, "bob", None), (3, "cy", [{"item_id": 1, "note": "x"}])])
    second = run_and_read(ws)
    assert second["counts"] == {"added": 0, "changed": 1, "removed": 0}
    assert second["changed"]["1"]["line_items"][1]["quantity"] == 3


@pytest.mark.each_warehouse
def test_a_bad_array_fails_its_row_with_the_mapping_named(ws: Workspace) -> None:
    orders(ws, [(1, "ada", [{"item_id": "1"}]), (2, "bob", None)])
    ws.sql("UPDATE orders SET items = '{\"item_id\": 2}' WHERE id = 2")
    project(ws)
    result = ws.cli("run", "s", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["counts"]["succeeded"]["added"] == 1
    failed = {str(r[2]): r[4] for r in ws.changelog() if r[3] == "failed"}
    assert failed == {
        "2": "mappings[1] (array to line_items): column 'items' holds an object, not an array "
        "of objects"
    }


@pytest.mark.parametrize(
    ("column_type", "value"),
    [
        ("STRUCT(item_id VARCHAR, quantity INTEGER)[]", "[{'item_id': '542', 'quantity': 50}]"),
        ("JSON", """'[{"item_id": "542", "quantity": 50}]'"""),
    ],
)
def test_duckdb_native_and_json_columns(ws: Workspace, column_type: str, value: str) -> None:
    ws.sql(
        f"CREATE TABLE orders AS SELECT 1::BIGINT AS id, 'ada' AS customer, "
        f"CAST({value} AS {column_type}) AS items"
    )
    project(ws)
    sent = run_and_read(ws)
    assert sent["added"]["1"]["line_items"] == [
        {"price_data": {"product": "542", "currency": "USD"}, "quantity": 50, "source": "s"}
    ]
