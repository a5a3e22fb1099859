"""The engine's state, kept only in the warehouse: schemas, locks, run ids, commits, retention.

- A run counts only once its row in ``hightouch_planner.lightning_commits`` exists (the
  commit marker); the last committed run's plan and rejections are the next run's baseline.
- A sync is locked by a row in ``lightning_locks`` (who holds it, take-overs and run ids:
  :mod:`engine.lock_rows`). Where the warehouse cannot keep two runs from both inserting a
  row in the same instant (Snowflake has no ``LOCK TABLE``), a run claims the lock with one
  conditional insert (lock_claim.sql: no lock row for the sync, and a run id above every one
  seen) and learns from the lock read that follows whether its row went in; a run that
  takes over an abandoned lock inserts its row after that read and reads it back. Where two
  runs' rows are both there, the lowest (run id, owner) keeps the lock and the other run
  withdraws its row and stops.
- Within one run (one ``State``), the sync's commits and its tables in the planner schema
  are read once, with the lock (nothing else changes them while it is held), and kept up to
  date as the run commits and drops tables. The lock read takes the commits along, and the
  tables with their columns where the warehouse has a catalog query for them
  (``Dialect.schema_columns_query``); elsewhere the tables are one more read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from engine.lock_rows import (
    Holder,
    holds,
    lock_holders,
    next_run_id,
    owner_tag,
    race_lost,
    refuse_unless_abandoned,
)
from engine.sql import SqlRenderer, fold_case, table

PLANNER_SCHEMA = "hightouch_planner"
AUDIT_SCHEMA = "hightouch_audit"
KEEP_COMMITTED = 2
# A run's tables in the planner schema; "stage" only where there are no session temporary
# tables (a stage is never kept past its run).
RUN_TABLE_KINDS = ("plan", "rejections", "delta", "stage")
# The tables ensure_schemas makes, by schema.
STATE_TABLES = {
    PLANNER_SCHEMA: ("lightning_commits", "lightning_locks"),
    AUDIT_SCHEMA: ("sync_changelog", "sync_snapshot", "sync_runs"),
}


def utcnow() -> dt.datetime:
    """Now in UTC, naive (the sync logs store UTC timestamps)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Commit:
    """One committed run of a sync (a row of the commit marker table)."""

    sync_run_id: int
    plan_table: str
    rejections_table: str
    primary_key: str
    hash_version: str
    mapping_signature: str


def _commit_from_row(row: Sequence[Any]) -> Commit:
    """A commit from (sync_run_id, plan_table, rejections_table, primary_key, hash_version,
    mapping_signature), as commits_select.sql and lock_state.sql read it."""
    return Commit(int(row[0]), row[1], row[2], row[3], row[4], row[5])


def _run_tables_pattern(sync_name: str) -> str:
    """LIKE pattern of the sync's run tables ("_" matches any character: run_tables filters)."""
    return f"{sync_name.lower()}_%"


def run_table_name(sync_name: str, sync_run_id: int, kind: str) -> str:
    """``<sync>_<run>_<kind>`` (plan, rejections or delta), lower-case."""
    return f"{sync_name.lower()}_{sync_run_id}_{kind}"


