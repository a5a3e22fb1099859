"""A sync's warehouse: the dialect of a source (its settings checked), the connection, and
the engine's schemas and tables, created if missing (a privilege problem says which GRANTs
fix it)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager

from dialects import (
    COMMON_SETTINGS,
    PLANNED,
    REGISTRY,
    Dialect,
    ErrorKind,
    WarehouseError,
    dialect_class,
    make_dialect,
)
from engine.config import ConfigError, Project
from engine.sql import SqlRenderer
from engine.state import AUDIT_SCHEMA, PLANNER_SCHEMA, State


class PermissionProblem(Exception):
    """The warehouse user lacks privileges on the engine's schemas."""

    def __init__(self, message: str, grants: list[str]):
        super().__init__(message)
        self.grants = grants


def dialect_for(project: Project, source_name: str) -> Dialect:
    """The (unconnected) dialect of a source, or a ConfigError naming the fix."""
    source = project.sources[source_name]
    if source.type not in REGISTRY:
        if source.type in PLANNED:
            raise ConfigError(
                f"sources.{source_name}.type: {source.type!r} is not supported by this version "
                f"yet. Fix: use one of {', '.join(sorted(REGISTRY))}."
            )
        raise ConfigError(
            f"sources.{source_name}.type: unknown warehouse type {source.type!r}. Fix: use one "
            f"of {', '.join(sorted(REGISTRY))}."
        )
    settings = source.settings()
    known = dialect_class(source.type).setting_names | COMMON_SETTINGS
    for key in sorted(set(settings) - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"sources.{source_name}.{key}: not a setting of a {source.type} source.{hint} "
            f"(settings: {', '.join(sorted(known))})"
        )
    return make_dialect(source.type, settings, project.directory)


@contextmanager
def connected(dialect: Dialect, prepare: bool = True) -> Iterator[State]:
    """Connect, create the engine's schemas and tables if missing, and close at the end.

    With ``prepare=False`` the caller runs :func:`prepare_schemas` (or :func:`lock_sync`)
    itself, after its read-only checks, so a bad model writes nothing to the warehouse.
    """
    dialect.connect()
    try:
        state = State(dialect, SqlRenderer(dialect))
        if prepare:
            prepare_schemas(state)
        yield state
    finally:
        dialect.close()


def prepare_schemas(state: State) -> None:
    """Create the engine's schemas and tables if missing (a privilege problem says how)."""
    try:
        state.ensure_schemas()
    except Exception as error:  # noqa: BLE001 - classified below
        raise schema_error(state.dialect, error) from error


def lock_sync(state: State, sync_name: str) -> int:
    """Lock the sync (its run id, see State.acquire), creating the engine's schemas and tables
    first only when they are missing: the lock read names every one of them, so a steady run
    reads no catalog to know they exist. When that read fails, the schemas are prepared (one
    catalog read; nothing is created when all exist) and the lock is read again: an error
    that was not a missing table comes back from the second read. Where the lock read does
    not name every table (``State.lock_read_names_every_table``), the schemas are prepared
    first."""
    if state.lock_read_names_every_table:
        try:
            return state.acquire(sync_name)
        except Exception as error:
            if not state.dialect.is_driver_error(error):
                raise
    prepare_schemas(state)
    return state.acquire(sync_name)


def schema_error(dialect: Dialect, error: BaseException) -> BaseException:
    if isinstance(error, WarehouseError):
        return error
    kind = dialect.classify_error(error)
    if kind is ErrorKind.PERMISSION:
        grants = dialect.grant_statements(dialect.current_user(), [PLANNER_SCHEMA, AUDIT_SCHEMA])
        return PermissionProblem(
            f"The warehouse user cannot create or write the schemas {PLANNER_SCHEMA} and "
            f"{AUDIT_SCHEMA} on {dialect.describe()}: {str(error).splitlines()[0]}. Fix: run "
            "these statements as an administrator, then run again:\n" + "\n".join(grants),
            grants,
        )
    return dialect.wrap(error, f"Cannot prepare the engine's schemas on {dialect.describe()}")
