"""The whole path once: WebSocket → consumer → Redis → kernel host on a Celery worker → sandboxed kernel → back."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from kernels.models import Execution, KernelSession
from notebooks.services import do_create_notebook
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


async def _stop_kernel(client: NotebookClient) -> None:
    req = await client.send("shutdown")
    await client.reply(req)
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)


async def test_run_a_python_cell_on_a_celery_hosted_kernel(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Skeleton")
    client = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await client.connect()
    cell_id = snapshot["notebook"]["cells"][0]["id"]
    await client.reply(await client.send("update_cell", cell_id=cell_id, source="import sys\nprint('hello')\n40 + 2"))

    req = await client.send("run_cell", cell_id=cell_id)
    assert (await client.reply(req))["type"] == "ack"
    done = await client.until(lambda e: e["type"] == "cell_status" and e["state"] in ("done", "error"), timeout=60)
    assert done["state"] == "done", client.seen
    # Idle once the run is over, never before.
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=30)
    streams = [e["output"]["text"] for e in client.seen if e["type"] == "output" and e["output"]["output_type"] == "stream"]
    assert "".join(streams) == "hello\n"
    [result] = [e["output"] for e in client.seen if e["type"] == "output" and e["output"]["output_type"] == "execute_result"]
    assert result["data"]["text/plain"] == "42"
    assert [e["state"] for e in client.seen if e["type"] == "cell_status"][-2:] == ["running", "done"]

    execution = await database_sync_to_async(Execution.objects.get)(notebook=notebook, cell_id=cell_id)
    assert execution.state == "done"
    assert execution.outputs[0] == {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    session = await database_sync_to_async(KernelSession.objects.get)(notebook=notebook)
    assert session.host and session.pid

    # A reconnecting browser gets the stored outputs in its snapshot.
    again = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await again.connect()
    assert snapshot["kernel"]["state"] == "idle"
    assert snapshot["notebook"]["cells"][0]["outputs"][0]["text"] == "hello\n"
    await again.close()

    # An error is reported as an error output, and the kernel stays usable.
    await client.reply(await client.send("update_cell", cell_id=cell_id, source="1 / 0"))
    await client.reply(await client.send("run_cell", cell_id=cell_id))
    failed = await client.until(lambda e: e["type"] == "cell_status" and e["state"] in ("done", "error"), timeout=30)
    assert failed["state"] == "error"
    [error] = [e["output"] for e in client.seen if e["type"] == "output" and e["output"]["output_type"] == "error"]
    assert error["ename"] == "ZeroDivisionError"

    await _stop_kernel(client)
    session = await database_sync_to_async(KernelSession.objects.get)(notebook=notebook)
    assert session.state == "stopped" and session.ended_at is not None
    await client.close()


async def test_the_kernel_cannot_see_platform_secrets(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Sandbox")
    client = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await client.connect()
    cell_id = snapshot["notebook"]["cells"][0]["id"]
    probe = (
        "import os, socket\n"
        "s = socket.socket()\n"
        "s.settimeout(1)\n"
        "print(sorted(k for k in os.environ if 'DATABASE' in k or 'REDIS' in k or 'SECRET' in k))\n"
        "print(s.connect_ex(('127.0.0.1', 5432)) != 0)\n"
        "print(os.path.exists('/work/main/platform/quire/settings.py'))\n"
    )
    await client.reply(await client.send("update_cell", cell_id=cell_id, source=probe))
    await client.reply(await client.send("run_cell", cell_id=cell_id))
    await client.until(lambda e: e["type"] == "cell_status" and e["state"] in ("done", "error"), timeout=60)
    text = "".join(e["output"].get("text", "") for e in client.seen if e["type"] == "output")
    assert text == "[]\nTrue\nFalse\n", client.seen
    await _stop_kernel(client)
    await client.close()
