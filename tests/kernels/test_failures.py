"""Kernels and hosts that die are marked dead within seconds and users see it; idle kernels are culled; quotas hold."""

from __future__ import annotations

import os
import signal

import psutil
import pytest
from channels.db import database_sync_to_async

from kernels.models import KernelSession
from kernels.services import HOST_DIED, do_cull_idle_sessions
from notebooks.services import check_update_source, do_create_notebook
from quire.quotas.models import Quota
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


@pytest.fixture
def sleepy(alice):  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Sleepy")
    cell = notebook.cells[0]["id"]
    check_update_source(alice, notebook.pk, cell_id=cell, source="print('up')")
    return notebook, cell


async def _start(client: NotebookClient, cell: str) -> KernelSession:
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=60)
    return await database_sync_to_async(lambda: KernelSession.objects.get(state__in=["idle", "busy"]))()


def _kernel_python(session: KernelSession) -> psutil.Process:
    sandbox = psutil.Process(session.pid)
    [kernel] = [
        p for p in sandbox.children(recursive=True)
        if p.name().startswith("python") and "kernels.core.process" in p.cmdline()
    ]
    return kernel


async def test_kill_9_of_the_kernel(alice, alice_token, sleepy, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, cell = sleepy
    client = NotebookClient(notebook.pk, token=alice_token)
    session = await _start(client, cell)
    os.kill(_kernel_python(session).pid, signal.SIGKILL)
    dead = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "dead", timeout=20)
    assert "SIGKILL" in dead["reason"]
    # Running again starts a fresh kernel.
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=60)
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_kill_9_of_the_worker_process_hosting_it(alice, alice_token, sleepy, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, cell = sleepy
    client = NotebookClient(notebook.pk, token=alice_token)
    session = await _start(client, cell)
    kernel = _kernel_python(session)
    host_pid = int(session.host.rsplit(":", 1)[1])
    os.kill(host_pid, signal.SIGKILL)
    dead = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "dead", timeout=30)
    assert dead["reason"] == HOST_DIED
    # The sandbox died with its host: no orphan kernel keeps running.
    psutil.wait_procs([kernel], timeout=10)
    assert not kernel.is_running()
    snapshot = await NotebookClient(notebook.pk, token=alice_token).connect()
    assert snapshot["kernel"]["state"] == "not_started"
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=60)
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()


async def test_idle_kernels_are_culled_but_busy_ones_are_not(alice, alice_token, sleepy, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, cell = sleepy
    await database_sync_to_async(Quota.objects.create)(scope="default", idle_timeout_s=0)
    client = NotebookClient(notebook.pk, token=alice_token)
    await _start(client, cell)
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="import time; time.sleep(4)")
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(lambda e: e["type"] == "cell_status" and e["state"] == "running", timeout=20)
    # The database may not show the run yet, but the host knows its kernel is busy and keeps it.
    await database_sync_to_async(do_cull_idle_sessions)()
    done = await client.until(lambda e: e["type"] == "cell_status" and e["state"] != "running", timeout=20)
    assert done["state"] == "done"
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=20)
    assert not [e for e in client.seen if e["type"] == "kernel_status" and e["state"] == "stopped"]
    # Idle now: culled (Celery beat culls every 30 s as well, so it may have got there first).
    await database_sync_to_async(do_cull_idle_sessions)()
    stopped = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=20)
    assert stopped["reason"] == "idle"
    await client.close()


async def test_kernel_quota_is_enforced_by_name(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    await database_sync_to_async(Quota.objects.create)(scope="user", user=alice, max_kernels=1)
    first = await database_sync_to_async(do_create_notebook)(alice, title="One")
    second = await database_sync_to_async(do_create_notebook)(alice, title="Two")
    client = NotebookClient(first.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=first.cells[0]["id"]))
    other = NotebookClient(second.pk, token=alice_token)
    await other.connect()
    refused = await other.reply(await other.send("run_cell", cell_id=second.cells[0]["id"]))
    assert refused["code"] == "quota_exceeded"
    assert "allows 1" in refused["message"]
    await client.reply(await client.send("shutdown"))
    await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    await client.close()
    await other.close()
