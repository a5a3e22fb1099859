"""Reading the sync logs back (``lightning-sync runs``)."""

from __future__ import annotations

from typing import Any

from engine.config import Project
from engine.warehouse import connected, dialect_for


def recent_runs(project: Project, sync_name: str, limit: int = 10) -> list[dict[str, Any]]:
    """The sync's newest ``sync_runs`` rows as dicts, newest first."""
    sync = project.sync(sync_name)
    dialect = dialect_for(project, project.models[sync.model].source)
    with connected(dialect) as state:
        sql = state.sql.one("runs_recent", {"runs": state.audit_table("sync_runs")})
        described = dialect.table_columns(state.audit_table("sync_runs"))
        columns = [name.lower() for name, _ in described]
        rows = dialect.fetchall(sql, {"sync_id": sync_name, "limit": limit})
    return [dict(zip(columns, row, strict=True)) for row in rows]
