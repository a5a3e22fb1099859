"""SIGINT and SIGTERM outside delivery: the run stops where it is, cleanly, and says so.

During delivery the event loop owns both signals: the run stops starting requests, records
the rest as aborted and commits (see :mod:`engine.delivery`). Anywhere else in a run,
either signal raises :class:`RunInterrupted` at the point the run has reached: an open
transaction rolls back, the run is recorded as failed unless its commit had landed, its lock
is released, and the CLI prints what happened. Without this, SIGTERM would end the process
on the spot (no message, the lock left to expire) and SIGINT would end it silently.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(BaseException):
    """A run (or a plan) stopped by SIGINT or SIGTERM outside delivery.

    A BaseException, as KeyboardInterrupt is: no ``except Exception`` swallows it.
    ``sync_run_id`` and ``committed`` are filled in by the run that was interrupted.
    """

    def __init__(self, signal_name: str):
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name
        self.sync_name: str | None = None
        self.sync_run_id: int | None = None
        self.committed = False

    def describe(self) -> str:
        """What happened, for the user."""
        if self.sync_run_id is None:
            return (
                f"Interrupted by {self.signal_name} before a run started: nothing was sent or "
                "committed."
            )
        run = f"Run {self.sync_run_id} of sync {self.sync_name!r}"
        if self.committed:
            return (
                f"{run} was interrupted by {self.signal_name} after it committed: its results "
                "stand (see hightouch_audit.sync_runs); the next run finishes its cleanup."
            )
        return (
            f"{run} was interrupted by {self.signal_name} before it committed: it is "
            "recorded as failed, and the next run starts from the last committed run and "
            "sends again whatever this one may have sent."
        )


def _raise(signum: int, frame: Any) -> None:
    raise RunInterrupted(signal.Signals(signum).name)


def saved_handlers() -> dict[signal.Signals, Any]:
    """The current handlers of SIGINT and SIGTERM (to put back with :func:`restore`)."""
    return {sig: signal.getsignal(sig) for sig in HANDLED}


def restore(saved: dict[signal.Signals, Any]) -> None:
    """Put back handlers saved by :func:`saved_handlers` (those set from Python)."""
    for sig, handler in saved.items():
        if handler is not None:
            signal.signal(sig, handler)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise :class:`RunInterrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = saved_handlers()
    for sig in HANDLED:
        signal.signal(sig, _raise)
    try:
        yield
    finally:
        restore(saved)
