"""Database helpers shared by the services: commits that need not wait for the disk, reads on a hot path,
and embedded mode's one ordered writer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.db import connection


def relax_commit() -> None:
    """Inside a transaction: let its commit return before the WAL reaches the disk.

    For writes that are rebuilt or superseded within moments (a kernel's state, a run's progress): a PostgreSQL
    crash may lose the last fraction of a second of them, never corrupt anything, and the commit costs 0.1 ms
    instead of several. Other databases ignore it.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


# ------------------------------------------------------------------ one ordered writer (SQLite, embedded mode)


class OrderedLock:
    """A re-entrant lock granted in the order it was asked for (threading.Lock promises no order, so a busy
    writer could starve another). The holding thread may take it again; it is free when every take is undone."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._condition:
            if self._owner == me:
                self._depth += 1
                return
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._condition.wait()
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._condition:
            if self._owner != threading.get_ident():
                raise RuntimeError("the write lock is released by a thread that does not hold it")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._condition.notify_all()

    def __enter__(self) -> OrderedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# Every write of this process to an SQLite database goes through it (quire.lib.sqlite): one writer at a time,
# in order, so no writer ever meets SQLite's `database is locked`. PostgreSQL has row locks and does not use it.
WRITE_LOCK = OrderedLock()


# ------------------------------------------------------------------ reads on a hot path, from the event loop

# What Django passes to psycopg that a plain connection does without (its own cursor class and adapters, and
# server-side statement preparation switched off: psycopg's default prepares a query after its fifth run).
_DJANGO_ONLY_PARAMS = ("cursor_factory", "context", "prepare_threshold")


class _LoopReader:
    """One autocommit connection for one event loop, used by one query at a time."""

    def __init__(self) -> None:
        self.connection: psycopg.AsyncConnection[Any] | None = None
        self.lock = asyncio.Lock()

    def close_now(self) -> None:
        if self.connection is not None and not self.connection.closed:
            self.connection.pgconn.finish()
        self.connection = None


def _closing_with(loop: asyncio.AbstractEventLoop, readers: dict[asyncio.AbstractEventLoop, Any],
                  close_reader: Callable[[], None]) -> None:
    """The loop's reader (in `readers`) goes with its loop: dropped and closed when the loop closes."""
    original_close = loop.close

    def close() -> None:
        readers.pop(loop, None)
        close_reader()
        original_close()

    loop.close = close  # type: ignore[method-assign]


_readers: dict[asyncio.AbstractEventLoop, _LoopReader] = {}


def _reader(loop: asyncio.AbstractEventLoop) -> _LoopReader:
    reader = _readers.get(loop)
    if reader is None:
        reader = _readers[loop] = _LoopReader()
        _closing_with(loop, _readers, reader.close_now)
    return reader


# SQLite (embedded mode): a read-only connection per event loop, read on the loop itself. A read of one row in WAL
# mode never waits for the writer and takes microseconds, less than the hop to the database thread and back,
# which would also queue behind whatever that thread is doing.
_sqlite_readers: dict[asyncio.AbstractEventLoop, sqlite3.Connection] = {}


def _sqlite_reader(loop: asyncio.AbstractEventLoop) -> sqlite3.Connection:
    reader = _sqlite_readers.get(loop)
    if reader is None:
        path = str(connection.settings_dict["NAME"])
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0, check_same_thread=False)
        _sqlite_readers[loop] = reader
        _closing_with(loop, _sqlite_readers, reader.close)
    return reader


async def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """The first row of a read on a hot path (one the browser waits for), without the hop to a worker thread
    and back that an ORM call from async code costs: on PostgreSQL straight from the event loop, over a
    connection of the loop's own (autocommit, so it sees what others committed); on SQLite (embedded mode) on
    the loop, over a read-only connection of its own. `sql` takes its parameters as %s, as Django's do."""
    if connection.vendor == "sqlite":
        found = _sqlite_reader(asyncio.get_running_loop()).execute(sql.replace("%s", "?"), list(params))
        try:
            row: tuple[Any, ...] | None = found.fetchone()
            return row
        finally:
            found.close()
    reader = _reader(asyncio.get_running_loop())
    async with reader.lock:
        for attempt in (1, 2):
            try:
                if reader.connection is None or reader.connection.closed:
                    options = {k: v for k, v in connection.get_connection_params().items()
                               if k not in _DJANGO_ONLY_PARAMS}
                    reader.connection = await psycopg.AsyncConnection.connect(**options, autocommit=True)
                async with reader.connection.cursor() as cursor:
                    await cursor.execute(sql, params)
                    return await cursor.fetchone()
            except psycopg.OperationalError:
                # The server restarted or the connection was cut: one fresh connection, then give up.
                reader.close_now()
                if attempt == 2:
                    raise
    return None
