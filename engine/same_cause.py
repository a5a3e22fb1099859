"""Telling a broken destination setup from rows the destination refused.

A wrong base URL, a refused connection, a TLS failure or a redirect fails every row the same
way, and none of it is about the rows; sending thousands of rows to record the same reason
for each helps no one. The rule: when the first ``SAME_CAUSE_ROWS`` rows a run sends all
fail with one cause that is not about the row (:attr:`~engine.destinations.base.Outcome.cause`,
set by the destination), and no row has succeeded, the run ends as a fatal error with that
reason; rows not yet sent are aborted and retried next run. A run that sends fewer rows,
all failing with one such cause, ends the same way once they are answered. Any success, any
failure about a row, or a second cause turns the watch off for the rest of the run.
"""

from __future__ import annotations

from engine.destinations.base import Outcome

SAME_CAUSE_ROWS = 10


class SameCauseWatch:
    """Watches a run's first answers for one failure that is not about the rows."""

    def __init__(self, destination: str, rows: int = SAME_CAUSE_ROWS):
        self.destination = destination  # e.g. "http destination 'api'"
        self.rows = rows
        self.cause: str | None = None
        self.reason = ""
        self.count = 0
        self.off = False

    def saw_success(self) -> None:
        """A row arrived: the destination works."""
        self.off = True

    def see(self, outcome: Outcome) -> str | None:
        """Count a failed row's outcome; the run's fatal error once the rule holds."""
        if self.off:
            return None
        if outcome.cause is None or (self.cause is not None and outcome.cause != self.cause):
            self.off = True
            return None
        self.cause = outcome.cause
        self.reason = self.reason or (outcome.failure_reason or outcome.cause)
        self.count += 1
        return self.error() if self.count >= self.rows else None

    def at_end(self) -> str | None:
        """After the last row: the fatal error if every row sent failed with one cause."""
        return self.error() if not self.off and self.count > 0 else None

    def error(self) -> str:
        """The fatal error naming the shared reason and the fix."""
        return (
            f"The first {self.count} rows sent to the {self.destination} all failed the same "
            f"way, for a reason that is not about the rows: {self.reason}. Fix: check the "
            "destination's settings (its URL and paths, a redirect's Location, TLS, "
            "credentials) and that it is up, then run again; rows not yet sent were "
            "recorded as aborted and will be retried."
        )
