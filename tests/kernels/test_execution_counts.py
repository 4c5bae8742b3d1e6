"""Jupyter's `[n]` beside each run: the kernel session's runs counted as they start, live, after a reload and in
the .ipynb export; a restart counts afresh."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from notebooks.services import check_insert_cell, check_update_source, do_create_notebook
from tests.live import NotebookClient
from tests.notebooks.conftest import client_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _status(cell_id: str, state: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "cell_status" and e["cell_id"] == cell_id and e["state"] == state


async def test_runs_are_counted_live_stored_and_exported(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Counted")
    first = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=first, source="6 * 7")
    change = await database_sync_to_async(check_insert_cell)(alice, notebook.pk, index=1, source="print('hi')")
    second = change.result.cell["id"]
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()

    counts = []
    for cell in (first, second, first):
        await client.reply(await client.send("run_cell", cell_id=cell))
        counts.append((await client.until(_status(cell, "running"), timeout=60))["execution_count"])
        await client.until(_status(cell, "done"), timeout=30)
    assert counts == [1, 2, 3]

    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    assert [c["execution_count"] for c in snapshot["notebook"]["cells"]] == [3, 2]
    export = await database_sync_to_async(
        lambda: json.loads(client_for(alice).get(f"/api/notebooks/{notebook.pk}/export/").content))()
    assert [c["execution_count"] for c in export["cells"]] == [3, 2]
    assert export["cells"][0]["outputs"][0]["execution_count"] == 3

    # Clearing a cell's output clears its number, as in Jupyter.
    await client.reply(await client.send("clear_outputs", cell_id=first))
    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    assert [c["execution_count"] for c in snapshot["notebook"]["cells"]] == [None, 2]

    # A restart is a new kernel session: its first run is [1] again.
    await client.reply(await client.send("restart"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=60)
    await client.reply(await client.send("run_cell", cell_id=second))
    assert (await client.until(_status(second, "running"), timeout=60))["execution_count"] == 1
    await client.until(_status(second, "done"), timeout=30)
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()
