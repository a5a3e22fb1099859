"""Identifier case: every name the engine emits has the warehouse's case, in every statement.

Warehouses fold unquoted names (Snowflake to upper case, PostgreSQL to lower case) and treat
quoted names as case-sensitive. The engine quotes everything, so each of its own names must be
written in the folded case, or users could not query its tables unquoted and, worse, one
statement could name ``"D"`` and ``"d"."x"`` (real Snowflake rejects that; emulators that
resolve quoted names case-insensitively do not notice). A model's own column names are the
exception: they are used exactly as the warehouse reports them.

Two checks: every template rendered for every dialect (plus an upper-folding one), and every
statement a real run issues, recorded on DuckDB (case-insensitive, so it runs) with the
upper-case fold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from dialects import REGISTRY, Capabilities, make_dialect
from dialects.base import Dialect
from dialects.duckdb import DuckDBDialect
from engine.changed_fields import DELTA_COLUMN, ChangedFields
from engine.config import ModelConfig, SyncConfig
from engine.model import BoundModel, parse_model
from engine.planner import Planner
from engine.sql import TEMPLATE_DIR, SqlRenderer, fold_case, quoted_column, user_column
from engine.state import State
from tests.conftest import Workspace
from tests.template_inputs import template_exprs, template_tables

TEMPLATES = sorted(p.stem for p in TEMPLATE_DIR.glob("*.sql"))
# A model's columns in mixed case: any fold of them would be a bug.
USER_COLUMNS = ["Account", "id", "eMail", 'We"ird']
MODEL_SQL_NAMES = {"t"}  # the model's own SQL (``select * from t``), left unquoted


class UpperCaseDuckDB(DuckDBDialect):
    """DuckDB with the engine's names folded to upper case (DuckDB resolves names
    case-insensitively, so a run still works): stands for a warehouse that folds up."""

    capabilities = Capabilities(
        transactions=True,
        temp_tables=True,
        merge=True,
        delete=True,
        identifier_case="upper",
        snapshot_rereads=True,
    )


def _dialects(tmp_path: Path) -> list[Dialect]:
    settings = {"path": str(tmp_path / "x.duckdb")}
    made = [make_dialect(name, settings, tmp_path) for name in sorted(REGISTRY)]
    return [*made, UpperCaseDuckDB(settings, tmp_path)]


def _rendered_statements(dialect: Dialect) -> dict[str, list[str]]:
    renderer = SqlRenderer(dialect)
    state = State(dialect, renderer)
    sync = SyncConfig.model_validate(
        {
            "model": "users",
            "destination": "d",
            "mappings": [{"from": "eMail", "to": "email"}, {"from": 'We"ird', "to": "w"}],
            "send": "changed_fields",  # its columns are checked too
        }
    )
    config = ModelConfig(source="wh", primary_key=["Account", "id"], sql="select * from t")
    model = BoundModel(
        name="users",
        query=parse_model("users", config, dialect),
        columns=USER_COLUMNS,
        key_columns=["Account", "id"],
        hashed_columns=["eMail", 'We"ird'],
        match_column="eMail",
        column_types={"Account": "VARCHAR", "id": "BIGINT", "eMail": "VARCHAR", 'We"ird': "DATE"},
    )
    planner = Planner(dialect, renderer, state, "s", sync, model, 1700000000000000)
    tables = template_tables(planner)
    exprs: dict[str, Any] = {
        **template_exprs(planner),
        **_array_elements(dialect),
        "field_hashes": ChangedFields(model, sync).plan_hashes(dialect),
        **ChangedFields(model, sync).delta_exprs(comparable=True),
        "stream_changed_fields": [exp.column(DELTA_COLUMN, table="d", quoted=True)],
    }
    rendered = {name: renderer.statements(name, tables, exprs) for name in TEMPLATES}
    rendered["delta_stream (as streamed)"] = [planner.stream_sql(payload_json=True)]
    rendered["fields (snapshot)"] = [renderer.expression(planner.fields_json("s", False))]
    return rendered


def _array_elements(dialect: Dialect) -> dict[str, exp.Expr]:
    """The expressions array_expansion.sql takes, for a text column holding a JSON array."""
    forms = dialect.array_forms
    assert forms is not None, dialect.name
    unnested = quoted_column(forms.element_column, "expanded")
    text_type = forms.text[0]
    elements = dialect.array_elements(user_column("eMail", "model_row"), text_type, unnested)
    assert elements is not None, dialect.name
    return {"elements": elements.array, "element": elements.element}


def case_problems(sql: str, dialect: Dialect, user_names: set[str]) -> list[str]:
    """Identifiers in ``sql`` that are not in the warehouse's case (the engine's own names),
    not quoted, or spelled two ways in one statement."""
    problems = []
    seen: dict[str, str] = {}
    for tree in sqlglot.parse(sql, read=dialect.sqlglot_dialect):
        catalog = _catalog_identifiers(tree) if tree else set()
        for ident in tree.find_all(exp.Identifier) if tree else []:
            name = ident.name
            if isinstance(ident.parent, exp.Placeholder | exp.Parameter):
                continue  # a bound parameter's name
            if id(ident) in catalog:
                continue  # the warehouse's catalog, named unquoted so the warehouse folds it
            if not ident.quoted:
                if name not in MODEL_SQL_NAMES | user_names:
                    problems.append(f"{name!r} is not quoted")
                continue
            if name in user_names:
                continue
            if name != fold_case(name, dialect):
                problems.append(f'"{name}" is not folded to {dialect.capabilities.identifier_case}')
            other = seen.setdefault(name.lower(), name)
            if other != name:
                problems.append(f'"{name}" and "{other}" in one statement')
    return problems


def _catalog_identifiers(tree: exp.Expr) -> set[int]:
    """The identifiers of every query of information_schema in ``tree`` (a catalog read, or
    the run catalog the lock read takes along), by id."""
    found: set[int] = set()
    for select in tree.find_all(exp.Select):
        source = select.args.get("from") or select.args.get("from_")
        table = source.this if source is not None else None
        if isinstance(table, exp.Table) and table.db.lower() == "information_schema":
            found.update(id(ident) for ident in select.find_all(exp.Identifier))
    return found


def test_every_template_names_the_engine_objects_in_the_warehouse_case(tmp_path: Path) -> None:
    checked = 0
    for dialect in _dialects(tmp_path):
        for template, statements in _rendered_statements(dialect).items():
            for sql in statements:
                problems = case_problems(sql, dialect, set(USER_COLUMNS))
                assert not problems, (dialect.name, dialect.capabilities, template, problems, sql)
                checked += 1
    assert checked >= 3 * (len(TEMPLATES) + 2)


def test_model_columns_keep_their_case_and_engine_tables_fold(tmp_path: Path) -> None:
    upper = _rendered_statements(UpperCaseDuckDB({}, tmp_path))
    stage_query = "\n".join(upper["stage_query"])
    for column in ("Account", "eMail", 'We""ird'):
        assert f'"MODEL_ROW"."{column}"' in stage_query
    assert '"_LIGHTNING_COL_2"' in stage_query
    # What users query unquoted (select row_id from hightouch_audit.sync_changelog).
    assert '"HIGHTOUCH_AUDIT"."SYNC_CHANGELOG"' in upper["changelog_insert"][0]
    assert '"ROW_ID"' in upper["audit_tables"][0] and '"FIELDS"' in upper["audit_tables"][0]
    assert '"HIGHTOUCH_PLANNER"."LIGHTNING_COMMITS"' in upper["state_tables"][0]
    # send: changed_fields: the field hashes and the delta's flags fold like the rest.
    assert '"FIELD_HASH_1"' in upper["plan"][0]
    assert '"_LIGHTNING_CHANGED_FIELDS"' in upper["delta_stream (as streamed)"][0]


def test_the_check_sees_mixed_case(tmp_path: Path) -> None:
    dialect = UpperCaseDuckDB({}, tmp_path)
    mixed = 'SELECT "D"."_LIGHTNING_OP", "d"."_lightning_col_0" FROM "S_1_DELTA" AS "D"'
    assert case_problems(mixed, dialect, set(USER_COLUMNS))
    assert not case_problems('SELECT "D"."eMail" FROM "X" AS "D"', dialect, set(USER_COLUMNS))


class RecordingUpperCaseDuckDB(UpperCaseDuckDB):
    """Records the SQL of every statement the engine issues."""

    issued: list[str] = []

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.issued.append(sql)
        super().execute(sql, params)

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        self.issued.append(sql)
        return super().fetchall(sql, params)

    def stream(self, sql: str, params: dict[str, Any] | None, batch_rows: int) -> Any:
        self.issued.append(sql)
        return super().stream(sql, params, batch_rows)


def test_every_statement_of_real_runs_is_in_the_warehouse_case(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(REGISTRY, "uppercase", f"{__name__}:RecordingUpperCaseDuckDB")
    monkeypatch.setattr(RecordingUpperCaseDuckDB, "issued", [])
    ws.sql(
        'CREATE TABLE users AS SELECT 1 AS id, \'a@x\' AS "eMail", \'A\' AS "Name" '
        "UNION ALL SELECT 2, 'b@x', 'B'"
    )
    ws.simple_project(
        sync={
            "mode": "mirror",
            "delete_behavior": "delete",
            "mappings": [{"from": "eMail", "to": "email"}, {"from": "Name", "to": "name"}],
        }
    )
    config = ws.project_file.read_text().replace("type: duckdb", "type: uppercase")
    ws.write_text(config)
    assert ws.cli("run", "s").exit_code == 0
    ws.sql("UPDATE users SET \"Name\" = 'B2' WHERE id = 2; DELETE FROM users WHERE id = 1")
    second = ws.cli("run", "s", "--json")
    assert second.exit_code == 0, second.stderr
    assert second.json()["counts"]["succeeded"] == {"added": 0, "changed": 1, "removed": 1}
    assert ws.cli("runs", "s").exit_code == 0
    assert ws.query("SELECT row_id FROM hightouch_audit.sync_changelog ORDER BY 1") == [
        ("1",),
        ("1",),
        ("2",),
        ("2",),
    ]
    dialect = RecordingUpperCaseDuckDB({}, ws.root)
    issued = RecordingUpperCaseDuckDB.issued
    assert len(issued) > 30
    for sql in issued:
        if sql.startswith(("SET ", "BEGIN", "COMMIT", "ROLLBACK")) or "hash(42" in sql:
            continue  # session settings, transactions, the hash probe: no names
        if "duckdb_views()" in sql:
            continue  # the warehouse's catalog, named unquoted so the warehouse folds it
        problems = case_problems(sql, dialect, {"id", "eMail", "Name", "users"})
        assert not problems, (problems, sql)
