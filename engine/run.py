"""One run of a sync, end to end (SPEC section 2); the dry run is :mod:`engine.dry_run`.

Order: config and destination checks, connect, schemas, model check, lock, clean up dead
runs' tables, plan, diff, deliver, audit + commit + release of the lock (one transaction
where the warehouse has them, else ordered so a crash never leaves a claim of success),
retention.
"""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from engine.audit import Audit, RunCounters, RunRecord, delivered_counters
from engine.config import ConfigError, Project
from engine.delivery import CancelFlag, Deliverer, DeliveryReport, storable_error
from engine.destinations.base import FatalDestinationError, RunContext
from engine.interrupts import RunInterrupted, interruptible, restore, saved_handlers
from engine.mapping_values import run_variables, skips_first_run
from engine.model import BoundModel
from engine.planner import KeyStats, Planner
from engine.state import Commit, State, utcnow
from engine.sync_job import SyncJob, must_resend, redacting
from engine.warehouse import connected, lock_sync


@dataclass
class RunResult:
    """What a run did."""

    sync_name: str
    sync_run_id: int
    status: str
    error: str | None
    committed: bool
    kind: str
    counters: RunCounters = field(default_factory=RunCounters)
    keys: KeyStats = field(default_factory=KeyStats)
    timings: dict[str, float] = field(default_factory=dict)
    delivery: DeliveryReport | None = None
    statements: int | None = None  # sent to the warehouse (Dialect.count_statement)
    load_statements: int = 0  # of them apart: loads of rows' outcomes (grow with failures)
    cost: dict[str, int] | None = None  # jobs and bytes, where the warehouse reports them
    workers: int | None = None  # processes the delta was sent from (None: nothing sent)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return (
            {
                "sync": self.sync_name,
                "sync_run_id": self.sync_run_id,
                "status": self.status,
                "error": self.error,
                "committed": self.committed,
                "kind": self.kind,
                "counts": self.counters.as_dict(),
                "aborted": self.counters.aborted,
                "keys": {
                    "null_key_rows": self.keys.null_key_rows,
                    "duplicate_keys": self.keys.duplicate_keys,
                    "duplicate_rows": self.keys.duplicate_rows,
                },
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
            }
            | (
                {}
                if self.statements is None
                else {"statements": self.statements, "load_statements": self.load_statements}
            )
            | ({} if self.cost is None else {"cost": self.cost})
            | ({} if self.workers is None else {"workers": self.workers})
        )


@redacting
def run_sync(
    project: Project,
    sync_name: str,
    *,
    full_resync: bool = False,
    reset_cdc: bool = False,
    on_planned: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    cancel: CancelFlag | None = None,
) -> RunResult:
    """One run of a sync (see module doc). Raises on errors that prevent a commit."""
    if full_resync and reset_cdc:
        raise ConfigError("--full-resync and --reset-cdc exclude each other: pick one.")
    job = SyncJob(project, sync_name)
    kind = "full_resync" if full_resync else "reset_cdc" if reset_cdc else "run"
    with interruptible(), connected(job.dialect, prepare=False) as state:
        model = job.bind()
        run_id = lock_sync(state, sync_name)
        started = utcnow()
        planner = job.planner(state, model, run_id)
        audit = Audit(state.sql, state.audit_tables(), job.sync.log_tables)
        committed = released = False
        result = RunResult(sync_name, run_id, "succeeded", None, False, kind)
        try:
            state.drop_unkept(sync_name, current_run=run_id)
            job.check_primary_key(state, model, resetting=full_resync or reset_cdc)
            commits = state.committed(sync_name)
            if skips_first_run(job.sync, commits, full_resync):
                reset_cdc, result.kind = True, "first_run_skip"
            baseline = None if full_resync else (commits[0] if commits else None)
            unconfirmed = state.unconfirmed_deltas(sync_name, run_id, commits)
            audit.forget_uncommitted(job.dialect, sync_name, unconfirmed)
            planner.use_baseline(baseline, list(unconfirmed.values()))
            result.keys, planned = planner.plan_and_diff(
                diff=not reset_cdc, resend_unchanged=must_resend(job, state, model, baseline)
            )
            statements: list[tuple[str, dict[str, Any] | None]] = []
            if not reset_cdc:
                if on_planned is not None:
                    on_planned(sum(planned.values()))
                result.workers = job.sync.workers
                result.delivery = _deliver(job, planner, model, run_id, state, on_progress, cancel)
                tables = planner.tables.as_dict()
                result.counters = delivered_counters(
                    planned,
                    planner.rejected_before_send,
                    result.delivery.succeeded_by_op,
                    result.delivery.failed_by_op,
                )
                statements += audit.row_statements(
                    tables,
                    sync_name,
                    run_id,
                    planner.fields_json("d", removed_aware=True),
                    planner.fields_json("s", removed_aware=False),
                )
            if result.delivery is not None and result.delivery.fatal_error:
                result.status, result.error = "failed", result.delivery.fatal_error
            commit_params = _commit_params(job, planner, model)
            statements.append((state.commit_statement(), commit_params))
            record = RunRecord(
                sync_name,
                run_id,
                model.key_columns,
                job.destination.type_name,
                job.sync.model,
                result.status,
                result.error,
                started,
                utcnow(),
            )
            run_row = audit.run_statement(record, result.counters)
            if run_row is not None:
                statements.append(run_row)  # after the commit: never claims success before it
            # The lock goes with the commit; where a "transaction" is statements one by one,
            # a stop before this leaves the lock to the finally below, as before.
            statements.append(state.release_statement(sync_name, run_id))
            with job.dialect.transaction():
                for sql, params in statements:
                    job.dialect.execute(sql, params)
            committed = result.committed = released = True
            state.note_commit(sync_name, _commit_of(commit_params))
        except BaseException as error:
            # An interrupt can land between the COMMIT and the line that notes it: ask the
            # warehouse, or a committed run would be logged as failed and its tables dropped.
            committed = committed or _commit_landed(state, sync_name, run_id)
            result.committed = committed
            if isinstance(error, RunInterrupted):
                error.sync_name, error.sync_run_id, error.committed = sync_name, run_id, committed
            if not committed:
                _record_failed_run(job, audit, model, run_id, started, error)
                with suppress(Exception):  # the delta stays: its rows may have been sent
                    planner.drop_run_tables(keep_committed_pair=False, keep_delta=True)
            if isinstance(error, Exception) and job.dialect.is_driver_error(error):
                raise job.dialect.wrap(
                    error, f"Run {run_id} of sync {sync_name!r} failed in the warehouse"
                ) from error
            raise
        finally:
            if not released:
                with suppress(Exception):
                    state.release(sync_name, run_id)
        result.timings = planner.timings
        with suppress(Exception):
            state.drop_unkept(sync_name, also=planner.run_tables(keep_committed_pair=True))
        result.statements = job.dialect.statements_issued
        result.load_statements = job.dialect.load_statements
        result.cost = job.dialect.cost()
        return result


