"""Warehouse errors: how the engine reacts to each kind, and a message a user can act on."""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    """How the engine should react to a warehouse error."""

    TRANSIENT = "transient"  # retry the statement: lost connection, throttling, lock conflict
    PERMISSION = "permission"  # print the GRANT statements the user needs
    CONNECTION = "connection"  # cannot reach or log in to the warehouse
    IN_USE = "in_use"  # the warehouse (file) is held by another process
    SQL = "sql"  # the statement is wrong: usually the user's model SQL
    TERMINAL = "terminal"  # anything else


class WarehouseError(Exception):
    """A warehouse error, already classified, with a message a user can act on."""

    def __init__(self, message: str, kind: ErrorKind, original: BaseException | None = None):
        super().__init__(message)
        self.kind = kind
        self.original = original
