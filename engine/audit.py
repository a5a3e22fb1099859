"""Step 7: the sync logs in ``hightouch_audit``, computed in SQL from delta and rejections.

``sync_changelog`` gets one row per planned op, ``sync_snapshot`` has this sync's rows
replaced, ``sync_runs`` gets one row per run with twelve counters. The counters count the
rows the changelog is read from (the delta, and the rejections table for the rows that did
not succeed), as delivery recorded them (:func:`delivered_counters`), so they agree with it:
planned = rows of the delta; failed = status failed; attempted = rows offered to the
destination (planned - aborted - rows rejected before sending, i.e. duplicated keys, which
are failed but never attempted); succeeded = status succeeded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dialects.base import Dialect
from engine.sql import SqlRenderer

OPS = {"added": "add", "changed": "change", "removed": "remove"}

Statement = tuple[str, dict[str, Any] | None]


@dataclass
class RunCounters:
    """The twelve ``num_*`` counters of ``sync_runs``."""

    planned: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    attempted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    succeeded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    # Failed before sending (duplicated keys): planned and failed, never attempted.
    rejected_before_send: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))

    @property
    def aborted(self) -> int:
        """Planned rows never attempted because the run ended early."""
        not_attempted = sum(self.planned.values()) - sum(self.attempted.values())
        return not_attempted - sum(self.rejected_before_send.values())

    def as_params(self) -> dict[str, int]:
        """``num_<kind>_<op>`` parameters for the runs insert."""
        params = {}
        for kind in ("planned", "attempted", "succeeded", "failed"):
            values = getattr(self, kind)
            for op, short in OPS.items():
                params[f"num_{kind}_{short}"] = int(values[op])
        return params

    def as_dict(self) -> dict[str, dict[str, int]]:
        """For ``--json`` output."""
        return {
            "planned": dict(self.planned),
            "attempted": dict(self.attempted),
            "succeeded": dict(self.succeeded),
            "failed": dict(self.failed),
            "rejected_before_send": dict(self.rejected_before_send),
        }


def delivered_counters(
    planned: dict[str, int],
    rejected_before_send: dict[str, int],
    succeeded: Counter[str],
    failed: Counter[str],
) -> RunCounters:
    """The counters of a run that delivered its delta, from its planned counts (the delta's,
    read as it was built) and what delivery counted: the rows that arrived (``succeeded``)
    and the rows it loaded into the rejections table as failed (``failed``). The other rows
    the rejections table holds are the ones rejected before sending (failed, never
    attempted) and the aborted ones, which is every other planned row; so these are the
    counts of the table the changelog is read from, with no read of it (test_property
    checks them against the changelog)."""
    counters = RunCounters()
    for op in OPS:
        counters.planned[op] = planned.get(op, 0)
        counters.rejected_before_send[op] = rejected_before_send.get(op, 0)
        counters.succeeded[op] = succeeded[op]
        counters.failed[op] = rejected_before_send.get(op, 0) + failed[op]
        counters.attempted[op] = succeeded[op] + failed[op]
    return counters


@dataclass(frozen=True)
class RunRecord:
    """The descriptive columns of a ``sync_runs`` row."""

    sync_id: str
    sync_run_id: int
    primary_key: list[str]
    destination: str
    model_name: str
    status: str
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime

    def as_params(self) -> dict[str, Any]:
        """Parameters for the runs insert."""
        key = self.primary_key[0] if len(self.primary_key) == 1 else json.dumps(self.primary_key)
        return {
            "sync_id": self.sync_id,
            "sync_run_id": self.sync_run_id,
            "primary_key": key,
            "destination": self.destination,
            "model_name": self.model_name,
            "model_id": self.model_name,
            "status": self.status,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


class Audit:
    """Builds the sync-log statements of one run."""

    def __init__(self, renderer: SqlRenderer, audit_tables: dict[str, Any], logs: frozenset[str]):
        self.sql = renderer
        self.audit_tables = audit_tables
        self.logs = logs

    def row_statements(
        self,
        run_tables: dict[str, Any],
        sync_id: str,
        sync_run_id: int,
        changelog_fields: Any,
        snapshot_fields: Any,
    ) -> list[Statement]:
        """Changelog and snapshot statements, for the tables this sync writes."""
        tables = {**run_tables, **self.audit_tables}
        params = {"sync_id": sync_id, "sync_run_id": sync_run_id}
        statements: list[Statement] = []
        if "changelog" in self.logs:
            sql = self.sql.one("changelog_insert", tables, {"fields_json": changelog_fields})
            statements.append((sql, params))
        if "snapshot" in self.logs:
            for sql in self.sql.statements(
                "snapshot_replace", tables, {"fields_json": snapshot_fields}
            ):
                statements.append((sql, params))
        return statements

    def forget_uncommitted(self, dialect: Dialect, sync_id: str, run_ids: Iterable[int]) -> None:
        """Delete the changelog rows of runs that died before their commit. Only where the
        warehouse has no transactions: elsewhere those rows were rolled back with the run, and
        there the rows are written before the commit marker, which comes last."""
        if dialect.capabilities.transactions or "changelog" not in self.logs:
            return
        sql = self.sql.one("audit_delete_run", self.audit_tables)
        for run_id in run_ids:
            dialect.execute(sql, {"sync_id": sync_id, "sync_run_id": run_id})

    def run_statement(self, record: RunRecord, counters: RunCounters) -> Statement | None:
        """The ``sync_runs`` insert, if this sync writes it."""
        if "runs" not in self.logs:
            return None
        sql = self.sql.one("runs_insert", self.audit_tables)
        return sql, {**record.as_params(), **counters.as_params()}
