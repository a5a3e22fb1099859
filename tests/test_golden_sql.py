"""Golden SQL: every template rendered for each dialect, checked in and reviewed as a diff.

A sqlglot upgrade or a template edit shows up here as a visible change. To accept a change,
run ``LIGHTNING_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_sql.py`` and review the
diff of ``tests/golden/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from dialects import REGISTRY, make_dialect
from engine.array_expansion import expanded_query
from engine.changed_fields import CHANGED_FIELDS_PLACEHOLDERS
from engine.config import ModelConfig, SyncConfig
from engine.model import BoundModel, parse_model
from engine.planner import Planner
from engine.sql import TEMPLATE_DIR, SqlRenderer
from engine.state import State
from tests.template_inputs import template_exprs, template_tables

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LIGHTNING_UPDATE_GOLDEN") == "1"
TEMPLATES = sorted(p.stem for p in TEMPLATE_DIR.glob("*.sql"))
# A type of each kind of array column the dialect expands (array_expansion.sql, rendered per
# kind as tests/golden/<dialect>/array_expansion_<kind>.sql): native, JSON, text.
ARRAY_TYPES = {
    "duckdb": {"native": "VARCHAR[]", "json": "JSON", "text": "VARCHAR"},
    "postgres": {"native": "text[]", "json": "jsonb", "text": "text"},
    "snowflake": {"native": "ARRAY", "json": "VARIANT", "text": "TEXT"},
    "bigquery": {"native": "ARRAY<STRING>", "json": "JSON", "text": "STRING"},
    "databricks": {"native": "ARRAY<STRING>", "text": "STRING"},
    "spark": {"native": "ARRAY<STRING>", "text": "STRING"},
}


def _render_all(dialect_name: str, tmp_path: Path) -> dict[str, str]:
    dialect = make_dialect(dialect_name, {"path": str(tmp_path / "x.duckdb")}, tmp_path)
    renderer = SqlRenderer(dialect)
    state = State(dialect, renderer)
    sync = SyncConfig.model_validate(
        {
            "model": "users",
            "destination": "d",
            "mappings": [{"from": "email", "to": "email"}, {"from": 'we"ird', "to": "w"}],
        }
    )
    model_config = ModelConfig(source="wh", primary_key=["account", "id"], sql="select * from t")
    model = BoundModel(
        name="users",
        query=parse_model("users", model_config, dialect),
        columns=["account", "id", "email", 'we"ird'],
        key_columns=["account", "id"],
        hashed_columns=["email", 'we"ird'],
        match_column="email",
        column_types={
            "account": "VARCHAR",
            "id": "BIGINT",
            "email": "VARCHAR",
            'we"ird': "TIMESTAMP",
        },
    )
    planner = Planner(dialect, renderer, state, "s", sync, model, 1700000000000000)
    tables = template_tables(planner)
    exprs: dict[str, Any] = {
        **template_exprs(planner),
        # Nothing unless a sync sends changed fields only: the plain SQL is unchanged.
        **{name: [] for name in CHANGED_FIELDS_PLACEHOLDERS},
    }
    rendered = {}
    expanding = SyncConfig.model_validate(
        {"model": "users", "destination": "d", "array_expansion": {"column": "Tags"}}
    )
    described = [*model.column_types.items(), ("Tags", "")]
    for kind, array_type in ARRAY_TYPES[dialect_name].items():
        described[-1] = ("Tags", array_type)
        query = expanded_query("users", "s", expanding, model.query, described, dialect)
        statement = query.sql(dialect=dialect.sqlglot_dialect)
        pretty = sqlglot.transpile(statement, read=dialect.sqlglot_dialect, pretty=True)[0]
        rendered[f"array_expansion_{kind}"] = pretty + ";\n"
    for name in TEMPLATES:
        if name == "array_expansion":  # rendered above, once per kind of array column
            continue
        # As the planner runs it: the stage is a plain table where there are no temp tables.
        temporary = dialect.capabilities.temp_tables
        statements = renderer.statements(name, tables, exprs, temporary=temporary)
        pretty = [
            sqlglot.transpile(s, read=dialect.sqlglot_dialect, pretty=True)[0] for s in statements
        ]
        rendered[name] = ";\n\n".join(pretty) + ";\n"
    return rendered


@pytest.mark.parametrize("dialect_name", sorted(REGISTRY))
def test_templates_match_golden_files(dialect_name: str, tmp_path: Path) -> None:
    rendered = _render_all(dialect_name, tmp_path)
    folder = GOLDEN / dialect_name
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        for name, sql in rendered.items():
            (folder / f"{name}.sql").write_text(sql, encoding="utf-8")
    mismatched = [
        name
        for name, sql in rendered.items()
        if not (folder / f"{name}.sql").exists()
        or (folder / f"{name}.sql").read_text(encoding="utf-8") != sql
    ]
    assert not mismatched, (
        f"rendered SQL differs from tests/golden/{dialect_name} for {mismatched}; review and "
        "accept with LIGHTNING_UPDATE_GOLDEN=1"
    )


def test_identifiers_are_always_quoted(tmp_path: Path) -> None:
    rendered = _render_all("duckdb", tmp_path)
    assert 'AS "model_row"' in rendered["stage"] and '"model_row"."we""ird"' in rendered["stage"]
    assert '"hightouch_planner"."s_1700000000000000_plan"' in rendered["plan"]
