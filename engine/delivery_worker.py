"""One delivery process of a sync with ``workers: N`` (the other side of
:mod:`engine.delivery_workers`).

It never touches the warehouse. It reads the project file itself (secrets from ``${ENV}``
resolve from the environment it inherited), builds the sync's destination with its share of
the sync's ``concurrency`` and ``rate_limit_per_second``, opens its own HTTP connections, and
then serves the run's process over one pipe:

- ``("open", RunContext)`` -> ``("opened", None | (kind, message))``;
- ``("batches", [((page, index), rows), ...])``: each batch is checked
  (:meth:`~engine.destinations.base.Destination.check_row`) and sent under the share of the
  concurrency; answers go back in ``("answers", [...])`` messages, gathered for at most
  ``FLUSH_SECONDS`` (at once for a fatal error). An answer is
  ``(key, checked, outcomes, fatal, answered)``: the rows failing their check, the batch's
  outcomes (None: every row arrived), the fatal error that ended it and the outcomes known
  before that. A batch never answered was not sent;
- ``("stop",)``: start no more batches; once the ones in flight are answered, ``("stopped",)``;
- ``("close",)``, or the pipe closing (the run's process died): close the destination, exit.

SIGINT and SIGTERM are ignored (Ctrl-C reaches the whole process group): the run's process
decides, and stops its workers itself. Every failure text passes through the project's
redaction before it leaves the process.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.config import Project
from engine.destinations import build_destination
from engine.destinations.base import (
    DeltaRow,
    Destination,
    FatalDestinationError,
    Outcome,
    RunContext,
)
from engine.project_file import load_project

FLUSH_SECONDS = 0.02
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
Key = tuple[int, int]


def fingerprint(project: Project, sync_name: str) -> str:
    """What a worker must find in the project file to serve the run: the sync's settings
    and its destination's, as the run's process read them (hashed: no secret is sent)."""
    sync = project.sync(sync_name)
    both = [project.destinations[sync.destination].model_dump(), sync.model_dump()]
    return hashlib.sha256(json.dumps(both, sort_keys=True, default=str).encode()).hexdigest()


def with_share(project: Project, sync_name: str, concurrency: int, rate: float | None) -> Project:
    """The project with the sync's limits replaced by one worker's share of them."""
    sync = project.sync(sync_name)
    type_name = project.destinations[sync.destination].type
    block: dict[str, Any] = {**sync.extra_settings(type_name), "concurrency": concurrency}
    if rate is not None:
        block["rate_limit_per_second"] = rate
    shared = sync.model_copy(update={type_name: block, "workers": 1})
    return project.model_copy(update={"syncs": {**project.syncs, sync_name: shared}})


def worker_main(
    conn: Connection,
    project_path: str,
    sync_name: str,
    expected: str,
    concurrency: int,
    rate: float | None,
) -> None:
    """The process's entry point (see module doc)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked while it started
    try:
        project = load_project(project_path)
        if fingerprint(project, sync_name) != expected:
            raise ValueError(
                f"{project_path} changed after the run started (sync {sync_name!r} or its "
                "destination differ). Fix: run again."
            )
        redact = project.redactor.redact
        destination = build_destination(
            with_share(project, sync_name, concurrency, rate), sync_name
        )
    except Exception as error:  # noqa: BLE001 - reported to the run, which ends
        conn.send(("ready", f"could not start: {error}"))
        return
    conn.send(("ready", None))
    # As in the run's own process (engine.delivery.fewer_collections): the objects of a
    # delivery have no cycles, and the collector's walks of the heap would cost most of it.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    asyncio.run(_Worker(conn, destination, redact, concurrency).serve())


