"""The ``file`` destination: JSON Lines, one file per op per run.

``<path>/<sync>/<sync_run_id>/added.jsonl`` (and ``changed.jsonl``, ``removed.jsonl``; a file
and its folder exist only when there was something to write), each line
``{"row_id": ..., "fields": {...}}``. Removals carry no fields under ``delete`` and every
mapped field set to null under ``clear``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from engine.config import DestinationConfig, SyncConfig
from engine.destinations.base import (
    Capabilities,
    DeltaRow,
    Destination,
    FatalDestinationError,
    Outcome,
    RunContext,
)
from engine.destinations.json_encoding import dumps


class FileDestination(Destination):
    """Writes each run's delta to JSON Lines files (settings: ``path``)."""

    type_name = "file"
    capabilities = Capabilities(
        modes=frozenset({"insert", "update", "upsert", "mirror", "all"}),
        delete_behaviors=frozenset({"do_nothing", "clear", "delete"}),
        default_batch_size=1000,
        max_batch_size=100_000,
        default_concurrency=1,
        json_payload=True,
        several_processes=False,
    )

    def __init__(
        self, config: DestinationConfig, sync: SyncConfig, sync_name: str, project_dir: Path
    ):
        super().__init__(config, sync, sync_name, project_dir)
        raw = Path(str(config.settings().get("path", "out")))
        self.root = raw if raw.is_absolute() else project_dir / raw
        self._files: dict[str, IO[bytes]] = {}
        self._context: RunContext | None = None
        self.run_dir: Path | None = None

    async def open(self, context: RunContext) -> None:
        # The run's folder is created with its first file: a run with nothing to send
        # leaves nothing behind. Whether it could be created is checked now, before a row.
        self._context = context
        self.run_dir = self.root / context.sync_name / str(context.sync_run_id)
        existing = next(p for p in (self.run_dir, *self.run_dir.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            problem = "is not a directory" if not existing.is_dir() else "is not writable"
            raise self._unwritable(f"{existing} {problem}")

    def _unwritable(self, problem: object) -> FatalDestinationError:
        return FatalDestinationError(
            f"The file destination {self.sync.destination!r} cannot write under "
            f"{self.root}: {problem}. Fix `path` under destinations.{self.sync.destination} "
            "(a writable directory, or one that can be created) and run again."
        )

    def _file(self, op: str) -> IO[bytes]:
        if op not in self._files:
            assert self.run_dir is not None, "open() was not called"
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self._files[op] = (self.run_dir / f"{op}.jsonl").open("ab")
            except OSError as error:
                raise self._unwritable(error) from error
        return self._files[op]

    async def deliver(self, rows: list[DeltaRow]) -> list[Outcome]:
        assert self._context is not None, "open() was not called"
        outcomes = []
        for row in rows:
            if row.op_type == "removed":
                cleared = self._context.delete_behavior == "clear"
                fields = dumps(self._context.cleared_fields() if cleared else {})
            else:
                fields = row.payload if row.payload is not None else dumps(row.fields)
            line = b'{"row_id":' + dumps(row.row_id) + b',"fields":' + fields + b"}\n"
            self._file(row.op_type).write(line)
            outcomes.append(Outcome(row.row_id, True))
        return outcomes

    async def close(self) -> None:
        for handle in self._files.values():
            handle.flush()
            handle.close()
        self._files.clear()