def _commit_params(job: SyncJob, planner: Planner, model: BoundModel) -> dict[str, Any]:
    return {
        "sync_id": job.sync_name,
        "sync_run_id": planner.run_id,
        "committed_at": utcnow(),
        "plan_table": planner.tables.plan.name,
        "rejections_table": planner.tables.rejections.name,
        "primary_key": json.dumps(model.key_columns),
        "hash_version": job.dialect.hash_version(),
        "mapping_signature": model.signature(job.sync, job.destination.sent_settings()),
    }


def _commit_of(params: dict[str, Any]) -> Commit:
    """The commit marker :func:`_commit_params` wrote."""
    return Commit(
        params["sync_run_id"],
        params["plan_table"],
        params["rejections_table"],
        params["primary_key"],
        params["hash_version"],
        params["mapping_signature"],
    )


def _commit_landed(state: State, sync_name: str, run_id: int) -> bool:
    """Whether the run's commit marker is in the warehouse (False when it cannot be read)."""
    with suppress(Exception):
        commits = state.committed(sync_name, fresh=True)
        return any(commit.sync_run_id == run_id for commit in commits)
    return False


def _record_failed_run(
    job: SyncJob, audit: Audit, model: BoundModel, run_id: int, started: Any, error: BaseException
) -> None:
    """A ``sync_runs`` row with status failed for a run that did not commit (best effort)."""
    message = job.redactor.redact(str(error).strip() or type(error).__name__)
    record = RunRecord(
        job.sync_name,
        run_id,
        model.key_columns,
        job.destination.type_name,
        job.sync.model,
        "failed",
        storable_error(message),
        started,
        utcnow(),
    )
    statement = audit.run_statement(record, RunCounters())
    if statement is not None:
        with suppress(Exception):
            job.dialect.execute(*statement)


def _deliver(
    job: SyncJob,
    planner: Planner,
    model: BoundModel,
    run_id: int,
    state: State,
    on_progress: Callable[[int], None] | None,
    cancel: CancelFlag | None,
) -> DeliveryReport:
    pool = None
    if job.sync.workers > 1:  # delivery in processes of their own
        from engine.delivery_workers import PooledDeliverer, WorkerPool

        pool = WorkerPool(job.project, job.sync_name, job.destination)
    make = Deliverer if pool is None else functools.partial(PooledDeliverer, pool=pool)
    sends: Any = job.destination if pool is None else pool  # opened and closed for the run
    deliverer = make(
        job.dialect,
        state.sql,
        planner.tables.as_dict(),
        job.destination,
        model,
        job.sync,
        planner.stream_sql(
            payload_json=job.destination.capabilities.json_payload,
            read_columns=job.destination.read_columns(),
        ),
        on_progress=on_progress,
        heartbeat=lambda: state.heartbeat(job.sync_name, run_id),
        cancel=cancel,
        redact=job.redactor.redact,
        variables=(variables := run_variables(job.sync, job.sync_name, run_id, utcnow())),
    )
    context = RunContext(
        job.sync_name,
        run_id,
        job.sync.mode,
        job.sync.delete_behavior,
        [m.to for m in job.sync.mappings],
        variables,
    )

    async def main() -> DeliveryReport:
        flag = deliverer.cancel
        loop = asyncio.get_running_loop()
        handled = []
        saved = saved_handlers()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                with suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, flag.cancel, f"run cancelled ({sig.name})")
                    handled.append(sig)
        try:
            try:
                await sends.open(context)
            except Exception as error:  # noqa: BLE001 - the run ends early, cleanly
                reason = (
                    str(error)
                    if isinstance(error, FatalDestinationError)
                    else f"the {job.destination.type_name} destination could not start: {error!r}"
                )
                deliverer.abort_all(reason)
                with suppress(Exception):
                    await sends.close()
                return deliverer.report
            try:
                return await deliverer.run()
            finally:
                await sends.close()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            if handled:  # the loop leaves its own defaults behind
                restore(saved)

    started = planner.timings
    report = asyncio.run(main())
    if deliverer.cancel.reason is not None and report.fatal_error is None:
        # The signal came once every row had been attempted: the run ends as cancelled.
        report.fatal_error = deliverer.cancel.reason
    started["deliver"] = report.seconds
    return report
