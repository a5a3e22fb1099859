"""The tables one run's planner reads and writes, and the ops a sync acts on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from engine.config import SyncConfig


def acted_ops(sync: SyncConfig) -> dict[str, bool]:
    """Which planned ops this sync sends (SPEC section 3, modes and delete behaviors)."""
    sends_removals = sync.mode == "mirror" and sync.delete_behavior != "do_nothing"
    return {
        "send_added": True,
        "send_changed": sync.mode != "insert",
        "send_removed": sends_removals,
        "resend_unchanged": sync.mode == "all",
    }


@dataclass
class RunTables:
    """The tables one run reads and writes."""

    stage: exp.Expr
    plan: exp.Table
    rejections: exp.Table
    delta: exp.Table
    prev_plan: exp.Expr
    prev_rejections: exp.Expr
    unconfirmed: exp.Expr
    match_rejects: exp.Expr

    def as_dict(self) -> dict[str, exp.Expr]:
        """For template substitution."""
        return {
            "stage": self.stage,
            "plan": self.plan,
            "rejections": self.rejections,
            "delta": self.delta,
            "prev_plan": self.prev_plan,
            "prev_rejections": self.prev_rejections,
            "unconfirmed": self.unconfirmed,
            "match_rejects": self.match_rejects,
        }
