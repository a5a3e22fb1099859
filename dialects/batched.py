"""Several statements in one request, for warehouses whose driver runs a string of statements
separated by semicolons (PostgreSQL's simple query protocol, DuckDB): the statements of a
``batch()`` or ``transaction()`` block whose results nothing reads are kept and sent with the
block's next read, or at the block's end, so a transaction of writes, BEGIN and COMMIT
included, is one round trip. Such a string carries no parameters: the dialect writes each
value in as a literal (``_bind``); a statement it cannot write so is sent on its own, after
what is kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class BatchedRequests:
    """A mixin for :class:`dialects.base.Dialect` (listed before it); the dialect gives
    ``_bind``, ``_run``, ``_send_many``, ``_rollback`` and ``begin_statement``."""

    begin_statement = "BEGIN TRANSACTION"
    _pending: list[str] | None = None  # an open block's statements, not sent yet

    count_statement: Callable[[], None]  # Dialect's

    def _bind(self, sql: str, params: dict[str, Any] | None) -> str | None:
        """The statement with its parameters as literals (None: it cannot be written so)."""
        raise NotImplementedError

    def _run(self, sql: str, params: dict[str, Any] | None) -> Any:
        """Run one statement with its parameters; its cursor."""
        raise NotImplementedError

    def _send_many(self, statements: list[str]) -> Any:
        """Run the statements in one request; the cursor of the last one's result."""
        raise NotImplementedError

    def _rollback(self) -> None:
        """Roll back the open transaction, if the server has one."""
        raise NotImplementedError

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        if self._pending is not None:
            text = self._bind(sql, params)
            if text is not None:
                self._pending.append(text)
                return
            self._send_pending()  # in order: what was kept goes first
        self.count_statement()
        self._run(sql, params)

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        if self._pending:  # what the block kept goes first, in the same request
            text = self._bind(sql, params)
            if text is not None:
                statements = [*self._pending, text]
                self._pending.clear()
                self.count_statement()
                return list(self._send_many(statements).fetchall())
            self._send_pending()
        self.count_statement()
        return list(self._run(sql, params).fetchall())

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The block's statements, sent in one request with its first read, and what follows
        in one more with the next read or at the block's end (a nested block's end too). If
        the block raises, what it kept is dropped, not sent."""
        outer = self._pending is not None
        pending: list[str] = self._pending if self._pending is not None else []
        self._pending = pending
        start = len(pending)
        try:
            yield
            self._send_pending()
        except BaseException:
            del pending[start:]
            raise
        finally:
            if not outer:
                self._pending = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction whose statements are sent as :meth:`batch` sends them."""
        try:
            with self.batch():
                self.execute(self.begin_statement)
                yield
                self.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _send_pending(self) -> None:
        """Send what the open block kept (before a statement that needs it sent)."""
        if self._pending:
            statements = list(self._pending)
            self._pending.clear()
            self.count_statement()
            self._send_many(statements)
