"""Steps 2-4 of a run, all in SQL: stage the model, build the plan, validate keys, diff.

Design (measured in ``bench/``): the model is read into a stage, or, where one transaction
reads one snapshot (DuckDB), read twice in that transaction instead; the persisted plan
keeps only (row_id, row_hash, match_value, copies), one row per key, made by one GROUP BY
that also finds NULL and duplicated keys; the delta is a FULL OUTER JOIN of the plan with the
last committed plan and rejections, and only the delta's rows are joined back to the stage
for their fields.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from dialects.base import Dialect
from dialects.errors import WarehouseError
from engine.changed_fields import no_changed_fields
from engine.config import SyncConfig
from engine.delta_queries import DeltaQueries
from engine.model import BoundModel
from engine.run_tables import RunTables, acted_ops
from engine.sql import SqlRenderer, quoted_column
from engine.state import Commit, State, run_table_name

ALL_OPS = ("added", "changed", "removed")


class DuplicateKeysError(Exception):
    """Duplicated keys with ``on_duplicate_keys: fail``: the run is refused before sending."""


@dataclass(frozen=True)
class KeyStats:
    """What key validation found."""

    null_key_rows: int = 0
    duplicate_keys: int = 0
    duplicate_rows: int = 0
    duplicate_sample: tuple[str, ...] = ()


class Planner:
    """Builds one run's stage, plan, rejections table and delta."""

    def __init__(
        self,
        dialect: Dialect,
        renderer: SqlRenderer,
        state: State,
        sync_name: str,
        sync: SyncConfig,
        model: BoundModel,
        run_id: int,
    ):
        self.dialect = dialect
        self.sql = renderer
        self.state = state
        self.sync_name = sync_name
        self.sync = sync
        self.model = model
        self.run_id = run_id
        self.timings: dict[str, float] = {}
        self.keys = KeyStats()
        # Planned ops rejected before sending (duplicated keys), by op; set by build_delta.
        self.rejected_before_send = dict.fromkeys(ALL_OPS, 0)
        self.key_as_text = not model.integer_key(dialect)
        self.queries = DeltaQueries(dialect, renderer, model, sync)
        # send: changed_fields: the field groups, and whether the baseline holds their hashes.
        self.changed_fields = self.queries.changed_fields
        self.baseline_field_hashes = False
        # Copy the model into a stage, or read it twice inside one transaction (measured in
        # bench/: on DuckDB the copy costs more than the second, filtered read).
        setting = dialect.settings.get("stage_model")
        self.staged = (
            (not dialect.capabilities.snapshot_rereads) if setting is None else bool(setting)
        ) or dialect.capabilities.ddl_commits  # re-reading needs DDL inside a transaction
        stage = (
            exp.Table(this=exp.to_identifier(f"lightning_stage_{run_id}", quoted=True))
            if dialect.capabilities.temp_tables
            else state.planner_table(run_table_name(sync_name, run_id, "stage"))
        )
        plan = state.planner_table(run_table_name(sync_name, run_id, "plan"))
        # An empty relation typed as the rejections table (the tables' defaults, below).
        self.no_rejections = renderer.parsed(renderer.one("no_rejections", {"plan": plan}))
        self.tables = RunTables(
            stage=stage,
            plan=plan,
            rejections=state.planner_table(run_table_name(sync_name, run_id, "rejections")),
            delta=state.planner_table(run_table_name(sync_name, run_id, "delta")),
            prev_plan=exp.select("*").from_(plan.copy()).where(exp.false()),
            prev_rejections=self.no_rejections.copy(),
            unconfirmed=self.no_rejections.copy(),
            match_rejects=exp.select(
                quoted_column("row_id"),
                exp.alias_(exp.cast(exp.Null(), exp.DataType.build("text")), "reason"),
            )
            .from_(plan.copy())
            .where(exp.false()),
        )

    @contextmanager
    def _timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started

    def _run(
        self,
        template: str,
        params: dict[str, Any] | None = None,
        extra_tables: dict[str, exp.Expr] | None = None,
        **kw: Any,
    ) -> None:
        tables = {**self.tables.as_dict(), **(extra_tables or {})}
        for statement in self.sql.statements(template, tables, **kw):
            self.dialect.execute(statement, params)

    def _fetch(self, template: str, tables: dict[str, exp.Expr] | None = None) -> list[Any]:
        return self.dialect.fetchall(self.sql.one(template, tables or self.tables.as_dict()))

    # -- steps ------------------------------------------------------------------------------
    def plan_and_diff(
        self, diff: bool = True, resend_unchanged: bool = False
    ) -> tuple[KeyStats, dict[str, int]]:
        """Steps 2-4: plan, validate keys and (unless ``diff`` is False) build the delta.

        Without a stage, the model is read twice (plan, then the delta's fields) inside one
        transaction, so both reads see the same snapshot.
        """
        if self.staged:
            return self._plan_and_diff(diff, resend_unchanged)
        with self.dialect.transaction():
            return self._plan_and_diff(diff, resend_unchanged)

    def _plan_and_diff(self, diff: bool, resend_unchanged: bool) -> tuple[KeyStats, dict[str, int]]:
        self.build_plan()
        if diff:
            planned = self.build_delta(resend_unchanged)
            return self.keys, planned
        with self._timed("keys"):
            self.check_keys(self._fetch("key_stats")[0])
        with self._timed("plan"):
            self._run("rejections_table", extra_tables={"no_rejections": self.no_rejections})
        return self.keys, dict.fromkeys(ALL_OPS, 0)

    def stage_query(self) -> exp.Expr:
        """The model's rows with row_id, hash and match value (see stage_query.sql)."""
        sql = self.sql.one(
            "stage_query",
            {"model": self.model.query},
            {
                "row_id": self.model.row_id_expression(self.dialect, as_text=self.key_as_text),
                "row_hash": self.model.hash_expression(self.dialect),
                "match_value": self.model.match_expression(self.dialect),
                "stage_columns": self.model.stage_select(),
            },
        )
        return self.sql.parsed(sql)

    def model_read_sql(self) -> str:
        """The query reading the model's rows as the run does (to estimate what it scans)."""
        return self.stage_query().sql(dialect=self.dialect.sqlglot_dialect)

    def build_plan(self) -> None:
        """Stage the model (or not) and build the plan table (step 2; :meth:`check_keys`)."""
        try:
            if self.staged:
                with self._timed("stage"):
                    self._run(
                        "stage",
                        extra_tables={"stage_query": self.stage_query()},
                        temporary=self.dialect.capabilities.temp_tables,
                    )
            else:
                self.tables.stage = self.stage_query()
            with self._timed("plan"):
                field_hashes = (
                    self.changed_fields.plan_hashes(self.dialect) if self.changed_fields else []
                )
                statistics = self.dialect.statistics_statement(self.tables.plan)
                with self.dialect.batch():  # the plan and its statistics in one request
                    self._run("plan", exprs={**no_changed_fields(), "field_hashes": field_hashes})
                    if statistics is not None:
                        self.dialect.execute(statistics)
        except Exception as error:  # noqa: BLE001 - the model's own SQL failed on its rows
            if not self.dialect.is_driver_error(error):
                raise
            wrapped = self.dialect.wrap(error, f"models.{self.model.name}")
            raise WarehouseError(
                f"{wrapped} (while reading the model's rows). Fix the model's SQL (run it "
                "in your warehouse's console to see the full error).",
                wrapped.kind,
                error,
            ) from error

    def check_keys(self, key_stats: Sequence[Any]) -> None:
        """Step 3 on key_stats.sql's row: a sample of the duplicated keys, the NULL-key group
        out of the plan (no baseline holds it), and the refusal the sync may ask for."""
        null_rows, dup_keys, dup_rows = (int(value) for value in key_stats)
        sample: tuple[str, ...] = ()
        if dup_keys:
            sample = tuple(str(r[0]) for r in self._fetch("duplicate_sample"))
        if null_rows:
            self._run("plan_drop_null_key")
        stats = self.keys = KeyStats(null_rows, dup_keys, dup_rows, sample)
        if stats.duplicate_keys and self.sync.on_duplicate_keys == "fail":
            raise DuplicateKeysError(
                f"Model {self.model.name!r} has {stats.duplicate_keys} primary key value(s) "
                f"appearing more than once ({stats.duplicate_rows} rows), e.g. "
                f"{', '.join(repr(k) for k in stats.duplicate_sample)}. Nothing was sent. "
                f"Fix the model so {', '.join(self.model.key_columns)} is unique, or set "
                f"on_duplicate_keys: reject on sync {self.sync_name!r} to reject only those rows."
            )

    def use_baseline(self, baseline: Commit | None, unconfirmed: list[str] | None = None) -> None:
        """Diff against this committed run (None: no baseline, every row is added), and look
        again at every key of ``unconfirmed``: the delta tables of runs that died after
        planning, since the baseline (their sends may have reached the destination).

        Call before :meth:`build_plan`: it decides how this run stores its key. An integer
        key stays an integer unless the baseline (or a dead run) stored it as text (then this
        run uses text too); a key stored as an integer is read as text when this run needs
        text.
        """
        self.key_as_text = not self.model.integer_key(self.dialect)
        dead = [self.state.planner_table(name) for name in unconfirmed or []]
        integer_keys = {id(t): self._stores_integer_key(t, "_lightning_row_id") for t in dead}
        if not all(integer_keys.values()):
            self.key_as_text = True
        if baseline is not None:
            prev_plan = self.state.planner_table(baseline.plan_table)
            prev_rejections = self.state.planner_table(baseline.rejections_table)
            prev_is_integer = self._stores_integer_key(prev_plan, "row_id")
            if not prev_is_integer:
                self.key_as_text = True
            if self.changed_fields is not None:
                stored = [name for name, _ in self.state.stored_columns(prev_plan)]
                # A baseline read as text (its key's type changed) keeps no field hashes.
                self.baseline_field_hashes = self.changed_fields.stored_in(stored) and not (
                    prev_is_integer and self.key_as_text
                )
            self.tables.prev_plan = prev_plan
            self.tables.prev_rejections = prev_rejections
            if prev_is_integer and self.key_as_text:
                tables = {"prev_plan": prev_plan, "prev_rejections": prev_rejections}
                self.tables.prev_plan = self.sql.parsed(self.sql.one("baseline_as_text", tables))
                self.tables.prev_rejections = self.sql.parsed(
                    self.sql.one("rejections_as_text", tables)
                )
        if dead:
            self.tables.unconfirmed = self._unconfirmed_keys(dead, integer_keys)

    def _stores_integer_key(self, stored: exp.Table, column: str) -> bool:
        types = {name.lower(): kind for name, kind in self.state.stored_columns(stored)}
        return self.dialect.is_integer_type(types.get(column.lower(), ""))

    def _unconfirmed_keys(self, dead: list[exp.Table], integer_keys: dict[int, bool]) -> exp.Expr:
        """One query over the dead runs' planned keys (row_id, op_type, match_value)."""
        parts: list[exp.Expr] = []
        for table in dead:
            row_id: exp.Expr = quoted_column("_lightning_row_id")
            if integer_keys[id(table)] and self.key_as_text:
                row_id = exp.cast(row_id, exp.DataType.build("text"))
            sql = self.sql.one(
                "unconfirmed_keys", {"dead_delta": table}, {"unconfirmed_row_id": row_id}
            )
            parts.append(self.sql.parsed(sql))
        return parts[0] if len(parts) == 1 else exp.union(*parts, distinct=False)

    def build_delta(self, resend_unchanged: bool = False) -> dict[str, int]:
        """Diff into the delta table (step 4), create the run's rejections table with the rows
        rejected before sending, and check the keys (step 3) with the planned counts, which
        it returns by op."""
        params = acted_ops(self.sync)
        params["resend_unchanged"] = params["resend_unchanged"] or resend_unchanged
        with self._timed("diff"):
            if self.model.match_column is not None:
                self.tables.match_rejects = self.sql.parsed(
                    self.sql.one("match_rejects", self.tables.as_dict(), self.match_reasons())
                )
            exprs: dict[str, Any] = {
                **no_changed_fields(),
                "model_columns": self.model.stored_columns,
            }
            if self.changed_fields is not None:
                comparable = self.baseline_field_hashes and not params["resend_unchanged"]
                exprs |= self.changed_fields.delta_exprs(comparable)
            self._run("delta", params, exprs=exprs)
            self._run("rejections_from_delta")  # the run's rejections table
            planned = {op: 0 for op in ALL_OPS}
            self.rejected_before_send = {op: 0 for op in ALL_OPS}
            tables = {**self.tables.as_dict(), "key_stats": self.key_stats_query()}
            key_row: Sequence[Any] = ()  # always one (an aggregate)
            for part, op, count, rejected, duplicate_rows in self._fetch("delta_counts", tables):
                if part == "keys":
                    key_row = (count, rejected, duplicate_rows)
                else:
                    planned[str(op)] = int(count)
                    self.rejected_before_send[str(op)] = int(rejected)
        with self._timed("keys"):
            try:
                self.check_keys(key_row)
            except DuplicateKeysError:
                self.state.drop_tables([self.tables.delta])  # unsent: not to be looked at again
                raise
        if self.keys.duplicate_keys:
            with self._timed("diff"):
                self.fill_duplicate_fields()
        return planned

    def key_stats_query(self) -> exp.Expr:
        """The plan's key check (key_stats.sql), as a table delta_counts.sql reads along."""
        return self.sql.parsed(self.sql.one("key_stats", self.tables.as_dict()))

    def match_reasons(self) -> dict[str, exp.Expr]:
        """Why a key's match value fails its row (see match_rejects.sql)."""
        reason = f"match column {self.model.match_column!r} is not unique (another key has it)"
        return {"duplicate_reason": exp.Literal.string(reason)}

    def fill_duplicate_fields(self) -> None:
        """Give each rejected duplicated key in the delta one copy's model values (see
        duplicate_first_copies.sql), for its sync-log ``fields``; nothing of it is sent."""
        copies = self.sql.one(
            "duplicate_first_copies",
            self.tables.as_dict(),
            {"fields_json": self.fields_json("s", removed_aware=False)},
        )
        delta = self.tables.delta.copy()
        delta.set("alias", exp.TableAlias(this=exp.to_identifier("d", quoted=True)))
        first = exp.Subquery(
            this=self.sql.parsed(copies),
            alias=exp.TableAlias(this=exp.to_identifier("f", quoted=True)),
        )
        row_id = "_lightning_row_id"
        reason = quoted_column("_lightning_reject_reason", "d")
        no_reason = exp.Is(this=reason, expression=exp.Null())
        update = exp.update(
            delta,
            {
                quoted_column(column): quoted_column(column, "f")
                for column in self.model.stored_columns
            },
            where=exp.and_(
                exp.EQ(this=quoted_column(row_id, "d"), expression=quoted_column(row_id, "f")),
                exp.Not(this=no_reason),
            ),
            from_=exp.From(this=first),
        )
        self.dialect.execute(self.sql.expression(update))

    def count_rejections(self) -> int:
        """Rows already in this run's rejections table."""
        count = exp.select(exp.func("count", exp.Star())).from_(self.tables.rejections.copy())
        return int(self.dialect.fetchall(self.sql.expression(count))[0][0])

    def fields_json(self, alias: str, removed_aware: bool) -> exp.Expr:
        """JSON of the raw model row (the sync logs' ``fields``)."""
        return self.queries.fields_json(alias, removed_aware)

    def sample(self, limit: int) -> list[tuple[str, str, Any]]:
        """A few delta rows (op, row_id, fields JSON) for ``plan``."""
        sql = self.sql.one(
            "delta_sample", self.tables.as_dict(), {"fields_json": self.fields_json("d", True)}
        )
        return [(r[0], str(r[1]), r[2]) for r in self.dialect.fetchall(sql, {"limit": limit})]

    def payload_json(self, alias: str) -> exp.Expr | None:
        """The mapped fields the warehouse writes as JSON, as one JSON object (text); None
        where it writes none of them (see :meth:`DeltaQueries.payload_json`)."""
        return self.queries.payload_json(alias)

    def stream_sql(self, payload_json: bool = False, read_columns: list[str] | None = None) -> str:
        """The query streaming the delta's rows to send, in a stable order (see
        :meth:`DeltaQueries.stream_sql`)."""
        return self.queries.stream_sql(self.tables.as_dict(), payload_json, read_columns)

    def drop_run_tables(self, keep_committed_pair: bool, keep_delta: bool = False) -> None:
        """Drop the stage (unless temporary) and delta (and the plan and rejections unless
        they are kept).

        ``keep_delta``: the run did not commit and may have sent rows; its delta tells the
        next runs which keys to look at again (see :meth:`use_baseline`).
        """
        self.state.drop_tables(self.run_tables(keep_committed_pair, keep_delta))

    def run_tables(self, keep_committed_pair: bool, keep_delta: bool = False) -> list[exp.Expr]:
        """The tables :meth:`drop_run_tables` drops."""
        names: list[exp.Expr] = [] if keep_delta else [self.tables.delta]
        if self.staged and not self.dialect.capabilities.temp_tables:
            # A session temporary stage goes with the run's connection: no DROP to send.
            names.append(self.tables.stage)
        if not keep_committed_pair:
            names += [self.tables.plan, self.tables.rejections]
        return names
