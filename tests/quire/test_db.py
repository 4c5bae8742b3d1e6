"""Reads on a hot path: straight from the event loop over a connection of the loop's own."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from notebooks.services import do_create_notebook
from quire.lib import db

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT title FROM notebooks_notebook WHERE id = %s"


async def test_a_read_sees_committed_data_and_survives_a_cut_connection(alice) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="First")
    assert await db.fetch_one(SQL, [notebook.pk]) == ("First",)
    assert await db.fetch_one(SQL, [notebook.pk + 1000]) is None
    if connection.vendor != "postgresql":
        pytest.skip("the loop's own connection is PostgreSQL's")
    reader = db._readers[asyncio.get_running_loop()]
    assert reader.connection is not None
    backend = reader.connection.info.backend_pid

    def cut() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])

    await database_sync_to_async(cut)()
    # The next read notices, connects again and answers; it sees what was committed meanwhile.
    await database_sync_to_async(type(notebook).objects.filter(pk=notebook.pk).update)(title="Second")
    assert await db.fetch_one(SQL, [notebook.pk]) == ("Second",)
    assert reader.connection.info.backend_pid != backend


def test_the_connection_closes_with_its_loop(alice) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("the loop's own connection is PostgreSQL's")
    notebook = do_create_notebook(alice, title="Loop")
    loop = asyncio.new_event_loop()
    assert loop.run_until_complete(db.fetch_one(SQL, [notebook.pk])) == ("Loop",)
    reader = db._readers[loop]
    pgconn = reader.connection.pgconn  # type: ignore[union-attr]
    loop.close()
    assert loop not in db._readers
    assert pgconn.status != 0  # CONNECTION_OK no more: finished
