"""Database helpers shared by the services: commits that need not wait for the disk."""

from __future__ import annotations

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
