"""Embedded mode's SQLite backend: writers in many threads of one process, one at a time, none refused."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError
from django.db.utils import ConnectionHandler

from quire.config import sqlite_database
from quire.lib.db import WRITE_LOCK

# These connections are the test's own, not the test database's: pytest-django need not guard them.
pytestmark = pytest.mark.usefixtures("unblocked")

THREADS = 8
ROUNDS = 40


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock():
        yield


def _handler(path: Path) -> ConnectionHandler:
    # Django's own SQLite backend with its defaults fails the first test with `database is locked`.
    return ConnectionHandler({"default": sqlite_database(str(path))})


def _atomic(connection: Any, work: Any) -> None:
    """What transaction.atomic does on SQLite for an outermost block (it only knows the global connections)."""
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    try:
        work()
    except BaseException:
        connection.rollback()
        raise
    else:
        connection.commit()
    finally:
        connection.set_autocommit(True)


def _hammer(handler: ConnectionHandler) -> list[BaseException]:
    """Threads that each read a counter and write it back one higher, in transactions and in single statements."""
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        connection = handler["default"]
        try:
            for n in range(ROUNDS):
                if n % 4 == index % 4:  # a write outside any transaction
                    with connection.cursor() as cursor:
                        cursor.execute("INSERT INTO log (thread) VALUES (%s)", [index])
                    continue

                def increment() -> None:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT n FROM counter")
                        (value,) = cursor.fetchone()
                        cursor.execute("UPDATE counter SET n = %s", [value + 1])

                _atomic(connection, increment)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive(), "a writer never got its turn"
    return errors


def _prepare(handler: ConnectionHandler) -> None:
    connection = handler["default"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        cursor.execute("INSERT INTO counter (n) VALUES (0)")
        cursor.execute("CREATE TABLE log (thread INTEGER NOT NULL)")
    connection.close()


def _count(handler: ConnectionHandler) -> tuple[int, int]:
    connection = handler["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        (n,) = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM log")
        (logged,) = cursor.fetchone()
    connection.close()
    return n, logged


def test_concurrent_writers_in_one_process_are_never_refused(tmp_path: Path) -> None:
    handler = _handler(tmp_path / "quire.sqlite3")
    _prepare(handler)
    assert _hammer(handler) == []
    increments = sum(1 for i in range(THREADS) for n in range(ROUNDS) if n % 4 != i % 4)
    assert _count(handler) == (increments, THREADS * ROUNDS - increments)
    connection = handler["default"]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)
    connection.close()


def test_a_failed_transaction_lets_the_next_writer_in(tmp_path: Path) -> None:
    handler = _handler(tmp_path / "quire.sqlite3")
    _prepare(handler)
    connection = handler["default"]

    def fail() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE counter SET n = 5")
            cursor.execute("INSERT INTO nowhere VALUES (1)")

    with pytest.raises(DatabaseError):
        _atomic(connection, fail)
    # Free again: another thread takes the lock at once (a lock left held would keep it waiting forever).
    taken = threading.Event()

    def other() -> None:
        with WRITE_LOCK:
            taken.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert taken.is_set()
    connection.close()
    assert _count(handler) == (0, 0)
