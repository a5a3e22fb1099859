"""Mapping kinds without a warehouse: the project file's checks (key path and fix), values,
casts and nested targets, and templates' bounds (see engine/mapping_values.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config import ConfigError, Mapping
from engine.mapping_values import MappedRow, MappingFailed
from engine.project_file import load_project
from engine.templates import OUTPUT_CHARACTERS, row_columns
from engine.value_casts import cast


def load_with(tmp_path: Path, mappings: list[Any]) -> None:
    project = {
        "sources": {"wh": {"type": "duckdb", "path": "x.duckdb"}},
        "models": {"users": {"source": "wh", "primary_key": "id", "table": "users"}},
        "destinations": {"dest": {"type": "file", "path": "out"}},
        "syncs": {"s": {"model": "users", "destination": "dest", "mappings": mappings}},
    }
    (tmp_path / "lightning.yml").write_text(yaml.safe_dump(project))
    load_project(tmp_path / "lightning.yml")


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            {"to": "x"},
            "syncs.s.mappings.0: give exactly one of from, static, variable, template, array",
        ),
        ({"from": "a", "static": 1, "to": "x"}, "found from, static). Fix: keep the one"),
        ({"static": [1, 2], "to": "x"}, "mappings.0: static: must be a string, number, boolean"),
        ({"variable": "run_id", "to": "x"}, "'run_id' is not one of model_id, model_name"),
        ({"static": 1, "skip_nulls": True, "to": "x"}, "skip_nulls applies to a column or array"),
        ({"template": "{{ row.a ", "to": "x"}, "template does not parse"),
        ({"template": "{% for %}", "to": "x"}, "Fix the template."),
        ({"from": "a", "to": "address..city"}, "mappings.0.to: 'address..city' is not a field"),
        ({"from": "a", "to": "x", "cast": "integer"}, "mappings.0.cast"),
        ({"from": "a", "to": "x", "skip_null": True}, "unknown key 'skip_null'"),
        ("email", "mappings.0: 'email' is not a mapping. Fix: write {from:"),
    ],
)
def test_bad_mapping_names_its_key_path_and_fix(
    tmp_path: Path, mapping: Any, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_with(tmp_path, [mapping])
    assert expected in str(error.value)


def test_a_field_and_one_nested_inside_it_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mappings\[1\]\.to: 'address.city' nests inside"):
        load_with(tmp_path, [{"static": "x", "to": "address"}, {"from": "c", "to": "address.city"}])


def test_every_kind_loads(tmp_path: Path) -> None:
    load_with(
        tmp_path,
        [
            {"from": "email", "to": "email", "skip_nulls": True},
            {"static": None, "to": "nothing"},
            {"static": False, "to": "flag"},
            {"variable": "current_timestamp", "to": "at"},
            {"template": "{{ row.name | upcase }}", "to": "profile.name", "cast": "string"},
        ],
    )


def test_template_columns_come_from_the_parsed_template() -> None:
    source = "{% if row.a > 1 %}{{ row['b c'] | append: context.sync_id }}{% endif %}{{ row.a }}"
    assert row_columns(source) == ["a", "b c"]
    assert row_columns("{{ context.sync_run_id }} static") == []
    assert row_columns("{{ row[name] }}") is None  # a computed name: every column
    assert row_columns("{{ row }}") is None


def build(mappings: list[dict[str, Any]], values: dict[str, Any], op: str = "added") -> Any:
    parsed = [Mapping.model_validate(m) for m in mappings]
    reads = []
    for m in parsed:
        if m.from_ is not None:
            reads.append([(m.from_, m.from_)])
        elif m.template is not None:
            reads.append([(c, c) for c in row_columns(m.template) or values])
        else:
            reads.append([])
    builder = MappedRow(list(enumerate(parsed)), reads, {"sync_run_id": "7", "sync_id": "s"})
    return builder.fields(values, op)


def test_values_of_each_kind_nest_and_skip_nulls() -> None:
    fields = build(
        [
            {"from": "email", "to": "email", "skip_nulls": True},
            {"from": "city", "to": "address.city"},
            {"static": "EMEA", "to": "address.region"},
            {"static": None, "to": "none"},
            {"variable": "sync_run_id", "to": "run"},
            {"variable": "operation", "to": "op"},
            {"template": "{{ row.name | upcase }}-{{ context.sync_id }}", "to": "first"},
        ],
        {"email": None, "city": "Oslo", "name": "ada"},
        "changed",
    )
    assert fields == {
        "address": {"city": "Oslo", "region": "EMEA"},
        "none": None,
        "run": "7",
        "op": "changed",
        "first": "ADA-s",
    }


@pytest.mark.parametrize(
    ("value", "to", "expected"),
    [
        ("42", "number", 42),
        (" 4.5 ", "number", 4.5),
        (7, "string", "7"),
        (True, "string", "true"),
        ("TRUE", "boolean", True),
        (0, "boolean", False),
        ("2024-05-01 10:00:00", "timestamp", "2024-05-01T10:00:00"),
        (0, "timestamp", "1970-01-01T00:00:00+00:00"),
    ],
)
def test_casts(value: Any, to: str, expected: Any) -> None:
    assert cast(value, to) == expected


@pytest.mark.parametrize(
    ("value", "to"),
    [
        ("abc", "number"),
        (True, "number"),
        ("nan", "number"),
        ("maybe", "boolean"),
        (2, "boolean"),
        ("yesterday", "timestamp"),
    ],
)
def test_a_bad_cast_fails_the_row_naming_the_mapping(value: Any, to: str) -> None:
    with pytest.raises(
        MappingFailed, match=rf"mappings\[0\] \(column to x\): cannot cast .* to {to}"
    ):
        build([{"from": "v", "to": "x", "cast": to}], {"v": value})


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ 1 | divided_by: row.v }}", "divided_by: can't divide by 0"),
        ("{% for i in (1..100000000) %}{% endfor %}", "loop iteration limit reached"),
        ("{% for i in (1..9000) %}" + "x" * 100 + "{% endfor %}", "output stream limit"),
        ("{% include '/etc/passwd' %}", "template not found"),
        ("{% render 'lightning.yml' %}", "template not found"),
        ("{{ row.v | no_such_filter }}", "unknown filter 'no_such_filter'"),
    ],
)
def test_a_failing_or_hostile_template_fails_the_row(template: str, reason: str) -> None:
    with pytest.raises(MappingFailed) as failed:
        build([{"template": template, "to": "t"}], {"v": 0})
    assert str(failed.value).startswith("mappings[0] (template to t): ")
    assert reason in str(failed.value)


def test_a_template_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIGHTNING_SECRET_PROBE", "s3cret")
    fields = build(
        [{"template": "{{ env.LIGHTNING_SECRET_PROBE }}{{ ENV }}{{ os.environ }}", "to": "t"}],
        {},
    )
    assert fields == {"t": ""}
    assert len(build([{"template": "{{ 'x' | append: 'y' }}", "to": "t"}], {})["t"]) == 2
    assert OUTPUT_CHARACTERS <= 1_000_000  # megabytes of output are refused


def test_a_cleared_removal_nulls_nested_fields_as_mapped() -> None:
    from engine.destinations.base import RunContext

    context = RunContext("s", 1, "mirror", "clear", ["email", "address.city", "address.zip"])
    assert context.cleared_fields() == {"email": None, "address": {"city": None, "zip": None}}
