"""What a warehouse can do, declared as data: the engine reads it, never a warehouse's name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """What a warehouse can do, declared as data (read by the engine, never by name).

    Attributes:
        transactions: multi-statement transactions that can hold DDL and DML together.
            Without them the engine orders its writes so that a crash between two of
            them can never leave a claim of success behind.
        temp_tables: session temporary tables (used for the run's stage).
        merge: ``MERGE`` is available.
        delete: ``DELETE`` is available (Spark without Delta has neither).
        identifier_case: how the warehouse folds *unquoted* identifiers; the engine always
            quotes, and uses this to name the objects users will query unquoted.
        max_string_bytes: the longest string a column holds, or None for no practical limit;
            sync-log ``fields`` are truncated to it (only in the log).
        requires_location: queries run as jobs in a location (BigQuery).
        snapshot_rereads: statements inside one transaction read the same snapshot, so the
            planner can read the model twice (plan, then the delta's fields) instead of
            copying it into a stage first.
        ddl_commits: DDL commits the open transaction implicitly (Snowflake), so a
            transaction may hold only DML: the model is always staged (its plan is DDL), and
            the commit transaction holds only inserts and deletes.
        read_only_sessions: a connection can be made read-only, so the warehouse itself
            refuses what a query writes through a function (``lightning-sync sql``); without
            it the functions with side effects the dialect lists are refused before running.
        single_writer: one process at a time can write the warehouse (a DuckDB file), so
            two runs can never take a sync's lock at once.
        drop_many: one ``DROP TABLE`` statement can drop several tables.
        bills_per_table: a query is billed a minimum per table it names (BigQuery's
            on-demand 10 MB) while the catalog is read for free (BigQuery's API): the lock
            read does not name the sync-log tables to learn that they exist; the catalog is
            read before it instead (engine/warehouse.py, ``lock_sync``).
    """

    transactions: bool
    temp_tables: bool
    merge: bool
    delete: bool
    identifier_case: str = "preserve"  # preserve | lower | upper
    max_string_bytes: int | None = None
    requires_location: bool = False
    snapshot_rereads: bool = False
    ddl_commits: bool = False
    read_only_sessions: bool = True
    single_writer: bool = False
    drop_many: bool = False
    bills_per_table: bool = False
