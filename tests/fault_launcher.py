"""Run the ``lightning-sync`` CLI with one fault at one named point of a run.

``python -m tests.fault_launcher run s --project lightning.yml`` is the CLI itself, except
that before it starts, this module wraps a few engine functions and methods so that when
the run reaches the point named by ``LIGHTNING_FAULT_POINT`` (for the
``LIGHTNING_FAULT_COUNT``-th time, default 1) the process does ``LIGHTNING_FAULT_ACTION``
to itself: ``SIGKILL``, ``SIGTERM`` or ``SIGINT`` (``os.kill(os.getpid(), sig)``), or
``drop_connection`` (the warehouse connection is cut from outside, see
:data:`CONNECTION_DROPPERS`). The engine has no test-only branch: the wrappers live here.

Every event is appended to the file ``LIGHTNING_FAULT_TRACE`` (flushed and fsynced before a
signal), one line each: ``run <sync_run_id>`` when the lock is taken, ``fault <point>
<action>`` just before the fault. A test reads it to know the killed run's id and that the
fault happened exactly where it was asked for.

Points, in the order a run reaches them:

=====================  ========================================================
after_lock             ``State.acquire`` returned (the run id is allocated)
after_cleanup          ``State.drop_unkept`` returned (dead runs' tables dropped)
after_plan             ``Planner.build_plan`` returned (inside the plan+diff
                       transaction where the warehouse reads one snapshot)
after_delta            ``Planner.build_delta`` returned (same transaction)
after_diff             ``Planner.plan_and_diff`` returned (plan and delta stored)
mid_delivery           ``Deliverer._account`` returned: a batch was answered
before_rejections      ``Deliverer._record`` is about to write failed rows
after_rejections       ``Deliverer._record`` wrote them
before_abort           ``Deliverer._abort_after`` is about to mark rows aborted
after_abort            ``Deliverer._abort_after`` marked them
after_changelog        the ``sync_changelog`` insert ran (commit transaction)
after_snapshot         the ``sync_snapshot`` insert ran (commit transaction)
before_commit          the commit marker insert (``lightning_commits``) is next
after_runs             the ``sync_runs`` insert ran
before_release         the lock's delete is next (the commit transaction's last statement)
after_release          the lock's delete ran (the transaction not yet committed)
after_commit           the transaction holding the commit marker committed (run tables not
                       yet dropped)
=====================  ========================================================

Statements are matched on the table they write (parsed with sqlglot), through every
registered dialect's ``execute`` and ``transaction``, so a new warehouse's dialect is
covered by adding it to ``dialects.REGISTRY``.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlglot
from sqlglot import exp

from dialects import REGISTRY, dialect_class
from dialects.base import Dialect
from engine.delivery import Deliverer
from engine.planner import Planner
from engine.state import State

POINT_ENV = "LIGHTNING_FAULT_POINT"
ACTION_ENV = "LIGHTNING_FAULT_ACTION"
COUNT_ENV = "LIGHTNING_FAULT_COUNT"
TRACE_ENV = "LIGHTNING_FAULT_TRACE"

SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}

# point -> (class, method, "before" | "after"); a rejection write counts only with rows.
METHOD_POINTS: dict[str, tuple[type, str, str]] = {
    "after_lock": (State, "acquire", "after"),
    "after_cleanup": (State, "drop_unkept", "after"),
    "after_plan": (Planner, "build_plan", "after"),
    "after_delta": (Planner, "build_delta", "after"),
    "after_diff": (Planner, "plan_and_diff", "after"),
    "mid_delivery": (Deliverer, "_account", "after"),
    "before_rejections": (Deliverer, "_record", "before"),
    "after_rejections": (Deliverer, "_record", "after"),
    "before_abort": (Deliverer, "_abort_after", "before"),
    "after_abort": (Deliverer, "_abort_after", "after"),
}
# point -> (statement written: kind and table, "before" | "after")
STATEMENT_POINTS: dict[str, tuple[tuple[str, str], str]] = {
    "after_changelog": (("insert", "sync_changelog"), "after"),
    "after_snapshot": (("insert", "sync_snapshot"), "after"),
    "before_commit": (("insert", "lightning_commits"), "before"),
    "after_runs": (("insert", "sync_runs"), "after"),
    "before_release": (("delete", "lightning_locks"), "before"),
    "after_release": (("delete", "lightning_locks"), "after"),
}
COMMIT_WRITE = ("insert", "lightning_commits")
POINTS = (*METHOD_POINTS, *STATEMENT_POINTS, "after_commit")


def _terminate_postgres_backends(dialect: Dialect) -> str:
    """``pg_terminate_backend`` of every engine session on the database, from a new session
    opened with the engine's own connection settings (so the same application name)."""
    import psycopg

    conninfo = dialect._conninfo()  # type: ignore[attr-defined]  # noqa: SLF001
    with psycopg.connect(conninfo, autocommit=True) as con:
        rows = con.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = current_setting('application_name')"
        ).fetchall()
    return f"terminated {sum(1 for (ok,) in rows if ok)} backend(s)"


