"""A full worker: maintenance (reaping, culling) still runs, and a run that finds no free kernel host is told so."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from kernels.models import LIVE_STATES, Execution, KernelSession
from kernels.services import START_TIMEOUT, do_reap_lost_sessions, send_runs
from notebooks.running import prepare_run
from notebooks.services import check_update_source, do_create_notebook
from quire.quotas.models import Quota
from tests.live import NotebookClient
from tests.support import KERNEL_SLOTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _notebook(user, title: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(user, title=title)
    cell = notebook.cells[0]["id"]
    check_update_source(user, notebook.pk, cell_id=cell, source="print('up')")
    return notebook.pk, cell


def _lost_session(user) -> KernelSession:  # type: ignore[no-untyped-def]
    """A session whose host went silent long ago (its worker was killed without a trace)."""
    notebook = do_create_notebook(user, title="Lost")
    session = KernelSession.objects.create(notebook=notebook, started_by=user, channel="kernel.lost-host",
                                           state=KernelSession.State.IDLE)
    KernelSession.objects.filter(pk=session.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    return session


async def test_maintenance_runs_while_every_kernel_slot_hosts_a_kernel(alice, alice_token, celery_worker) -> None:  # type: ignore[no-untyped-def]
    quota = await database_sync_to_async(Quota.objects.create)(scope="default", max_kernels=KERNEL_SLOTS + 2)
    clients = []
    for n in range(KERNEL_SLOTS):
        notebook_id, cell = await database_sync_to_async(_notebook)(alice, f"Slot {n}")
        client = NotebookClient(notebook_id, token=alice_token)
        await client.connect()
        await client.reply(await client.send("run_cell", cell_id=cell))
        await client.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=90)
        clients.append(client)

    # Every kernel process of the worker hosts an idle kernel, and beat's reaper still runs: a session whose host
    # went silent is marked dead.
    lost = await database_sync_to_async(_lost_session)(alice)

    def lost_state() -> str:
        return KernelSession.objects.get(pk=lost.pk).state

    for _ in range(60):
        if await database_sync_to_async(lost_state)() == "dead":
            break
        await asyncio.sleep(0.5)
    assert await database_sync_to_async(lost_state)() == "dead", "the reaper never ran"

    # One more notebook's run is accepted, and its page is told, while its kernel waits, that no host is free.
    notebook_id, cell = await database_sync_to_async(_notebook)(alice, "One too many")
    extra = NotebookClient(notebook_id, token=alice_token)
    await extra.connect()
    acked = await extra.reply(await extra.send("run_cell", cell_id=cell))
    assert acked["type"] == "ack"
    waiting = await extra.until(lambda e: e["type"] == "kernel_status" and e.get("reason"), timeout=30)
    assert waiting["state"] == "starting"
    assert "waiting for a free kernel host" in waiting["reason"]

    # Beat's culling still runs: with a short idle limit the idle kernels are stopped, which frees a host for the
    # waiting notebook, whose run then finishes.
    quota.idle_timeout_s = 1
    await database_sync_to_async(quota.save)()
    for client in clients:
        stopped = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=90)
        assert stopped["reason"] == "idle"
    done = await extra.until(lambda e: e["type"] == "cell_status" and e["state"] in ("done", "error"), timeout=90)
    assert done["state"] == "done"
    stopping = await extra.reply(await extra.send("shutdown"))
    if stopping["stopping"]:  # else beat culled it already
        await extra.until(lambda e: e["type"] == "kernel_status" and e["state"] == "stopped", timeout=30)
    for client in [*clients, extra]:
        await client.close()
    left = await database_sync_to_async(lambda: KernelSession.objects.filter(state__in=LIVE_STATES).count())()
    assert left == 0



@pytest.mark.django_db(transaction=False)
def test_a_kernel_no_host_took_ends_dead_with_why_and_its_runs_with_it(alice) -> None:  # type: ignore[no-untyped-def]
    notebook_id, cell = _notebook(alice, "Never hosted")
    # Acked: journaled for the host, which never comes; the reaper ends the session and writes the run ended.
    queued = prepare_run(alice, notebook_id, scope="cell", cell_id=cell)
    send_runs(queued)  # as check_run does once committed
    session = KernelSession.objects.get(notebook_id=notebook_id)
    assert not Execution.objects.filter(pk__in=queued.execution_ids).exists()
    KernelSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - START_TIMEOUT - timedelta(seconds=1))
    assert do_reap_lost_sessions() == 1
    session.refresh_from_db()
    assert session.state == "dead"
    assert session.reason.startswith("no kernel host was free within 120 s")
    [run] = Execution.objects.filter(pk__in=queued.execution_ids)
    assert run.state == "interrupted"
    assert run.outputs[-1]["evalue"] == session.reason
