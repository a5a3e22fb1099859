"""Step 5 and 6: stream the delta to the destination and record what did not succeed.

Python holds one page of the delta (``PAGE_ROWS``) plus the next one being read; a page is
split into destination batches that run ``concurrency`` at a time. Only failures come back
to the warehouse (bulk-loaded into the run's rejections table); successes are derived in
SQL. When the destination raises a fatal error, the first rows sent all fail for one reason
that is not about them (:mod:`engine.same_cause`), or the run is cancelled, it ends early
but cleanly: in-flight batches finish or are cancelled, and every row not known to
have been attempted is recorded as ``aborted`` so the next run retries it.

Every failure reason and fatal error passes through the run's redaction (``redact``, see
:mod:`engine.secrets`) before it is kept or written: a destination that echoes a request back
never gets a credential into the warehouse.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from engine.changed_fields import changed_fields_for
from engine.config import SyncConfig
from engine.delta_queries import mappings_left_to_python
from engine.delta_rows import to_delta_rows
from engine.destinations.base import DeltaRow, Destination, FatalDestinationError, Outcome
from engine.model import BoundModel
from engine.rejection_writer import RejectionWriter
from engine.same_cause import SameCauseWatch
from engine.sql import SqlRenderer, engine_names
from engine.storable import storable_text

PAGE_ROWS = 10_000
HEARTBEAT_SECONDS = 30.0
INTERNAL_COLUMNS = ("_lightning_seq", "_lightning_row_id", "_lightning_op", "_lightning_match")
#: Longest failure_reason stored per row, and longest error of a run (``sync_runs.error``).
REASON_LIMIT = 2000
ERROR_LIMIT = 4000


def storable_reason(reason: str) -> str:
    """A row's failure_reason as stored (see :mod:`engine.storable`)."""
    return storable_text(reason, REASON_LIMIT)


def storable_error(message: str) -> str:
    """A run's error as stored and printed (see :mod:`engine.storable`)."""
    return storable_text(message, ERROR_LIMIT)


@dataclass
class DeliveryReport:
    """What delivery did: rows sent, failed, aborted; the fatal error if it ended early.

    ``succeeded_by_op`` and ``failed_by_op`` count the rows that arrived and the rows
    recorded as failed (the failure loads), by op: with the run's planned counts they give
    ``sync_runs``' counters (:func:`engine.audit.delivered_counters`) without a read of the
    rejections table.
    """

    attempted: int = 0
    failed: int = 0
    aborted: int = 0
    fatal_error: str | None = None
    seconds: float = 0.0
    succeeded_by_op: Counter[str] = field(default_factory=Counter)
    failed_by_op: Counter[str] = field(default_factory=Counter)