def _close_duckdb_handle(dialect: Dialect) -> str:
    """DuckDB runs inside the engine's process: there is no server connection to drop.
    What can fail is the engine's handle on the database; it is closed under the engine
    (the delta's read, a cursor of the same handle, goes with it)."""
    dialect._con.close()  # noqa: SLF001 - left set: the next statement fails as a lost one
    return "closed the engine's DuckDB handle"


def _end_snowflake_session(dialect: Dialect) -> str:
    """The engine's session is ended on the server, as ``SYSTEM$ABORT_SESSION`` from another
    session would on Snowflake (the emulator has no such function: the session is deleted
    through its REST endpoint, with the engine's own session token). Its open transaction is
    rolled back; the engine's next statement fails as a lost session."""
    import httpx

    settings = dialect.settings  # type: ignore[attr-defined]
    token = dialect._con.rest.token  # type: ignore[attr-defined]  # noqa: SLF001
    answer = httpx.post(
        f"{settings['protocol']}://{settings['host']}:{settings['port']}/session?delete=true",
        headers={"Authorization": f'Snowflake Token="{token}"', "Accept": "application/json"},
        json={},
    )
    ended = answer.status_code == 200 and answer.json().get("success")
    return f"ended {1 if ended else 0} session(s)"


def _abort_bigquery_session(dialect: Dialect) -> str:
    """The engine's BigQuery session is aborted, as ``CALL BQ.ABORT_SESSION('<id>')`` from
    another client would (the emulator takes only the form without an argument, sent in the
    session: here a job carrying the session's id, outside the engine's job count). Its
    temporary tables go with it; the engine's next job in the session fails."""
    from google.cloud import bigquery

    session = dialect._session  # type: ignore[attr-defined]  # noqa: SLF001
    if session is None:
        return "no session to abort yet"
    config = bigquery.QueryJobConfig(
        connection_properties=[bigquery.ConnectionProperty("session_id", session)]
    )
    client = dialect._con  # type: ignore[attr-defined]  # noqa: SLF001
    client.query("CALL BQ.ABORT_SESSION()", job_config=config).result()
    return "aborted 1 session"


def _release_spark_session(dialect: Dialect) -> str:
    """The engine's Spark Connect session is released on the server, as an administrator
    closing it (or Databricks expiring it) would: the engine's next statement fails with
    ``INVALID_HANDLE.SESSION_CLOSED``."""
    session = dialect.con.session  # type: ignore[attr-defined]
    session.client.release_session()
    return "released 1 session"


# How to drop a warehouse's connection from outside the engine, per dialect name. A dialect
# without an entry fails the connection cases with a message saying what to add here.
CONNECTION_DROPPERS: dict[str, Callable[[Dialect], str]] = {
    "postgres": _terminate_postgres_backends,
    "duckdb": _close_duckdb_handle,
    "snowflake": _end_snowflake_session,
    "bigquery": _abort_bigquery_session,
    "spark": _release_spark_session,
}


