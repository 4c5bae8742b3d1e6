"""Django's SQLite backend whose writes go one at a time, in the order they asked, through db.WRITE_LOCK.

SQLite allows one writer per database file. Left to itself, a second writer waits in SQLite's busy handler
(a sleep-and-retry loop that serves nobody in order), and a transaction that read before it wrote fails at
once with `database is locked`, whatever the timeout, when another write got in first. Embedded mode has many
writers in one process (the consumers' database thread, REST views' threads, the in-process kernel host's
ledger, environment builds), so here every transaction starts with BEGIN IMMEDIATE (settings'
`transaction_mode`) after taking the process's write lock, and holds it until it commits or rolls back; a write
outside a transaction takes the lock for its one statement. Readers never wait: the file is in WAL mode.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.sqlite3 import base

from quire.lib.db import WRITE_LOCK

# Statements that never write: they run without the lock.
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "WITH", "BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")


def _writes(sql: str) -> bool:
    return not sql.lstrip().upper().startswith(_READS)


class SerializedCursorWrapper(base.SQLiteCursorWrapper):
    """A cursor whose writes outside a transaction wait their turn like a transaction's."""

    def execute(self, query: str, params: Any = None) -> Any:
        if self.connection.in_transaction or not _writes(query):
            return super().execute(query, params)
        with WRITE_LOCK:
            return super().execute(query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.connection.in_transaction or not _writes(query):
            return super().executemany(query, param_list)
        with WRITE_LOCK:
            return super().executemany(query, param_list)


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=SerializedCursorWrapper)

    def _start_transaction_under_autocommit(self) -> None:
        WRITE_LOCK.acquire()
        self._holds_write_lock = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._release_write_lock()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._release_write_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._release_write_lock()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._release_write_lock(closing=True)

    def _release_write_lock(self, *, closing: bool = False) -> None:
        # A commit that failed leaves the transaction open (Django rolls it back next): the lock stays with it.
        still_open = not closing and self.connection is not None and self.connection.in_transaction
        if self._holds_write_lock and not still_open:
            self._holds_write_lock = False
            WRITE_LOCK.release()
