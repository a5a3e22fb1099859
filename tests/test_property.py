"""Stateful property test: random model edits, destination failures and runs.

A hypothesis state machine drives one sync (a DuckDB model -> ``http`` destination served by
:class:`HttpSink`; the mirror + delete machine also with its model in PostgreSQL) through
random sequences of:

- model edits: insert, update and delete rows of a table of 0-30 text keys whose values
  include NULLs, empty strings and unicode, plus rows with a NULL key (skipped);
- destination failures: rows refused with 400/422/500, bursts of 429, the token revoked
  part-way through a run (then restored), and a run that crashes before its commit;
- runs, in-process through :func:`engine.run.run_sync`.

After every run it checks the bookkeeping: each ``sync_runs`` row's twelve counters equal
what ``sync_changelog`` says about that run; a run reported as succeeded has a commit; a run
that did not commit wrote no changelog and kept no tables. After a clean run (every failure
cleared) the destination holds the model: for ``upsert`` every model row with the model's
values (keys removed from the model may remain), for ``mirror`` + ``delete`` exactly the
model; and a further run plans nothing.

The destination retries at most twice (``max_attempts: 2``); the 429s carry
``Retry-After: 0``, but a 500 waits out the client's backoff (about a second), so 500s are
injected for one row at a time. ``LIGHTNING_PROPERTY_EXAMPLES=50`` searches longer than the
default 5 examples per mode; ``LIGHTNING_PROPERTY_SHRINK=1`` shrinks a failure (slow).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from engine.config import Project
from engine.run import RunResult, run_sync
from tests.conftest import Workspace, postgres_workspace
from tests.fakes.http_sink import HttpSink

SYNC = "s"
COLLECTION = "users"
OPS = {"added": "add", "changed": "change", "removed": "remove"}

# Keys are text: plain, numeric-looking, unicode, and characters a URL path must escape.
KEYS = [
    *(f"k{i}" for i in range(12)),
    "0",
    "007",
    "ü",
    "日本",
    "e\u0301",
    "😀",
    "a b",
    "a/b",
    "50%",
    "x|y",
    "q?x=1",
    "h#1",
    "+plus",
    "back\\slash",
    "'quote\"",
    "-",
    "ß-ẞ",
    "tab\tkey",
]
assert len(KEYS) == 30 and len(set(KEYS)) == 30

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=6,
)
VALUE = st.one_of(st.none(), st.just(""), TEXT, st.sampled_from(["ünï", "日本語", "😀", " "]))
ROW = st.tuples(VALUE, VALUE)


class CrashBeforeCommit(Exception):
    """Raised from the progress callback: the run dies part-way through delivery."""


class SyncMachine(RuleBasedStateMachine):
    """One sync, its model and its destination (see module doc)."""

    MODE = "upsert"
    DELETE_BEHAVIOR = "do_nothing"
    POSTGRES_DSN: str | None = None  # a server: each example gets a fresh database on it

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="lightning-property-"))
        self._database = ExitStack()
        self.ws: Workspace = (
            self._database.enter_context(postgres_workspace(self.root, self.POSTGRES_DSN))
            if self.POSTGRES_DSN
            else Workspace(self.root)
        )
        self.sink = HttpSink().start()
        self.model: dict[str, tuple[str | None, str | None]] = {}
        self.null_key_rows = 0
        self.ever_keys: set[str] = set()
        self.run_ids: list[int] = []
        self.project: Project | None = None

    # -- setup ------------------------------------------------------------------------------
    @initialize(
        batch_size=st.sampled_from([1, 3]),
        concurrency=st.sampled_from([1, 4]),
        rows=st.dictionaries(st.sampled_from(KEYS), ROW, max_size=30),
    )
    def configure(
        self, batch_size: int, concurrency: int, rows: dict[str, tuple[str | None, str | None]]
    ) -> None:
        path = f"/{COLLECTION}/{{row_id}}" if batch_size == 1 else f"/{COLLECTION}"
        http: dict[str, Any] = {
            "added": {"method": "PUT", "path": path},
            "changed": {"method": "PUT", "path": path},
            "batch_size": batch_size,
            "concurrency": concurrency,
        }
        if self.DELETE_BEHAVIOR == "delete":
            http["removed"] = {"method": "DELETE", "path": path}
        self.ws.simple_project(
            destination={
                "type": "http",
                "base_url": self.sink.url,
                "max_attempts": 2,
                "timeout_seconds": 10,
            },
            sync={
                "mode": self.MODE,
                "delete_behavior": self.DELETE_BEHAVIOR,
                "http": http,
            },
        )
        self.project = self.ws.project()
        self.model.update(rows)
        self.ever_keys.update(rows)
        self._write_model()

    def teardown(self) -> None:
        try:
            if self.project is not None:
                self.clean_run_converges()
        finally:
            self.sink.stop()
            self._database.close()
            shutil.rmtree(self.root, ignore_errors=True)

    # -- model edits ------------------------------------------------------------------------
    def _write_model(self) -> None:
        rows = [(k, e, n) for k, (e, n) in self.model.items()]
        rows += [(None, f"null{i}@x", "no key") for i in range(self.null_key_rows)]
        self.ws.sql("CREATE OR REPLACE TABLE users (id VARCHAR, email VARCHAR, name VARCHAR)")
        if rows:
            self.ws.insert_many("INSERT INTO users VALUES (?, ?, ?)", rows)

    @rule(rows=st.dictionaries(st.sampled_from(KEYS), ROW, min_size=1, max_size=10))
    def upsert_rows(self, rows: dict[str, tuple[str | None, str | None]]) -> None:
        self.model.update(rows)
        self.ever_keys.update(rows)
        self._write_model()

    @rule(picks=st.lists(st.integers(0, 29), min_size=1, max_size=8))
    def delete_rows(self, picks: list[int]) -> None:
        for key in self._known_keys(picks):
            self.model.pop(key, None)
        self._write_model()

    @rule(count=st.integers(0, 2))
    def null_key_rows_(self, count: int) -> None:
        self.null_key_rows = count
        self._write_model()

    # -- destination failures ---------------------------------------------------------------
    def _known_keys(self, picks: list[int]) -> set[str]:
        """Keys the model has or had (the ones a run may send), chosen by index."""
        pool = sorted(self.ever_keys) or KEYS
        return {pool[i % len(pool)] for i in picks}

    @rule(
        picks=st.lists(st.integers(0, 29), min_size=1, max_size=4),
        status=st.sampled_from([400, 422]),
    )
    def refuse_rows(self, picks: list[int], status: int) -> None:
        for key in self._known_keys(picks):
            self.sink.fail_row(key, status, f"refused {key} with {status}")

    @rule(pick=st.integers(0, 29))
    def server_error_on_row(self, pick: int) -> None:
        for key in self._known_keys([pick]):
            self.sink.fail_row(key, 500, f"server error on {key}")

    @rule()
    def accept_all_rows(self) -> None:
        self.sink.fail_rows = {}

    @rule(count=st.integers(1, 6))
    def rate_limit_burst(self, count: int) -> None:
        self.sink.rate_limit_next(count, retry_after=0)

    # -- runs -------------------------------------------------------------------------------
    def _run(self) -> RunResult:
        assert self.project is not None
        result = run_sync(self.project, SYNC)
        self.run_ids.append(result.sync_run_id)
        assert result.committed
        self._check(result)
        return result

    @rule()
    def run(self) -> None:
        result = self._run()
        assert result.status == "succeeded", result.error
        assert result.counters.aborted == 0

    @rule(after=st.integers(0, 8))
    def run_with_revoked_token(self, after: int) -> None:
        self.sink.revoke_after(after)
        try:
            result = self._run()
        finally:
            self.sink.restore_auth()
        if result.status == "failed":
            assert result.error is not None and "rejected the credentials" in result.error
            assert result.counters.aborted >= 1
        else:
            assert result.counters.aborted == 0

    @rule(after_rows=st.integers(0, 6))
    def crash_before_commit(self, after_rows: int) -> None:
        """A run dies part-way through delivery. Any rule may follow (the model may change
        back before the next run): what the dead run sent must still end up right."""
        assert self.project is not None
        before = set(self._logs().runs)
        sent = 0

        def progress(n: int) -> None:
            nonlocal sent
            sent += n
            if sent > after_rows:
                raise CrashBeforeCommit(f"crash after {sent} rows")

        try:
            result = run_sync(self.project, SYNC, on_progress=progress)
        except CrashBeforeCommit:
            logs = self._logs()
            new = [run_id for run_id in logs.runs if run_id not in before]
            assert len(new) == 1, new
            dead = logs.runs[new[0]]
            self.run_ids.append(new[0])
            assert dead["status"] == "failed" and "crash after" in (dead["error"] or "")
            assert all(dead[f"num_{k}_{op}"] == 0 for k in KINDS for op in OPS.values())
            assert new[0] not in logs.commits
            assert new[0] not in logs.changelog
            assert new[0] not in logs.planner_run_ids
            self._check_logs(logs)
        else:
            self.run_ids.append(result.sync_run_id)
            self._check(result)

    @rule()
    def clean_run_converges(self) -> None:
        """With every failure cleared, one run brings the destination to the model."""
        self.sink.clear_failures()
        result = self._run()
        assert result.status == "succeeded", result.error
        assert sum(result.counters.failed.values()) == 0, result.counters
        assert result.counters.aborted == 0
        self._check_destination()
        again = self._run()
        assert sum(again.counters.planned.values()) == 0, again.counters.as_dict()

    # -- checks -----------------------------------------------------------------------------
    def _logs(self) -> Logs:
        """The sync's runs, commits, changelog counts and planner tables (one connection)."""
        logs = Logs()
        ws = self.ws
        schemas = {r[0] for r in ws.query("SELECT schema_name FROM information_schema.schemata")}
        if "hightouch_audit" not in schemas:
            return logs
        for record in ws.records(
            "SELECT * FROM hightouch_audit.sync_runs WHERE sync_id = ? ORDER BY sync_run_id",
            [SYNC],
        ):
            assert record["sync_run_id"] not in logs.runs, "two sync_runs rows for one run"
            logs.runs[record["sync_run_id"]] = record
        logs.commits = [
            r[0]
            for r in ws.query(
                "SELECT sync_run_id FROM hightouch_planner.lightning_commits "
                "WHERE sync_id = ? ORDER BY sync_run_id",
                [SYNC],
            )
        ]
        for run_id, op, status, reason in ws.query(
            "SELECT sync_run_id, op_type, status, failure_reason "
            "FROM hightouch_audit.sync_changelog WHERE sync_id = ?",
            [SYNC],
        ):
            logs.changelog.setdefault(run_id, Counter())[(op, status)] += 1
            assert status in ("succeeded", "failed", "aborted")
            assert (reason is None) == (status == "succeeded"), (status, reason)
            if status == "aborted":
                assert reason.startswith("aborted: ")
        for (name,) in ws.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'hightouch_planner'"
        ):
            parts = name.split("_")
            if len(parts) == 3 and parts[0] == SYNC and parts[1].isdigit():
                kept = logs.delta_run_ids if parts[2] == "delta" else logs.planner_run_ids
                kept.add(int(parts[1]))
        return logs

    def _check(self, result: RunResult) -> None:
        """The run's own report agrees with its ``sync_runs`` row, and the logs agree."""
        logs = self._logs()
        row = logs.runs[result.sync_run_id]
        assert row["status"] == result.status
        for kind in KINDS:
            for op, short in OPS.items():
                assert row[f"num_{kind}_{short}"] == getattr(result.counters, kind)[op]
        self._check_logs(logs)

    def _check_logs(self, logs: Logs) -> None:
        """Counters equal the changelog; success only with a commit; old tables dropped."""
        assert self.run_ids == sorted(self.run_ids), "run ids must increase"
        assert len(set(self.run_ids)) == len(self.run_ids)
        assert sorted(logs.runs) == self.run_ids
        commits = logs.commits
        assert len(commits) == len(set(commits))
        assert set(commits) <= set(logs.runs)
        assert set(logs.changelog) <= set(commits), "changelog rows of a run with no commit"
        for run_id, row in logs.runs.items():
            if row["status"] == "succeeded":
                assert run_id in commits, f"run {run_id} reported succeeded without a commit"
            counts = logs.changelog.get(run_id, Counter())
            for op, short in OPS.items():
                statuses = {s: counts[(op, s)] for s in ("succeeded", "failed", "aborted")}
                where = (run_id, op, statuses)
                assert row[f"num_planned_{short}"] == sum(statuses.values()), where
                attempted = statuses["succeeded"] + statuses["failed"]
                assert row[f"num_attempted_{short}"] == attempted, where
                assert row[f"num_succeeded_{short}"] == statuses["succeeded"], where
                assert row[f"num_failed_{short}"] == statuses["failed"], where
        # Only the two newest committed plan/rejection pairs stay in the planner schema, and
        # the deltas of runs that died since the last commit (their sends are unconfirmed).
        assert logs.planner_run_ids <= set(commits[-2:]), (logs.planner_run_ids, commits)
        newest = commits[-1] if commits else 0
        assert all(run_id > newest for run_id in logs.delta_run_ids), (logs.delta_run_ids, newest)

    def _check_destination(self) -> None:
        stored = self.sink.records.get(COLLECTION, {})
        expected = {k: {"email": e, "name": n} for k, (e, n) in self.model.items()}
        if self.MODE == "mirror" and self.DELETE_BEHAVIOR == "delete":
            assert stored == expected
        else:
            assert {k: stored.get(k) for k in expected} == expected
            assert set(stored) <= self.ever_keys


