"""What a run on a kernel that is up executes: the draft as its page knows it. The connection keeps the cells it
last read for a run and reads them again once it hears of any change to the draft (its own, another page's, the
REST API's, a restored version) or after DRAFT_FRESH_S for changes nothing announces."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from channels.db import database_sync_to_async
from django.db import connection

from notebooks import consumers
from notebooks.models import Notebook
from notebooks.services import check_update_source, do_create_notebook
from notebooks.versioning import check_restore, check_save_version
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _result(cell_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "output" and e["cell_id"] == cell_id and e["output"]["output_type"] == "execute_result"


def _idle(e: dict) -> bool:  # type: ignore[type-arg]
    return e["type"] == "kernel_status" and e["state"] == "idle"


async def _run(client: NotebookClient, cell_id: str) -> str:
    ack = await client.reply(await client.send("run_cell", cell_id=cell_id))
    assert ack["type"] == "ack", ack
    result = await client.until(_result(cell_id))
    await client.until(_idle)
    return str(result["output"]["data"]["text/plain"])


@pytest.fixture
def notebook(alice):  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Draft")
    check_update_source(alice, notebook.pk, cell_id=notebook.cells[0]["id"], source="'one'")
    return notebook


async def test_a_run_executes_every_change_its_page_has_heard_of(alice, alice_token, notebook, celery_worker) -> None:  # type: ignore[no-untyped-def]
    cell = notebook.cells[0]["id"]
    page = NotebookClient(notebook.pk, token=alice_token)
    await page.connect()
    assert await _run(page, cell) == "'one'"  # starts the kernel
    assert await _run(page, cell) == "'one'"  # on the kernel that is up: the cells are kept from here on

    # Another page's edit: this page hears of it, and the next run executes it.
    other = NotebookClient(notebook.pk, token=alice_token)
    await other.connect()
    await other.reply(await other.send("update_cell", cell_id=cell, source="'two'"))
    await page.until(lambda e: e["type"] == "cell_updated" and e["source"] == "'two'")
    assert await _run(page, cell) == "'two'"

    # The REST API's (the services it calls), likewise.
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="'three'")
    await page.until(lambda e: e["type"] == "cell_updated" and e["source"] == "'three'")
    assert await _run(page, cell) == "'three'"

    # Its own edit, with the run sent right behind it (before the edit's broadcast comes back).
    await page.send("update_cell", cell_id=cell, source="'four'")
    await page.send("run_cell", cell_id=cell)
    result = await page.until(_result(cell))
    assert result["output"]["data"]["text/plain"] == "'four'"
    await page.until(_idle)

    # A restored version replaces the whole draft.
    saved = await database_sync_to_async(check_save_version)(alice, notebook.pk, message="four")
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="'five'")
    assert await _run(page, cell) == "'five'"
    await database_sync_to_async(check_restore)(alice, notebook.pk, saved.version.number)
    await page.until(lambda e: e["type"] == "draft_replaced")
    assert await _run(page, cell) == "'four'"
    await other.close()
    await page.close()


async def test_a_change_nothing_announces_is_read_within_the_freshness_limit(alice, alice_token, notebook, celery_worker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(consumers, "DRAFT_FRESH_S", 0.5)
    cell = notebook.cells[0]["id"]
    page = NotebookClient(notebook.pk, token=alice_token)
    await page.connect()
    await _run(page, cell)
    assert await _run(page, cell) == "'one'"

    def write_behind_the_services() -> None:  # as a database console would: no event, no revision
        row = Notebook.objects.get(pk=notebook.pk)
        row.cells[0]["source"] = "'quiet'"
        Notebook.objects.filter(pk=notebook.pk).update(cells=row.cells)

    await database_sync_to_async(write_behind_the_services)()
    await asyncio.sleep(0.6)
    assert await _run(page, cell) == "'quiet'"
    await page.close()


async def test_a_run_of_an_unchanged_draft_on_a_kernel_that_is_up_reads_no_notebook(alice, alice_token, notebook, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """The read is the one database round trip between a click and the kernel: with the notebooks' table locked
    by someone else, a re-run still answers."""
    cell = notebook.cells[0]["id"]
    page = NotebookClient(notebook.pk, token=alice_token)
    await page.connect()
    await _run(page, cell)
    assert await _run(page, cell) == "'one'"

    params = {k: v for k, v in connection.get_connection_params().items()
              if k not in ("cursor_factory", "context", "prepare_threshold")}
    locker = await psycopg.AsyncConnection.connect(**params)
    try:
        await locker.execute(f"LOCK TABLE {Notebook._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        await page.send("run_cell", cell_id=cell)
        result = await page.until(_result(cell), timeout=15)
        assert result["output"]["data"]["text/plain"] == "'one'"
    finally:
        await locker.rollback()
        await locker.close()
    await page.until(_idle)
    await page.close()
