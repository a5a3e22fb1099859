"""Delivery past one core: a sync's ``workers: N`` sends its delta from N processes.

The run's process keeps its one warehouse connection (a warehouse file may allow a single
writer) and streams the delta as with one process (:class:`engine.delivery.Deliverer`).
Each page's sendable rows are split into N disjoint parts by a hash of their key
(``crc32(row_id) mod N``: the same key goes to the same process in every run), and part
``i`` goes to worker process ``i`` (:mod:`engine.delivery_worker`, started with ``spawn``:
never a fork of a process holding a warehouse connection and threads). A worker rebuilds the
destination from the project file with its share of the sync's ``concurrency`` (they add up
to it) and of its ``rate_limit_per_second`` (the limit over N), checks and sends its rows
over its own connections, and answers per batch. The run's process accounts for every
answer exactly as with one process (failures into the run's rejections table, counters, the
same-cause watch over all answers) and commits once.

When the run ends early (a fatal error from any worker, the same-cause rule, a cancel from
SIGINT or SIGTERM) every worker is told to stop: batches in flight finish, the rest are
never sent and are recorded as aborted. A worker process that dies is a fatal error naming
it and its exit code: the run fails, every batch it had not answered is recorded as aborted
(the next run re-sends those rows), and the answers of the others stand.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import signal
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from engine.config import Project
from engine.delivery import Deliverer, _batches, _PageInFlight
from engine.delivery_worker import STOP_SIGNALS, fingerprint, project_path, worker_main
from engine.destinations.base import (
    DeltaRow,
    Destination,
    FatalDestinationError,
    Outcome,
    RunContext,
)

START_SECONDS = 60.0  # a worker reads the project and builds its destination
CLOSE_SECONDS = 10.0
STOP_POLL_SECONDS = 0.05


def shares(total: int, workers: int) -> list[int]:
    """``total`` split into ``workers`` whole shares adding up to it (each at least 1)."""
    return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]


def part_of(row_id: str, workers: int) -> int:
    """The worker a row goes to: a hash of its key, the same in every run."""
    return zlib.crc32(row_id.encode()) % workers


@dataclass
class _Process:
    index: int
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    replies: asyncio.Queue[tuple[Any, ...]] = field(default_factory=asyncio.Queue)
    exit_code: int | None = None
    dead: bool = False
    stop_sent: bool = False
    reader: threading.Thread | None = None


class WorkerPool:
    """The worker processes of one run: start, open, send, stop, close (see module doc).

    ``open`` and ``close`` stand in for the destination's own in the run.
    """

    def __init__(self, project: Project, sync_name: str, destination: Destination):
        self.sync_name = sync_name
        self.count = project.sync(sync_name).workers
        self.label = f"{destination.type_name} destination {project.sync(sync_name).destination!r}"
        self._path = project_path(project)
        self._fingerprint = fingerprint(project, sync_name)
        self._concurrency = shares(destination.concurrency(), self.count)
        rate = destination.rate_limit_per_second()
        self._rate = None if rate is None else rate / self.count
        self._processes: list[_Process] = []
        self.on_answers: Callable[[int, list[tuple[Any, ...]]], None] = lambda w, a: None
        self.on_ended: Callable[[int], None] = lambda w: None  # stopped, or died
        self.on_death: Callable[[str], None] = lambda error: None
        self.stopping = False
        self.closing = False

    # -- lifecycle --------------------------------------------------------------------------
    async def open(self, context: RunContext) -> None:
        """Start the workers and open the destination in each (the first one alone first:
        a destination that creates something before sending does it once)."""
        self._start()
        for worker in self._processes:
            reply = await self._reply(worker, "ready", START_SECONDS)
            if reply[1] is not None:
                await self._fail_open(f"{self._name(worker)} {reply[1]}")
        first, *rest = self._processes
        await self._open_in(first, context)
        await asyncio.gather(*(self._open_in(worker, context) for worker in rest))

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        # Blocked while a worker starts, so a Ctrl-C then neither kills it half-started nor
        # is lost here: the worker ignores both once running, this process gets it after.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            for index in range(self.count):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=worker_main,
                    args=(
                        theirs,
                        self._path,
                        self.sync_name,
                        self._fingerprint,
                        self._concurrency[index],
                        self._rate,
                    ),
                    name=f"lightning-sync {self.sync_name} worker {index + 1}",
                    daemon=True,
                )
                process.start()
                theirs.close()
                worker = _Process(index, process, ours)
                self._processes.append(worker)
                worker.reader = threading.Thread(
                    target=self._read, args=(worker, loop), daemon=True
                )
                worker.reader.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    async def _open_in(self, worker: _Process, context: RunContext) -> None:
        self._post(worker, ("open", context))
        reply = await self._reply(worker, "opened", START_SECONDS)
        if reply[1] is not None:
            kind, message = reply[1]
            if kind != "fatal":
                message = f"the {self.label} could not start: {message}"
            await self._fail_open(message)

    async def _fail_open(self, message: str) -> None:
        await self.close()
        raise FatalDestinationError(message)

    async def close(self) -> None:
        """Close the destination in every worker and wait for them to exit (killed after
        ``CLOSE_SECONDS``)."""
        self.closing = True
        alive = [worker for worker in self._processes if not worker.dead]
        for worker in alive:
            self._post(worker, ("close",))
        await asyncio.gather(
            *(self._reply(worker, "closed", CLOSE_SECONDS) for worker in alive),
            return_exceptions=True,
        )
        for worker in self._processes:
            await asyncio.to_thread(worker.process.join, CLOSE_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                await asyncio.to_thread(worker.process.join, CLOSE_SECONDS)
            if worker.reader is not None:
                await asyncio.to_thread(worker.reader.join, CLOSE_SECONDS)
            worker.conn.close()
        self._processes = []

    # -- messages ---------------------------------------------------------------------------
    def send(self, index: int, batches: list[tuple[tuple[int, int], list[DeltaRow]]]) -> bool:
        """Hand batches to worker ``index``; False when it cannot take them."""
        worker = self._processes[index]
        if self.stopping or worker.dead:
            return False
        return self._post(worker, ("batches", batches))

    def stop_all(self) -> None:
        """Ask every worker to start no more batches (each answers ``stopped``)."""
        self.stopping = True
        for worker in self._processes:
            if not worker.dead and not worker.stop_sent:
                worker.stop_sent = True
                self._post(worker, ("stop",))

    def _post(self, worker: _Process, message: tuple[Any, ...]) -> bool:
        try:
            worker.conn.send(message)
        except (OSError, ValueError):  # it died: its reader reports that
            return False
        return True

    async def _reply(self, worker: _Process, kind: str, seconds: float) -> tuple[Any, ...]:
        while True:
            try:
                reply = await asyncio.wait_for(worker.replies.get(), seconds)
            except TimeoutError:
                raise FatalDestinationError(
                    f"{self._name(worker)} did not answer within {seconds:.0f} s"
                ) from None
            if reply[0] == kind:
                return reply
            if reply[0] == "died":
                raise FatalDestinationError(self._death(worker))

    def _read(self, worker: _Process, loop: asyncio.AbstractEventLoop) -> None:
        """Hand a worker's messages to the loop; when its pipe closes, it has exited."""
        while True:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.process.join(CLOSE_SECONDS)
                message = ("died", worker.process.exitcode)
            try:
                loop.call_soon_threadsafe(self._received, worker, message)
            except RuntimeError:  # the run's loop has ended
                return
            if message[0] == "died":
                return

    def _received(self, worker: _Process, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "answers":
            self.on_answers(worker.index, message[1])
            return
        if kind == "died":
            worker.dead, worker.exit_code = True, message[1]
            if not self.closing:
                self.on_death(self._death(worker))
            self.on_ended(worker.index)
        elif kind == "stopped":
            self.on_ended(worker.index)
        worker.replies.put_nowait(message)

    def _name(self, worker: _Process) -> str:
        return f"delivery worker {worker.index + 1} of {self.count} (process {worker.process.pid})"

    def _death(self, worker: _Process) -> str:
        code = worker.exit_code
        how = f"exit code {code}"
        if code is not None and code < 0:
            how += f", killed by {signal.Signals(-code).name}"
        return (
            f"{self._name(worker)} of the {self.label} ended unexpectedly ({how}). The rows it "
            "had not confirmed were recorded as aborted and the next run sends them; the rows "
            "the other workers confirmed stand. Fix: find why it ended (memory, a kill), then "
            "run again."
        )


@dataclass
class _PageParts:
    """One page as handed to the workers: how many of its batches each has not answered."""

    page: _PageInFlight
    waiting: dict[int, int]
    ended: dict[int, asyncio.Future[None]]


class PooledDeliverer(Deliverer):
    """A :class:`Deliverer` whose batches are sent by a :class:`WorkerPool`."""

    def __init__(self, *args: Any, pool: WorkerPool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pool = pool
        self._checks_rows = False  # each worker checks its own rows
        self._pages: dict[int, _PageParts] = {}
        self._page_numbers = itertools.count()

    async def _run(self) -> Any:
        self.pool.on_answers = self._answers
        self.pool.on_ended = self._ended
        self.pool.on_death = lambda error: self._fatal.append(self._error(error))
        watcher = asyncio.ensure_future(self._stop_when_ending())
        try:
            return await super()._run()
        finally:
            watcher.cancel()
            self.pool.on_death = lambda error: None
            self._pages.clear()

    async def _stop_when_ending(self) -> None:
        while not (self._fatal or self.cancel.reason is not None):
            await asyncio.sleep(STOP_POLL_SECONDS)
        self.pool.stop_all()

    def _batches_of(self, rows: list[DeltaRow]) -> list[list[DeltaRow]]:
        parts: list[list[DeltaRow]] = [[] for _ in range(self.pool.count)]
        for row in rows:
            parts[part_of(row.row_id, self.pool.count)].append(row)
        size = max(1, self.destination.batch_size())
        return [batch for part in parts for batch in _batches(part, size)]

    def _start_batches(self, page: _PageInFlight) -> list[asyncio.Future[None]]:
        number = next(self._page_numbers)
        by_worker: dict[int, list[tuple[tuple[int, int], list[DeltaRow]]]] = {}
        for index, batch in enumerate(page.batches):
            worker = part_of(batch[0].row_id, self.pool.count)
            by_worker.setdefault(worker, []).append(((number, index), batch))
        loop = asyncio.get_running_loop()
        parts = _PageParts(page, {}, {})
        for worker, batches in by_worker.items():
            parts.ended[worker] = loop.create_future()
            if self.pool.send(worker, batches):
                parts.waiting[worker] = len(batches)
            else:  # stopping, or it died: never sent, so aborted
                parts.ended[worker].set_result(None)
        if parts.waiting:
            self._pages[number] = parts
        return list(parts.ended.values())

    def _answers(self, worker: int, answers: list[tuple[Any, ...]]) -> None:
        for (number, index), checked, outcomes, fatal, answered in answers:
            parts = self._pages.get(number)
            if parts is None:  # the page was given up (the run is ending)
                continue
            self._answered(parts.page, index, checked, outcomes, fatal, answered)
            parts.waiting[worker] -= 1
            if parts.waiting[worker] == 0:
                self._end(parts, worker)
        if self._fatal:
            self.pool.stop_all()

    def _ended(self, worker: int) -> None:
        """A worker stopped or died: it answers no more of its batches."""
        for parts in self._pages.values():
            self._end(parts, worker)

    def _end(self, parts: _PageParts, worker: int) -> None:
        ended = parts.ended.get(worker)
        if ended is not None and not ended.done():
            ended.set_result(None)
        if all(future.done() for future in parts.ended.values()):
            self._pages = {n: p for n, p in self._pages.items() if p is not parts}

    def _answered(
        self,
        page: _PageInFlight,
        index: int,
        checked: list[tuple[str, str]],
        outcomes: list[Outcome] | None,
        fatal: str | None,
        answered: list[Outcome],
    ) -> None:
        """Account for one batch's answer as :meth:`Deliverer._send` does in-process."""
        batch = page.batches[index]
        if checked:
            reasons = dict(checked)
            for row in batch:
                if row.row_id in reasons:
                    reason = self._reason(reasons[row.row_id])
                    page.failures.append(
                        (row.row_id, row.op_type, "failed", reason, row.match_value)
                    )
            self.report.attempted += len(checked)
            self.report.failed += len(checked)
            batch = [row for row in batch if row.row_id not in reasons]
        if fatal is not None:
            self._fatal.append(self._error(fatal))
            known = {o.row_id for o in answered}
            if known:
                self._account([r for r in batch if r.row_id in known], answered, page.failures)
            page.unanswered[index] = [r for r in batch if r.row_id not in known]
            return
        if outcomes is None:
            self._arrived(batch)
        elif batch:
            self._account(batch, outcomes, page.failures)
        page.done.add(index)
        self.on_progress(len(batch))
