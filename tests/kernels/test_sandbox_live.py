"""Sandboxed kernels hosted by the real worker: their output stays out of the worker's log, their disk quota holds."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from notebooks.services import check_update_source, do_create_notebook
from quire.quotas.models import Quota
from tests.live import NotebookClient
from tests.support import CeleryWorkers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _finished(cell_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "cell_status" and e["cell_id"] == cell_id and e["state"] in ("done", "error", "interrupted")


async def _notebook(alice, source: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    def create() -> tuple[int, str]:
        notebook = do_create_notebook(alice, title="Probe")
        cell = notebook.cells[0]["id"]
        check_update_source(alice, notebook.pk, cell_id=cell, source=source)
        return notebook.pk, cell

    return await database_sync_to_async(create)()


async def test_a_cell_cannot_read_or_forge_the_worker_log(alice, alice_token, celery_worker: CeleryWorkers) -> None:  # type: ignore[no-untyped-def]
    marker = f"FORGED-{uuid.uuid4().hex}"
    source = (
        "import os\n"
        f"os.write(1, b'{marker} stdout\\n'); os.write(2, b'{marker} stderr\\n')\n"
        "for fd in (1, 2):\n"
        "    try:\n"
        "        print(open(f'/proc/self/fd/{fd}', errors='replace').read())\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
    )
    notebook_id, cell = await _notebook(alice, source)
    client = NotebookClient(notebook_id, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    finished = await client.until(_finished(cell))
    assert finished["state"] == "done", client.seen[-5:]
    seen = "".join(e["output"].get("text", "") for e in client.seen if e["type"] == "output" and e["cell_id"] == cell)
    # The worker's log has its start-up banner and task lines; none of it reaches the cell.
    assert "celery" not in seen.lower() and "kernels." not in seen, seen[:2000]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()
    assert marker not in celery_worker.output()
    assert marker not in celery_worker.log_path.read_text(errors="replace")


async def test_writing_past_the_disk_quota_stops_the_kernel_with_a_message(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    await database_sync_to_async(Quota.objects.create)(scope="user", user=alice, disk_mb=64)
    source = (
        "import os, time\n"
        "os.write(2, b'disk hog at work\\n')\n"
        "for n in range(6):\n"
        "    open(f'part{n}', 'wb').write(os.urandom(30 * 1024 * 1024))\n"
        "time.sleep(60)\n"
    )
    notebook_id, cell = await _notebook(alice, source)
    client = NotebookClient(notebook_id, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    dead = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "dead", timeout=40)
    assert "64 MB" in dead["reason"] and "disk" in dead["reason"], dead
    # What the kernel wrote to its stderr is in the worker's log for diagnosis, marked as the kernel's.
    assert "  | disk hog at work" in celery_worker.log_path.read_text(errors="replace")
    # The platform carries on: running again starts a fresh kernel.
    await client.reply(await client.send("update_cell", cell_id=cell, source="print('fresh')"))
    await client.reply(await client.send("run_cell", cell_id=cell))
    assert (await client.until(_finished(cell)))["state"] == "done"
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()