class _Worker:
    """Serves the run's process (see module doc)."""

    def __init__(
        self,
        conn: Connection,
        destination: Destination,
        redact: Callable[[str], str],
        concurrency: int,
    ):
        self.conn = conn
        self.destination = destination
        self.redact = redact
        self.concurrency = concurrency
        self.checks_rows = type(destination).check_row is not Destination.check_row
        self.stopping = False
        self.answers: list[tuple[Any, ...]] = []
        self.flush_due: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.semaphore = asyncio.Semaphore(self.concurrency)
        threading.Thread(target=self._read, args=(loop,), daemon=True).start()
        while True:
            message = await self.inbox.get()
            kind = message[0]
            if kind == "open":
                self._post(("opened", await self._open(message[1])))
            elif kind == "batches" and not self.stopping:
                for key, batch in message[1]:
                    task = asyncio.ensure_future(self._send(key, batch))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
            elif kind == "stop":
                self.stopping = True
                await asyncio.gather(*self.tasks, return_exceptions=True)
                self._flush()
                self._post(("stopped",))
            elif kind in ("close", "eof"):
                self.stopping = True
                for task in self.tasks:
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
                try:
                    await self.destination.close()
                finally:
                    if kind == "close":
                        self._flush()
                        self._post(("closed",))
                return

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand every message to the loop; the pipe closing means the run's process is gone."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = ("eof",)
            loop.call_soon_threadsafe(self.inbox.put_nowait, message)
            if message[0] in ("eof", "close"):
                return

    def _post(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):  # the run's process is gone
            self.inbox.put_nowait(("eof",))

    async def _open(self, context: RunContext) -> tuple[str, str] | None:
        try:
            await self.destination.open(context)
        except FatalDestinationError as error:
            return ("fatal", self.redact(str(error)))
        except Exception as error:  # noqa: BLE001 - the run ends early, cleanly
            return ("error", self.redact(repr(error)))
        return None

    async def _send(self, key: Key, batch: list[DeltaRow]) -> None:
        async with self.semaphore:
            if self.stopping:
                return  # never answered: the run records it as aborted
            checked: list[tuple[str, str]] = []
            if self.checks_rows:
                sendable = []
                for row in batch:
                    reason = self.destination.check_row(row)
                    if reason is None:
                        sendable.append(row)
                    else:
                        checked.append((row.row_id, self.redact(reason)))
                batch = sendable
            outcomes: list[Outcome] | None = []
            fatal: str | None = None
            answered: list[Outcome] = []
            if batch:
                try:
                    outcomes = await self.destination.deliver(batch)
                except FatalDestinationError as error:
                    self.stopping = True
                    fatal, outcomes = self.redact(str(error)), []
                    answered = self._redacted(error.outcomes)
                except Exception as error:  # noqa: BLE001 - a destination bug fails the batch
                    text = self.redact(f"destination error: {error!r}")
                    outcomes = [Outcome(r.row_id, False, text) for r in batch]
                if fatal is None and _all_arrived(batch, outcomes):
                    outcomes = None
                elif outcomes:
                    outcomes = self._redacted(outcomes)
            self.answers.append((key, checked, outcomes, fatal, answered))
            if fatal is not None:
                self._flush()
            elif self.flush_due is None:
                self.flush_due = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._flush)

    def _redacted(self, outcomes: list[Outcome]) -> list[Outcome]:
        for outcome in outcomes:
            if outcome.failure_reason is not None:
                outcome.failure_reason = self.redact(outcome.failure_reason)
        return outcomes

    def _flush(self) -> None:
        if self.flush_due is not None:
            self.flush_due.cancel()
            self.flush_due = None
        if self.answers:
            answers, self.answers = self.answers, []
            self._post(("answers", answers))


def _all_arrived(batch: list[DeltaRow], outcomes: list[Outcome]) -> bool:
    return len(outcomes) == len(batch) and all(
        o.succeeded and o.row_id == row.row_id for o, row in zip(outcomes, batch, strict=True)
    )


def project_path(project: Project) -> str:
    """The project file a worker reads (the one the run's process read)."""
    return str(Path(project.path).resolve())
