"""The dry run (``lightning-sync plan``): plan and diff as a run would, report the counts and
a sample, and send and commit nothing."""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from engine.config import Project
from engine.interrupts import interruptible
from engine.planner import KeyStats
from engine.sync_job import SyncJob, must_resend, redacting
from engine.warehouse import connected, prepare_schemas


@dataclass
class PlanPreview:
    """A dry run's findings."""

    sync_name: str
    counts: dict[str, int]
    rejected_before_send: int
    keys: KeyStats
    sample: list[tuple[str, str, Any]]
    timings: dict[str, float]
    # Planned ops rejected before sending (duplicated keys), by op: planned, never sent.
    rejected_by_op: dict[str, int] = field(default_factory=dict)
    # What the dry run cost, and the bytes a run's read of the model would scan, where the
    # warehouse reports them.
    cost: dict[str, int] | None = None

    @property
    def to_send(self) -> dict[str, int]:
        """What a run would offer the destination (its ``attempted``, if it runs to the end)."""
        return {op: n - self.rejected_by_op.get(op, 0) for op, n in self.counts.items()}

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: ``counts`` are planned ops as a run counts them (``planned``)."""
        return {
            "sync": self.sync_name,
            "counts": self.counts,
            "to_send": self.to_send,
            "rejected_before_send": self.rejected_before_send,
            "keys": {
                "null_key_rows": self.keys.null_key_rows,
                "duplicate_keys": self.keys.duplicate_keys,
                "duplicate_rows": self.keys.duplicate_rows,
                "duplicate_sample": list(self.keys.duplicate_sample),
            },
            "sample": [
                {"op_type": op, "row_id": rid, "fields": _json_or_text(fields)}
                for op, rid, fields in self.sample
            ],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        } | ({} if self.cost is None else {"cost": self.cost})


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        with suppress(ValueError):
            return json.loads(value)
    return value


@redacting
def plan_sync(project: Project, sync_name: str, sample_rows: int = 5) -> PlanPreview:
    """Dry run: plan and diff, report counts and samples; send and commit nothing."""
    job = SyncJob(project, sync_name)
    with interruptible(), connected(job.dialect, prepare=False) as state:
        model = job.bind()
        prepare_schemas(state)
        run_id = state.acquire(sync_name)
        planner = job.planner(state, model, run_id)
        try:
            job.check_primary_key(state, model, resetting=False)
            commits = state.committed(sync_name)
            baseline = commits[0] if commits else None
            unconfirmed = state.unconfirmed_deltas(sync_name, run_id, commits)
            planner.use_baseline(baseline, list(unconfirmed.values()))
            keys, planned = planner.plan_and_diff(
                resend_unchanged=must_resend(job, state, model, baseline)
            )
            rejected = planner.count_rejections()
            sample = planner.sample(sample_rows)
            cost = job.dialect.cost()
            if cost is not None:  # a warehouse that reports cost may also estimate a read
                estimate = job.dialect.estimate_bytes(planner.model_read_sql())
                if estimate is not None:
                    cost = cost | {"model_read_bytes_estimate": estimate}
            return PlanPreview(
                sync_name,
                planned,
                rejected,
                keys,
                sample,
                planner.timings,
                dict(planner.rejected_before_send),
                cost,
            )
        except Exception as error:
            if job.dialect.is_driver_error(error):
                raise job.dialect.wrap(
                    error, f"Planning sync {sync_name!r} failed in the warehouse"
                ) from error
            raise
        finally:
            with suppress(Exception):
                planner.drop_run_tables(keep_committed_pair=False)
            with suppress(Exception):
                state.release(sync_name, run_id)
