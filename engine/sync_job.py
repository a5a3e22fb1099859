"""One sync's job: what a run or a dry run of it needs, checked before anything runs (its
destination, model and warehouse), and the checks both make against the baseline."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from engine.config import Project
from engine.destinations import build_destination
from engine.destinations.base import Destination
from engine.model import BoundModel, bind_model
from engine.planner import Planner
from engine.state import State
from engine.warehouse import dialect_for

P = ParamSpec("P")
R = TypeVar("R")


class PrimaryKeyChangedError(Exception):
    """The model's primary key differs from the baseline's; the user must pick a reset."""


class SyncJob:
    """Everything one sync's run or plan needs, checked before anything runs."""

    def __init__(self, project: Project, sync_name: str):
        self.project = project
        self.sync_name = sync_name
        self.sync = project.sync(sync_name)
        self.model_config = project.models[self.sync.model]
        self.destination: Destination = build_destination(project, sync_name)
        self.dialect = dialect_for(project, self.model_config.source)
        self.redactor = project.redactor
        self.dialect.label = f"lightning-sync sync={sync_name}"

    def bind(self) -> BoundModel:
        """Check the model against the warehouse (columns, key, mappings)."""
        return bind_model(
            self.sync.model,
            self.model_config,
            self.sync_name,
            self.sync,
            self.destination.source_columns(),
            self.destination.match_column(),
            self.dialect,
        )

    def planner(self, state: State, model: BoundModel, run_id: int) -> Planner:
        """A planner for one run of this job."""
        return Planner(self.dialect, state.sql, state, self.sync_name, self.sync, model, run_id)

    def check_primary_key(self, state: State, model: BoundModel, resetting: bool) -> None:
        """Refuse a run whose primary key changed unless a reset was asked for."""
        commits = state.committed(self.sync_name)
        if not commits or resetting:
            return
        before = json.loads(commits[0].primary_key)
        if before != model.key_columns:
            raise PrimaryKeyChangedError(
                f"The primary key of model {self.sync.model!r} changed from "
                f"{', '.join(before)} to {', '.join(model.key_columns)} since the last run of "
                f"sync {self.sync_name!r}, so its rows cannot be compared. Pick one: "
                f"`lightning-sync run {self.sync_name} --full-resync` (send every row again) or "
                f"`lightning-sync run {self.sync_name} --reset-cdc` (send nothing, start "
                "tracking from the current rows)."
            )


def redacting(
    function: Callable[Concatenate[Project, P], R],
) -> Callable[Concatenate[Project, P], R]:
    """Any exception leaving ``function(project, ...)`` has the project's secrets redacted."""

    @functools.wraps(function)
    def redacted(project: Project, *args: P.args, **kwargs: P.kwargs) -> R:
        with project.redactor.scrubbing():
            return function(project, *args, **kwargs)

    return redacted


def must_resend(job: SyncJob, state: State, model: BoundModel, baseline: Any) -> bool:
    """Stored hashes are incomparable (new mappings or hash function): resend every row."""
    if baseline is None:
        return False
    return bool(
        baseline.mapping_signature != model.signature(job.sync, job.destination.sent_settings())
        or baseline.hash_version != job.dialect.hash_version()
    )
