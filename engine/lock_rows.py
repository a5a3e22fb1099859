"""What a run makes of a sync's rows in ``lightning_locks`` (the reads and writes are
:class:`engine.state.State`'s): who holds the lock, whether that holder is gone, which of two
runs that inserted at once keeps it, and the run id a new lock row gets.

- A lock whose process is gone (same host, dead PID) or whose heartbeat is older than
  ``LOCK_TIMEOUT`` is taken over.
- Of two runs whose rows are both there, the lowest (run id, owner) keeps the lock.
- ``sync_run_id`` is max(now in microseconds, the largest id seen + 1): a BIGINT, unique
  across syncs and increasing within a sync.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from typing import Any

LOCK_TIMEOUT = dt.timedelta(minutes=10)

#: (run id, owner, heartbeat) of one lock row.
Holder = tuple[int, str, Any]


class SyncLockedError(Exception):
    """Another run of the same sync holds the lock."""


def owner_tag() -> str:
    """Who holds a lock: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lock_holders(rows: Sequence[Sequence[Any]]) -> list[Holder]:
    """(run id, owner, heartbeat) of the lock rows read (a row of NULLs: none)."""
    return [(int(row[0]), str(row[1]), row[2]) for row in rows if row[0] is not None]


def holds(mine: tuple[int, str], held: list[Holder]) -> bool:
    """Whether this run's row (run id, owner) is among the lock rows read."""
    return mine in [(run_id, owner) for run_id, owner, _ in held]


def next_run_id(largest: int, now: dt.datetime) -> int:
    """A new run's id: ``now`` (naive UTC) in microseconds, above ``largest``."""
    micros = int(now.replace(tzinfo=dt.UTC).timestamp() * 1_000_000)
    return max(micros, largest + 1)


def refuse_unless_abandoned(sync_name: str, holder: Holder, now: dt.datetime) -> None:
    """Raise SyncLockedError unless the lock's holder is gone (a stale heartbeat, or a dead
    process on this host): then the lock may be taken over."""
    run_id, owner, heartbeat = holder
    stale = heartbeat is None or now - heartbeat > LOCK_TIMEOUT
    if stale or _owner_is_dead(owner):
        return
    expires = heartbeat + LOCK_TIMEOUT
    raise SyncLockedError(
        f"Sync {sync_name!r} is already running (run {run_id}, held by {owner} since its "
        f"last heartbeat at {heartbeat:%Y-%m-%d %H:%M:%S} UTC). Wait for it to finish; if "
        f"that process is gone, the lock expires at {expires:%H:%M:%S} UTC."
    )


def race_lost(sync_name: str, mine: tuple[int, str], held: list[Holder]) -> Exception | None:
    """The error for this run when another run's row for the sync is there too and has the
    lower (run id, owner); None when this run keeps the lock."""
    first = min((run_id, owner) for run_id, owner, _ in held) if held else mine
    if first == mine:
        return None
    return SyncLockedError(
        f"Sync {sync_name!r} is already running (run {first[0]}, held by {first[1]}, "
        "which took the lock at the same time). Wait for it to finish."
    )


def _owner_is_dead(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
