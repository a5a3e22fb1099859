"""The destination interface: capabilities declared as data, delivery as one async method.

The runner owns batching, concurrency, rate limiting and bookkeeping; a destination turns a
batch of delta rows into requests and says, for every row, whether it succeeded. A
destination that learns the whole run cannot go on (a rejected token) raises
:class:`FatalDestinationError`; every row not yet attempted is then recorded as aborted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from engine.config import DestinationConfig, SyncConfig

OpType = Literal["added", "changed", "removed"]


class DestinationConfigError(Exception):
    """A destination or sync setting is invalid; the message names it and the fix."""


class FatalDestinationError(Exception):
    """The destination cannot take any more rows this run (the run ends early, cleanly).

    ``outcomes`` holds the rows of the failing batch that were answered before the error
    (a batch split in halves): the runner records them, and aborts only the rest.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.outcomes: list[Outcome] = []


class DestinationAuthError(FatalDestinationError):
    """The destination rejected the credentials (HTTP 401/403)."""


@dataclass(frozen=True)
class Capabilities:
    """What a destination supports, checked against each sync at config load."""

    modes: frozenset[str]
    delete_behaviors: frozenset[str]
    default_batch_size: int = 1
    max_batch_size: int = 1
    default_concurrency: int = 8
    default_rate_limit_per_second: float | None = None
    # The destination sends the mapped fields as one JSON object, read from
    # ``DeltaRow.payload`` (built by the warehouse where it can); ``fields`` is then empty.
    json_payload: bool = False
    # Its rows can be sent from several processes at once (a sync's ``workers``).
    several_processes: bool = True


@dataclass(slots=True)
class DeltaRow:
    """One planned op for one row.

    Attributes:
        row_id: the key as text (composite keys joined, see :mod:`engine.keys`).
        op_type: added, changed or removed.
        fields: the mapped payload (destination field -> value); empty for removals.
        model_row: the model columns the destination declares in ``source_columns`` (a match
            column, an audiences column), by model column name; empty for removals.
        match_value: what addresses the row in the destination (the match column's value,
            or the key), also known for removals.
        payload: for a destination declaring ``json_payload``, the mapped payload as one
            JSON object (UTF-8 bytes) in place of ``fields``; None for removals.
        failure: why the row's mappings could not build its payload (it is failed, not
            sent), or None.
    """

    row_id: str
    op_type: OpType
    fields: dict[str, Any]
    model_row: dict[str, Any]
    match_value: str | None
    payload: bytes | None = None
    failure: str | None = None


@dataclass
class Outcome:
    """What happened to one row: succeeded, or failed with a reason.

    ``cause`` is set when the failure is not about the row (a refused connection, a
    redirect, a route the destination lacks): text equal for every row failing the same
    way, without the row's own identifier. The runner ends a run whose first rows all fail
    with one cause (see :mod:`engine.delivery`).
    """

    row_id: str
    succeeded: bool
    failure_reason: str | None = None
    cause: str | None = None


@dataclass
class RunContext:
    """What a destination may want to know about the run it serves."""

    sync_name: str
    sync_run_id: int
    mode: str
    delete_behavior: str
    mapped_fields: list[str] = field(default_factory=list)
    # The run variables templates see as ``context`` (see engine.mapping_config.VARIABLES).
    variables: dict[str, Any] = field(default_factory=dict)

    def cleared_fields(self) -> dict[str, Any]:
        """Every mapped field null, nested as mapped (``address.city`` clears the city)."""
        cleared: dict[str, Any] = {}
        for target in self.mapped_fields:
            *parents, last = target.split(".")
            level = cleared
            for part in parents:
                level = level.setdefault(part, {})
            level[last] = None
        return cleared


class Destination(ABC):
    """Base class for destinations (one module each under ``engine/destinations``)."""

    type_name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(
        self, config: DestinationConfig, sync: SyncConfig, sync_name: str, project_dir: Path
    ):
        self.config = config
        self.sync = sync
        self.sync_name = sync_name
        self.project_dir = project_dir

    @classmethod
    def check_sync(cls, sync: SyncConfig, sync_name: str) -> None:
        """Reject a sync asking for a mode or delete behavior this destination lacks."""
        caps = cls.capabilities
        if sync.mode not in caps.modes:
            raise DestinationConfigError(
                f"syncs.{sync_name}.mode: the {cls.type_name} destination does not support "
                f"mode {sync.mode!r}. Fix: use one of {', '.join(sorted(caps.modes))}."
            )
        if sync.mode == "mirror" and sync.delete_behavior not in caps.delete_behaviors:
            raise DestinationConfigError(
                f"syncs.{sync_name}.delete_behavior: the {cls.type_name} destination does not "
                f"support {sync.delete_behavior!r}. Fix: use one of "
                f"{', '.join(sorted(caps.delete_behaviors))}."
            )

    def batch_size(self) -> int:
        """Rows per :meth:`deliver` call."""
        return self.capabilities.default_batch_size

    def concurrency(self) -> int:
        """How many :meth:`deliver` calls may run at once."""
        return self.capabilities.default_concurrency

    def rate_limit_per_second(self) -> float | None:
        """At most this many :meth:`deliver` calls start per second (None: no limit)."""
        return self.capabilities.default_rate_limit_per_second

    def match_column(self) -> str | None:
        """The model column that addresses a row in the destination (None: the key)."""
        return None

    def source_columns(self) -> list[tuple[str, str]]:
        """(setting path, model column) read besides the mappings (match, audiences)."""
        return []

    def read_columns(self) -> list[str]:
        """The model columns of :meth:`source_columns`, the ones read besides the mappings."""
        return [column for _, column in self.source_columns()]

    def sent_settings(self) -> dict[str, Any]:
        """Settings that shape what is sent for every row besides its mapped values (a
        static list, a write method). When they change, the next run re-sends every row."""
        return {}

    def changed_fields_problem(self) -> str | None:
        """Why this sync cannot send only the changed fields of a changed row (the rest of
        the sentence after "but", with the fix), or None where its updates are PATCH
        (fields left out keep their values)."""
        return (
            f"the {self.type_name} destination writes whole records. Fix: remove send (or "
            "set send: all_fields)."
        )

    def check_row(self, row: DeltaRow) -> str | None:
        """A reason to fail the row before sending it (a documented limit), or None."""
        return None

    async def open(self, context: RunContext) -> None:  # noqa: B027 - optional hook
        """Prepare for a run (open clients, create missing attributes)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`open` took; called once, also after a fatal error."""

    @abstractmethod
    async def deliver(self, rows: list[DeltaRow]) -> list[Outcome]:
        """Send a batch; return one Outcome per row, or raise FatalDestinationError."""