class Fault:
    """The one fault of this process: where, what, and how many passes before it fires."""

    def __init__(self, point: str, action: str, count: int, trace: str | None):
        if point not in POINTS:
            raise SystemExit(f"{POINT_ENV}={point!r}: not one of {', '.join(POINTS)}")
        if action not in SIGNALS and action != "drop_connection":
            raise SystemExit(f"{ACTION_ENV}={action!r}: a signal name or drop_connection")
        self.point = point
        self.action = action
        self.left = count
        self.trace = trace
        self.dialect: Dialect | None = None
        self.commit_marker_written = False

    def log(self, line: str) -> None:
        """Append a line to the trace file, on disk before anything else happens."""
        if not self.trace:
            return
        with open(self.trace, "a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())

    def reached(self, point: str) -> None:
        """Called at every point; fires at the chosen one's ``count``-th pass."""
        if point != self.point or self.left <= 0:
            return
        self.left -= 1
        if self.left:
            return
        if self.action == "drop_connection":
            self.log(f"fault {point} {self.action}")
            assert self.dialect is not None, "no warehouse connection yet"
            dropper = CONNECTION_DROPPERS.get(self.dialect.name)
            if dropper is None:
                raise SystemExit(
                    f"no way to drop a {self.dialect.name} connection: add one to "
                    "tests.fault_launcher.CONNECTION_DROPPERS"
                )
            self.log(f"dropped {dropper(self.dialect)}")
            return
        self.log(f"fault {point} {self.action}")
        os.kill(os.getpid(), SIGNALS[self.action])


def _wrap_method(fault: Fault, point: str, cls: type, name: str, when: str) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        rows = args[0] if name == "_record" and args else None
        writes = name != "_record" or bool(rows)  # a rejection write with rows to write
        if when == "before" and writes:
            fault.reached(point)
        result = original(self, *args, **kwargs)
        if when == "after" and writes:
            fault.reached(point)
        return result

    setattr(cls, name, wrapper)


def written_table(sql: str, sqlglot_dialect: str) -> tuple[str, str] | None:
    """("insert" or "delete", the table written, lower-case) of an INSERT or a DELETE, or
    None for other statements."""
    try:
        tree = sqlglot.parse_one(sql, read=sqlglot_dialect)
    except sqlglot.errors.ParseError:
        return None
    if not isinstance(tree, exp.Insert | exp.Delete):
        return None
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(target, exp.Table):
        return None
    return ("insert" if isinstance(tree, exp.Insert) else "delete", target.name.lower())


def _wrap_dialect(fault: Fault, cls: type[Dialect]) -> None:
    """Watch a dialect's statements (matched on the table they write) and transactions."""
    by_write: dict[tuple[str, str], dict[str, str]] = {}
    for point, (write, when) in STATEMENT_POINTS.items():
        by_write.setdefault(write, {})[when] = point
    connect, execute, transaction = cls.connect, cls.execute, cls.transaction

    @functools.wraps(connect)
    def connect_wrapper(self: Dialect) -> None:
        connect(self)
        fault.dialect = self

    @functools.wraps(execute)
    def execute_wrapper(self: Dialect, sql: str, params: dict[str, Any] | None = None) -> None:
        upper = sql.upper()
        writes = "INSERT" in upper or "DELETE" in upper
        write = written_table(sql, self.sqlglot_dialect) if writes else None
        points = by_write.get(write, {}) if write else {}
        if "before" in points:
            fault.reached(points["before"])
        execute(self, sql, params)
        if write == COMMIT_WRITE:
            fault.commit_marker_written = True
        if "after" in points:
            fault.reached(points["after"])

    @contextmanager
    def transaction_wrapper(self: Dialect) -> Iterator[None]:
        fault.commit_marker_written = False
        with transaction(self):
            yield
        if fault.commit_marker_written:
            fault.commit_marker_written = False
            fault.reached("after_commit")

    cls.connect = connect_wrapper  # type: ignore[method-assign]
    cls.execute = execute_wrapper  # type: ignore[method-assign]
    cls.transaction = transaction_wrapper  # type: ignore[method-assign]


def install(fault: Fault) -> None:
    """Wrap the engine's functions for this fault (and record every run id)."""
    acquire = State.acquire

    @functools.wraps(acquire)
    def acquire_and_log(self: State, sync_name: str) -> int:
        run_id = acquire(self, sync_name)
        fault.log(f"run {run_id}")
        return run_id

    State.acquire = acquire_and_log  # type: ignore[method-assign]
    for point, (cls, name, when) in METHOD_POINTS.items():
        if point == fault.point:  # around the logging wrapper: after_lock logs the id first
            _wrap_method(fault, point, cls, name, when)
    for name in REGISTRY:
        _wrap_dialect(fault, dialect_class(name))


def main() -> None:
    """Install the fault from the environment, then run the CLI with this argv."""
    fault = Fault(
        os.environ[POINT_ENV],
        os.environ.get(ACTION_ENV, "SIGKILL"),
        int(os.environ.get(COUNT_ENV, "1")),
        os.environ.get(TRACE_ENV),
    )
    install(fault)
    from engine.cli import app

    sys.exit(app(prog_name="lightning-sync"))


if __name__ == "__main__":
    main()