@dataclass
class Logs:
    """What the warehouse says about the sync's runs."""

    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    commits: list[int] = field(default_factory=list)
    changelog: dict[int, Counter[tuple[str, str]]] = field(default_factory=dict)
    planner_run_ids: set[int] = field(default_factory=set)
    delta_run_ids: set[int] = field(default_factory=set)


KINDS = ("planned", "attempted", "succeeded", "failed")
SETTINGS = settings(
    max_examples=int(os.environ.get("LIGHTNING_PROPERTY_EXAMPLES", "5")),
    stateful_step_count=10,
    deadline=None,
    # Every step runs the engine, so shrinking a failure can take many minutes: by default the
    # failing sequence (at most 10 steps) is reported as found. LIGHTNING_PROPERTY_SHRINK=1
    # shrinks it.
    phases=[
        p for p in Phase if p is not Phase.shrink or os.environ.get("LIGHTNING_PROPERTY_SHRINK")
    ],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class UpsertMachine(SyncMachine):
    """``mode: upsert``: removals are not sent."""

    MODE = "upsert"
    DELETE_BEHAVIOR = "do_nothing"


class MirrorDeleteMachine(SyncMachine):
    """``mode: mirror`` with ``delete_behavior: delete``: the destination mirrors the model."""

    MODE = "mirror"
    DELETE_BEHAVIOR = "delete"


TestUpsert = UpsertMachine.TestCase
TestUpsert.settings = SETTINGS
TestMirrorDelete = MirrorDeleteMachine.TestCase
TestMirrorDelete.settings = SETTINGS


def test_mirror_delete_on_postgres(postgres_dsn: str) -> None:
    """The mirror + delete machine with its model in PostgreSQL."""

    class OnPostgres(MirrorDeleteMachine):
        POSTGRES_DSN = postgres_dsn

    run_state_machine_as_test(OnPostgres, settings=SETTINGS)


def test_batch_cut_short_by_a_revoked_token_keeps_what_arrived(ws: Workspace) -> None:
    """A batch split in halves (one row refused) whose second half meets a revoked token:
    the first half arrived, so it counts as succeeded, and a later removal reaches the
    destination (recorded as aborted ``added``, it would be taken as never sent)."""
    with HttpSink() as sink:
        ws.sql("CREATE TABLE users (id VARCHAR, email VARCHAR, name VARCHAR)")
        ws.sql("INSERT INTO users VALUES ('a', 'a', 'A'), ('b', 'b', 'B'), ('c', 'c', 'C')")
        ws.sql("INSERT INTO users VALUES ('d', 'd', 'D')")
        path = {"method": "PUT", "path": "/users"}
        ws.simple_project(
            destination={"type": "http", "base_url": sink.url, "max_attempts": 2},
            sync={
                "mode": "mirror",
                "delete_behavior": "delete",
                "http": {
                    "batch_size": 4,
                    "concurrency": 1,
                    "added": path,
                    "changed": path,
                    "removed": {"method": "DELETE", "path": "/users"},
                },
            },
        )
        sink.fail_row("d", 400, "refused")
        sink.revoke_after(2)  # the whole batch (400), its first half (ok), then 401
        first = run_sync(ws.project(), SYNC)
        assert first.status == "failed"
        assert set(sink.records[COLLECTION]) == {"a", "b"}
        assert first.counters.succeeded["added"] == 2
        assert first.counters.aborted == 2
        statuses = {r[2]: r[3] for r in ws.changelog()}
        assert statuses == {"a": "succeeded", "b": "succeeded", "c": "aborted", "d": "aborted"}

        sink.clear_failures()
        ws.sql("DELETE FROM users WHERE id IN ('a', 'b')")
        second = run_sync(ws.project(), SYNC)
        assert second.status == "succeeded"
        assert sink.records[COLLECTION] == {
            "c": {"email": "c", "name": "C"},
            "d": {"email": "d", "name": "D"},
        }