class State:
    """Reads and writes the engine's state tables for one dialect."""

    def __init__(self, dialect: Dialect, renderer: SqlRenderer):
        self.dialect = dialect
        self.sql = renderer
        self.commits = table(PLANNER_SCHEMA, "lightning_commits", dialect)
        self.locks = table(PLANNER_SCHEMA, "lightning_locks", dialect)
        self._commits: dict[str, list[Commit]] = {}  # by sync, newest first (see module doc)
        # By sync: its run tables in the planner schema, each with its columns where one
        # catalog read gave them (None: read with table_columns when needed).
        self._run_catalog: dict[str, dict[str, list[tuple[str, str]] | None]] = {}

    def planner_table(self, name: str) -> exp.Table:
        """A table in the planner schema."""
        return table(PLANNER_SCHEMA, name, self.dialect)

    def audit_table(self, name: str) -> exp.Table:
        """A table in the audit schema."""
        return table(AUDIT_SCHEMA, name, self.dialect)

    # -- schemas and tables -----------------------------------------------------------------
    def ensure_schemas(self) -> None:
        """Create both schemas and the state and sync-log tables if missing: one catalog read
        when they all exist (no DDL is sent, not even IF NOT EXISTS)."""
        if self._state_tables_exist():
            return
        existing = set(self.dialect.list_schemas())
        for schema in (PLANNER_SCHEMA, AUDIT_SCHEMA):
            if fold_case(schema, self.dialect) in existing:
                # Not even IF NOT EXISTS: some warehouses check the right to create first.
                continue
            create = exp.Create(
                this=exp.Table(this=exp.to_identifier(fold_case(schema, self.dialect), True)),
                kind="SCHEMA",
                exists=True,
            )
            self.dialect.execute(self.sql.expression(create))
        for statement in self.sql.statements(
            "state_tables", tables={"commits": self.commits, "locks": self.locks}
        ):
            self.dialect.execute(statement)
        for statement in self.sql.statements("audit_tables", tables=self.audit_tables()):
            self.dialect.execute(statement)

    def _state_tables_exist(self) -> bool:
        folded = {fold_case(schema, self.dialect): schema for schema in STATE_TABLES}
        found = self.dialect.schema_tables(list(folded))
        return all(
            {fold_case(name, self.dialect).lower() for name in STATE_TABLES[schema]}
            <= {name.lower() for name in found.get(folded_name, [])}
            for folded_name, schema in folded.items()
        )

    @property
    def lock_read_names_every_table(self) -> bool:
        """Whether the lock read fails when one of the engine's tables is missing (so that a
        steady run reads no catalog to know they exist); not where naming a table in a
        query is billed and the catalog is free to read (``bills_per_table``)."""
        return not self.dialect.capabilities.bills_per_table

    def sync_logs_check(self) -> exp.Expr:
        """The one-row query the lock read joins: sync_logs_check.sql, naming the sync-log
        tables, where :attr:`lock_read_names_every_table`; else a row of no table."""
        if not self.lock_read_names_every_table:
            return exp.select(exp.alias_(exp.Literal.number(0), "logs"))
        return self.sql.parsed(self.sql.one("sync_logs_check", self.audit_tables()))

    def audit_tables(self) -> dict[str, exp.Expr]:
        """The three sync-log tables by template name."""
        return {
            "changelog": self.audit_table("sync_changelog"),
            "snapshot": self.audit_table("sync_snapshot"),
            "runs": self.audit_table("sync_runs"),
        }

    def drop(self, name: str) -> None:
        """Drop a planner-schema table if it exists."""
        self.drop_tables([self.planner_table(name)])

    def drop_tables(self, tables: Sequence[exp.Expr]) -> None:
        """Drop these tables if they exist: in one statement where the warehouse can, else
        one statement each, sent in one request where the warehouse can (Dialect.batch)."""
        groups = [list(tables)] if self.dialect.capabilities.drop_many else [[t] for t in tables]
        with self.dialect.batch():
            for group in groups:
                if group:
                    drop = exp.Drop(tables=[t.copy() for t in group], kind="TABLE", exists=True)
                    self.dialect.execute(self.sql.expression(drop))
        for group in groups:
            for dropped in group:
                for catalog in self._run_catalog.values():
                    for name in [n for n in catalog if n.lower() == dropped.name.lower()]:
                        del catalog[name]

    # -- locks ------------------------------------------------------------------------------
    def acquire(self, sync_name: str) -> int:
        """Lock the sync and allocate its run id, or raise SyncLockedError (see module doc)."""
        tables = self.lock_tables()
        serialize = self.dialect.exclusive_lock(self.locks)
        # Where nothing keeps a second run out (no LOCK TABLE, more than one writer), the
        # run claims the lock before its one read, which then shows whether it got it.
        claims = serialize is None and not self.dialect.capabilities.single_writer
        mine = (next_run_id(0, utcnow()), owner_tag())
        # A transaction only where it can keep a second run out (the table's lock is taken
        # first in it); elsewhere one writer is all there is (DuckDB), or the lock row is
        # read after it is written, and a stop between the statements below leaves at worst
        # the row of a dead process, which the next run takes over.
        with self.dialect.transaction() if serialize is not None else nullcontext():
            if serialize is not None:  # before any read: the read must see the winner's row
                self.dialect.execute(serialize)
            if claims:
                self.dialect.execute(self.sql.one("lock_claim", tables), _lock_row(sync_name, mine))
            try:
                held, largest = self._read_lock_state(sync_name, tables)
            except BaseException:
                if claims:
                    with suppress(Exception):  # the read failed: no lock is kept for it
                        self.release(sync_name, mine[0])
                raise
            if claims and holds(mine, held):
                self._withdraw_if_lost(sync_name, mine, held)
                return mine[0]
            if held:
                refuse_unless_abandoned(sync_name, held[0], utcnow())
                self.dialect.execute(self.sql.one("lock_steal", tables), {"sync_id": sync_name})
            mine = (next_run_id(largest, utcnow()), owner_tag())
            self.dialect.execute(self.sql.one("lock_insert", tables), _lock_row(sync_name, mine))
        if claims:  # read the row back: another run may have inserted one at once
            rows = self.dialect.fetchall(
                self.sql.one("lock_select", tables), {"sync_id": sync_name}
            )
            self._withdraw_if_lost(sync_name, mine, lock_holders(rows))
        return mine[0]

    def lock_tables(self) -> dict[str, exp.Expr]:
        """The tables the lock's templates name: the lock and commit tables, and run_ids.sql
        (the largest run id seen)."""
        tables = {"locks": self.locks, "commits": self.commits}
        return {**tables, "run_ids": self.sql.parsed(self.sql.one("run_ids", tables))}

    def _read_lock_state(
        self, sync_name: str, tables: dict[str, exp.Expr]
    ) -> tuple[list[Holder], int]:
        """The lock read (lock_state.sql): the sync's lock rows and the largest run id seen;
        the sync's commits and run tables come along and are kept (see module doc)."""
        probe = {"hash_probe": self.dialect.hash_probe_value()}
        catalog = self._catalog_query(sync_name)
        read = {
            **tables,
            "sync_logs": self.sync_logs_check(),
            "run_catalog": self._run_catalog_read(catalog),
        }
        rows = self.dialect.fetchall(
            self.sql.one("lock_state", read, probe), {"sync_id": sync_name}
        )
        locks = [row[1:6] for row in rows if row[0] == "lock"]
        self.dialect.note_hash_probe(locks[0][4])
        # The sync's commits come along: the lock holder's baseline (see committed()).
        commits = [_commit_from_row((row[1], *row[6:])) for row in rows if row[0] == "commit"]
        self._commits[sync_name] = sorted(commits, key=lambda c: c.sync_run_id, reverse=True)
        if catalog is not None:  # the run tables came along too
            columns = [(*row[6:11], row[1]) for row in rows if row[0] == "column"]
            self._run_catalog[sync_name] = {**self.dialect.columns_by_table(columns)}
        return lock_holders(locks), int(locks[0][3] or 0)

    def _withdraw_if_lost(self, sync_name: str, mine: tuple[int, str], held: list[Holder]) -> None:
        """Withdraw this run's lock row and stop if another run inserted one for the sync at
        once with the lower (run id, owner)."""
        lost = race_lost(sync_name, mine, held)
        if lost is not None:
            self.release(sync_name, mine[0])
            raise lost

    def heartbeat(self, sync_name: str, run_id: int) -> None:
        """Keep the lock fresh during a long run."""
        self.dialect.execute(
            self.sql.one("lock_heartbeat", {"locks": self.locks}),
            {"sync_id": sync_name, "sync_run_id": run_id, "now": utcnow()},
        )

    def release(self, sync_name: str, run_id: int) -> None:
        """Release the lock this run holds."""
        self.dialect.execute(*self.release_statement(sync_name, run_id))

    def release_statement(self, sync_name: str, run_id: int) -> tuple[str, dict[str, Any]]:
        """The statement releasing this run's lock (a run that commits sends it last in its
        commit transaction: no round trip of its own)."""
        return (
            self.sql.one("lock_delete", {"locks": self.locks}),
            {"sync_id": sync_name, "sync_run_id": run_id},
        )

    # -- commits ----------------------------------------------------------------------------
    def committed(self, sync_name: str, fresh: bool = False) -> list[Commit]:
        """The sync's committed runs, newest first: read along with the lock (:meth:`acquire`)
        or once per run (call it with the lock held), or from the warehouse again with
        ``fresh``."""
        if fresh or sync_name not in self._commits:
            rows = self.dialect.fetchall(
                self.sql.one("commits_select", {"commits": self.commits}), {"sync_id": sync_name}
            )
            self._commits[sync_name] = [_commit_from_row(r) for r in rows]
        return list(self._commits[sync_name])

    def note_commit(self, sync_name: str, commit: Commit) -> None:
        """This run's commit marker was written (its transaction committed)."""
        self._commits[sync_name] = [commit, *self.committed(sync_name)]

    def commit_statement(self) -> str:
        """The commit marker insert."""
        return self.sql.one("commit_insert", {"commits": self.commits})

    def run_tables(self, sync_name: str) -> dict[int, list[str]]:
        """The sync's run tables in the planner schema, by run id."""
        pattern = re.compile(
            rf"^{re.escape(sync_name.lower())}_(\d+)_({'|'.join(RUN_TABLE_KINDS)})$",
            re.IGNORECASE,
        )
        found: dict[int, list[str]] = {}
        for name in self._sync_catalog(sync_name):
            match = pattern.match(name)
            if match:
                found.setdefault(int(match.group(1)), []).append(name)
        return found

    def _sync_catalog(self, sync_name: str) -> dict[str, list[tuple[str, str]] | None]:
        """The sync's run tables with their columns: read with the lock where the warehouse
        has a catalog query (:meth:`acquire`), else one catalog read per run (call it with the
        lock held); kept up to date by :meth:`drop_tables`."""
        if sync_name not in self._run_catalog:
            schema = fold_case(PLANNER_SCHEMA, self.dialect)
            read = self.dialect.schema_columns(schema, _run_tables_pattern(sync_name))
            self._run_catalog[sync_name] = (
                {**read} if read is not None else dict.fromkeys(self.dialect.list_tables(schema))
            )
        return self._run_catalog[sync_name]

    def _catalog_query(self, sync_name: str) -> exp.Query | None:
        """The query of the sync's run tables' columns (Dialect.schema_columns_query)."""
        schema = fold_case(PLANNER_SCHEMA, self.dialect)
        return self.dialect.schema_columns_query(schema, _run_tables_pattern(sync_name))

    def run_catalog_query(self, sync_name: str) -> exp.Expr:
        """The run catalog the lock read takes along (lock_state.sql's __run_catalog__): the
        dialect's query, or no rows where it has none."""
        return self._run_catalog_read(self._catalog_query(sync_name))

    def _run_catalog_read(self, query: exp.Query | None) -> exp.Expr:
        if query is None:
            return self.sql.parsed(self.sql.one("no_run_catalog"))
        return self.sql.parsed(query.sql(dialect=self.dialect.sqlglot_dialect))

    def stored_columns(self, stored: exp.Table) -> list[tuple[str, str]]:
        """(name, type) of a planner table's columns: from the run's catalog read where it
        holds them, else read now."""
        for catalog in self._run_catalog.values():
            for name, columns in catalog.items():
                if columns and name.lower() == stored.name.lower():
                    return columns
        return self.dialect.table_columns(stored)

    def unconfirmed_deltas(
        self, sync_name: str, current_run: int, commits: list[Commit]
    ) -> dict[int, str]:
        """Delta tables, by run id, of runs that planned after the last commit (``commits``,
        newest first, as :meth:`committed` returns them) and never committed.

        Such a run may have sent any key of its delta before it died, so every later run
        looks at those keys again until one commits (see ``Planner.use_baseline``).
        """
        newest = commits[0].sync_run_id if commits else None
        return {
            run_id: name
            for run_id, names in sorted(self.run_tables(sync_name).items())
            if run_id != current_run and (newest is None or run_id > newest)
            for name in names
            if name.lower().endswith("_delta")
        }

    def drop_unkept(
        self, sync_name: str, current_run: int | None = None, also: Sequence[exp.Expr] = ()
    ) -> list[str]:
        """Drop run tables except the newest committed pairs, the current run's, and the
        deltas of runs that died after the last commit (their keys are not confirmed yet);
        and the tables ``also`` names, with them."""
        commits = self.committed(sync_name)
        newest = commits[0].sync_run_id if commits else None
        keep = {c.sync_run_id for c in commits[:KEEP_COMMITTED]}
        dropped = []
        for run_id, names in self.run_tables(sync_name).items():
            if run_id == current_run:
                continue
            for name in names:
                is_delta = name.lower().endswith("_delta")
                unconfirmed = is_delta and (newest is None or run_id > newest)
                if unconfirmed:
                    continue
                is_stage = name.lower().endswith("_stage")
                if run_id not in keep or is_delta or is_stage:
                    dropped.append(name)
        self.drop_tables([*also, *(self.planner_table(name) for name in dropped)])
        return dropped


def _lock_row(sync_name: str, mine: tuple[int, str]) -> dict[str, Any]:
    """The parameters of lock_claim.sql and lock_insert.sql."""
    return {"sync_id": sync_name, "sync_run_id": mine[0], "owner": mine[1], "now": utcnow()}
