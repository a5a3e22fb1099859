"""The tables and expressions every SQL template takes, for rendering templates in tests.

The golden files (tests/test_golden_sql.py) and the identifier-case check
(tests/test_identifier_case.py) render every template from the same inputs: a planner's run
tables, the audit and state tables, and the expressions the planner and the model build.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from engine.planner import Planner


def template_tables(planner: Planner) -> dict[str, exp.Expr]:
    """The tables (and table-like queries) the templates name, for ``planner``'s run."""
    state = planner.state
    return {
        **planner.tables.as_dict(),
        **state.audit_tables(),
        **state.lock_tables(),
        "model": planner.model.query,
        "stage_query": planner.stage_query(),
        "key_stats": planner.key_stats_query(),
        "dead_delta": state.planner_table("s_1600000000000000_delta"),
        "no_rejections": planner.no_rejections,
        "sync_logs": state.sync_logs_check(),
        "run_catalog": state.run_catalog_query(planner.sync_name),
    }


def template_exprs(planner: Planner) -> dict[str, Any]:
    """The expressions the templates take, for ``planner``'s model and sync (the inputs of
    a sync sending changed fields only, and of array expansion, are left to the caller)."""
    model, dialect = planner.model, planner.dialect
    return {
        "row_id": model.row_id_expression(dialect),
        "row_hash": model.hash_expression(dialect),
        "match_value": model.match_expression(dialect),
        "model_columns": model.stored_columns,
        "stage_columns": model.stage_columns(),
        "fields_json": planner.fields_json("d", removed_aware=True),
        "payload": planner.payload_json("d") or exp.Null(),
        "unconfirmed_row_id": exp.column("_lightning_row_id", quoted=True),
        "hash_probe": dialect.hash_probe_value(),
        **planner.match_reasons(),
    }
