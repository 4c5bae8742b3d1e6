"""The kernel state a notebook's viewers see on a first run: starting while the kernel starts, busy while any cell
runs, idle only once the last queued run has ended."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from notebooks.services import check_insert_cell, check_update_source, do_create_notebook
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _states(events: list[dict[str, Any]]) -> list[str]:
    """What the page shows, in order: each kernel state, and each cell's final state as "<cell>:<state>"."""
    shown: list[str] = []
    for event in events:
        if event["type"] == "kernel_status":
            shown.append(event["state"])
        elif event["type"] == "cell_status" and event["state"] in ("done", "error", "interrupted"):
            shown.append(f"{event['cell_id']}:{event['state']}")
    return shown


def _collapsed(states: list[str]) -> list[str]:
    """Repeats of the same kernel state in a row are one state on the page."""
    return [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]


async def test_a_first_run_shows_starting_then_busy_until_its_last_cell_ends(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="First run")
    first = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=first,
                                                      source="import time\ntime.sleep(2)")
    second = (await database_sync_to_async(check_insert_cell)(
        alice, notebook.pk, index=1, language="python", source="import time\ntime.sleep(1)\nprint('second')"
    )).result.cell["id"]
    client = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await client.connect()
    assert snapshot["kernel"]["state"] == "not_started"
    await client.reply(await client.send("run_all"))
    await client.until(lambda e: e["type"] == "cell_status" and e["cell_id"] == second
                       and e["state"] in ("done", "error", "interrupted"), timeout=90)
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=30)
    shown = _collapsed(_states(client.seen))
    assert shown == ["starting", "busy", f"{first}:done", f"{second}:done", "idle"], client.seen
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_a_run_on_an_idle_kernel_is_busy_until_it_ends(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Second run")
    cell = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="x = 1")
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=90)
    await client.reply(await client.send("update_cell", cell_id=cell, source="import time\ntime.sleep(2)"))
    start = len(client.seen)
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=30)
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=30)
    assert _collapsed(_states(client.seen[start:])) == ["busy", f"{cell}:done", "idle"], client.seen[start:]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_a_first_scala_run_shows_starting_while_the_jvm_starts(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """The JVM starts with the first Spark or Scala cell and takes seconds: the kernel shows as starting (saying
    why) until it is up, then busy until the cell ends."""
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Scala")
    cell = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="val answer = 6 * 7")
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("set_language", cell_id=cell, language="scala"))
    await client.reply(await client.send("run_cell", cell_id=cell))
    ended = await client.until(lambda e: e["type"] == "cell_status" and e["state"] in ("done", "error", "interrupted"),
                               timeout=240)
    assert ended["state"] == "done", client.seen
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=30)
    shown = _collapsed(_states(client.seen))
    assert shown == ["starting", "busy", "starting", "busy", f"{cell}:done", "idle"], client.seen
    [jvm] = [e for e in client.seen if e["type"] == "kernel_status" and e["state"] == "starting" and e.get("reason")]
    assert "JVM" in jvm["reason"]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=60)
    await client.close()