class CancelFlag:
    """Set from a signal handler; delivery stops starting new batches once it is set."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def cancel(self, reason: str) -> None:
        """Ask the run to stop early (it still commits what it did)."""
        self.reason = self.reason or reason


def _batches(rows: list[DeltaRow], size: int) -> list[list[DeltaRow]]:
    """Split a page into batches of one op each (the page is ordered by op)."""
    batches: list[list[DeltaRow]] = []
    current: list[DeltaRow] = []
    for row in rows:
        if current and (len(current) >= size or current[-1].op_type != row.op_type):
            batches.append(current)
            current = []
        current.append(row)
    if current:
        batches.append(current)
    return batches


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Let the cyclic garbage collector run rarely while the delta streams.

    Delivery makes millions of short-lived objects with no reference cycles (freed by
    reference counting); at Python's default thresholds the collector would run every 700
    of them and walk the engine's whole heap (measured: most of the per-row cost, see
    bench/RESULTS.md). The objects that exist when delivery starts are frozen out of its
    sight, and it runs every 100,000 allocations; both are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass
class _PageInFlight:
    """One page being delivered: its batches, their tasks, and what came back."""

    last_seq: int
    batches: list[list[DeltaRow]] = field(default_factory=list)
    tasks: list[asyncio.Future[None]] = field(default_factory=list)
    done: set[int] = field(default_factory=set)
    unanswered: dict[int, list[DeltaRow]] = field(default_factory=dict)  # cut short by a fatal
    failures: list[tuple[Any, ...]] = field(default_factory=list)


class Deliverer:
    """Streams one run's delta to its destination (see module doc)."""

    def __init__(
        self,
        dialect: Dialect,
        renderer: SqlRenderer,
        tables: dict[str, Any],
        destination: Destination,
        model: BoundModel,
        sync: SyncConfig,
        stream_sql: str,
        on_progress: Callable[[int], None] | None = None,
        heartbeat: Callable[[], None] | None = None,
        cancel: CancelFlag | None = None,
        page_rows: int = PAGE_ROWS,
        redact: Callable[[str], str] | None = None,
        variables: dict[str, Any] | None = None,
    ):
        self.dialect = dialect
        self.sql = renderer
        self.tables = tables
        self.destination = destination
        self.model = model
        self.sync = sync
        self.stream_sql = stream_sql
        self.on_progress = on_progress or (lambda n: None)
        self.heartbeat = heartbeat or (lambda: None)
        self.cancel = cancel or CancelFlag()
        self.page_rows = page_rows
        self.redact = redact or (lambda text: text)
        self.variables = variables or {}
        self.report = DeliveryReport()
        self._rejections = tables["rejections"]
        self._label = f"{destination.type_name} destination {sync.destination!r}"
        self._writer = RejectionWriter(dialect, self._rejections, self._label)
        self._watch = SameCauseWatch(self._label)
        self._row_columns = destination.read_columns()
        self._payload_json = destination.capabilities.json_payload
        self._left_to_python = mappings_left_to_python(dialect, model, sync)
        self._changed_fields = changed_fields_for(model, sync)
        self._checks_rows = type(destination).check_row is not Destination.check_row
        self._semaphore = asyncio.Semaphore(1)  # set per run
        self._fatal: list[str] = []  # the first fatal error ends the run

    def _reason(self, text: str) -> str:
        """A row's failure reason as stored: redacted, then made storable."""
        return storable_reason(self.redact(text))

    def _error(self, text: str) -> str:
        """The run's error as stored and printed: redacted, then made storable."""
        return storable_error(self.redact(text))

    def _record(self, rows: list[tuple[Any, ...]]) -> None:
        """Load failed and aborted rows (row_id, op, status, reason, match value) into the
        rejections table; the failed ones are counted by op."""
        self.report.failed_by_op.update(row[1] for row in rows if row[2] == "failed")
        self._writer.write(rows)

    async def run(self) -> DeliveryReport:
        """Deliver every page; never raises for destination failures."""
        with fewer_collections():
            return await self._run()

    async def _run(self) -> DeliveryReport:
        started = time.perf_counter()
        last_done_seq = 0
        last_beat = time.monotonic()
        self._semaphore = asyncio.Semaphore(max(1, self.destination.concurrency()))
        self._fatal = []
        self._watch = SameCauseWatch(self._label)
        pages: Iterator[dict[str, list[Any]]] = self.dialect.stream(
            self.stream_sql, None, self.page_rows
        )
        # The next page is read in a thread while the current one is being delivered, and a
        # page's batches start while the previous page's last ones are still in flight (so
        # the concurrency never drains between pages); at most two pages are in flight.
        next_page = asyncio.ensure_future(asyncio.to_thread(next, pages, None))
        in_flight: _PageInFlight | None = None
        try:
            while True:
                page = await next_page
                if page is None:
                    break
                page = engine_names(page)
                next_page = asyncio.ensure_future(asyncio.to_thread(next, pages, None))
                if self.cancel.reason is not None or self._fatal:
                    break
                rows = to_delta_rows(
                    page,
                    self.model,
                    self.sync,
                    self._row_columns,
                    self._payload_json,
                    self._left_to_python,
                    self.variables,
                    self._changed_fields,
                )
                current = self._start_page(rows, int(page["_lightning_seq"][-1]))
                if in_flight is not None:
                    await self._finish_page(in_flight)
                    last_done_seq = in_flight.last_seq
                in_flight = current
                if time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                    self.heartbeat()
                    last_beat = time.monotonic()
            if in_flight is not None:
                await self._finish_page(in_flight)
                last_done_seq = in_flight.last_seq
                in_flight = None
        finally:
            if in_flight is not None:  # cancelled from outside: stop its batches
                for task in in_flight.tasks:
                    task.cancel()
            await asyncio.gather(next_page, return_exceptions=True)
            close = getattr(pages, "close", None)
            if close is not None:
                close()
        if self.cancel.reason is not None and self.report.fatal_error is None:
            self.report.fatal_error = self._error(self.cancel.reason)
        every_row_failed = self._watch.at_end()
        if every_row_failed is not None and self.report.fatal_error is None:
            self.report.fatal_error = self._error(every_row_failed)
        if self.report.fatal_error is not None:
            self._abort_after(last_done_seq, self.report.fatal_error)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def abort_all(self, reason: str) -> None:
        """Record every row of the delta as aborted (the destination could not start)."""
        self.report.fatal_error = self._error(reason)
        self._abort_after(0, self.report.fatal_error)

    def _abort_after(self, seq: int, reason: str) -> None:
        statement = self.sql.one("abort_rest", self.tables)
        before = self._count_aborted()
        params = {"reason": self._reason(f"aborted: {reason}"), "after_seq": seq}
        self.dialect.execute(statement, params)
        self.report.aborted += self._count_aborted() - before

    def _count_aborted(self) -> int:
        query = (
            exp.select(exp.func("count", exp.Star()))
            .from_(self._rejections.copy())
            .where(exp.column("status", quoted=True).eq(exp.Literal.string("aborted")))
        )
        return int(self.dialect.fetchall(self.sql.expression(query))[0][0])

    def _start_page(self, rows: list[DeltaRow], last_seq: int) -> _PageInFlight:
        """Check a page's rows and start its batches (they wait for the shared semaphore)."""
        page = _PageInFlight(last_seq=last_seq)
        sendable: list[DeltaRow] = rows
        if self._checks_rows or any(row.failure is not None for row in rows):
            sendable = []
            for row in rows:
                reason = row.failure
                if reason is None and self._checks_rows:
                    reason = self.destination.check_row(row)
                if reason is not None:
                    failure = (row.row_id, row.op_type, "failed", self._reason(reason))
                    page.failures.append((*failure, row.match_value))
                else:
                    sendable.append(row)
        self.report.attempted += len(rows) - len(sendable)
        self.report.failed += len(rows) - len(sendable)
        page.batches = self._batches_of(sendable)
        page.tasks = self._start_batches(page)
        return page

    def _batches_of(self, rows: list[DeltaRow]) -> list[list[DeltaRow]]:
        return _batches(rows, max(1, self.destination.batch_size()))

    def _start_batches(self, page: _PageInFlight) -> list[asyncio.Future[None]]:
        """One task per batch (they wait for the shared semaphore)."""
        return [
            asyncio.ensure_future(self._send(page, i, batch))
            for i, batch in enumerate(page.batches)
        ]

    async def _send(self, page: _PageInFlight, index: int, batch: list[DeltaRow]) -> None:
        async with self._semaphore:
            if self._fatal or self.cancel.reason is not None:
                return
            try:
                outcomes = await self.destination.deliver(batch)
            except FatalDestinationError as error:
                self._fatal.append(self._error(str(error)))
                answered = {o.row_id for o in error.outcomes}
                if answered:
                    self._account(
                        [r for r in batch if r.row_id in answered], error.outcomes, page.failures
                    )
                    page.unanswered[index] = [r for r in batch if r.row_id not in answered]
                return
            except Exception as error:  # noqa: BLE001 - a destination bug fails the batch
                outcomes = [
                    Outcome(r.row_id, False, f"destination error: {error!r}") for r in batch
                ]
            self._account(batch, outcomes, page.failures)
            page.done.add(index)
            self.on_progress(len(batch))

    async def _finish_page(self, page: _PageInFlight) -> None:
        """Wait for a page's batches; record its failures, and its unsent rows as aborted
        when the run is ending (fatal error or cancel)."""
        try:
            await asyncio.gather(*page.tasks)
        finally:
            for task in page.tasks:
                task.cancel()
        if self._fatal or self.cancel.reason is not None:
            reason = self._fatal[0] if self._fatal else self._error(str(self.cancel.reason))
            self.report.fatal_error = reason
            aborted = self._reason(f"aborted: {reason}")
            for index, batch in enumerate(page.batches):
                if index not in page.done:
                    for row in page.unanswered.get(index, batch):
                        page.failures.append(
                            (row.row_id, row.op_type, "aborted", aborted, row.match_value)
                        )
                        self.report.aborted += 1
        self._record(page.failures)

    def _arrived(self, batch: list[DeltaRow]) -> None:
        """Count a batch whose every row arrived."""
        self._watch.saw_success()
        self.report.attempted += len(batch)
        self.report.succeeded_by_op.update(row.op_type for row in batch)

    def _account(
        self, batch: list[DeltaRow], outcomes: list[Outcome], failures: list[tuple[Any, ...]]
    ) -> None:
        if len(outcomes) == len(batch) and all(
            o.succeeded and o.row_id == row.row_id for o, row in zip(outcomes, batch, strict=True)
        ):  # the common case, counted without a lookup per row: the whole batch arrived
            self._arrived(batch)
            return
        by_id = {o.row_id: o for o in outcomes}
        for row in batch:
            outcome = by_id.get(row.row_id)
            self.report.attempted += 1
            if outcome is None:
                outcome = Outcome(row.row_id, False, "destination returned no outcome for the row")
            if outcome.succeeded:
                self._watch.saw_success()
                self.report.succeeded_by_op[row.op_type] += 1
            else:
                fatal = self._watch.see(outcome)
                if fatal is not None and not self._fatal:
                    self._fatal.append(self._error(fatal))
                self.report.failed += 1
                failures.append(
                    (
                        row.row_id,
                        row.op_type,
                        "failed",
                        self._reason(outcome.failure_reason or "failed"),
                        row.match_value,
                    )
                )
