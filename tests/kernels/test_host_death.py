"""A kernel or its host killed mid-run: every page hears `dead`, what the running cell printed is kept, and every
run that was acked ends in a final state its viewers see and the database keeps."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from channels.db import database_sync_to_async

from kernels.models import Execution, KernelSession
from kernels.services import FINAL_STATES
from notebooks.services import check_insert_cell, check_update_source, do_create_notebook
from tests.conftest import _test_database_env
from tests.live import NotebookClient
from tests.support import Service, start_kernel_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

PRINTS = "import time\nfor i in range(5):\n    print('line', i, flush=True)\ntime.sleep(120)"


@pytest.fixture
def own_worker(django_db_setup, tmp_path: Path, file_sources: Path) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    """A kernel worker of this test's own, the only one taking kernels: the test kills it (or a process of it).
    The session's shared kernel worker, if an earlier test started it, stops taking kernels meanwhile. No beat
    runs: what sees a death here is the servers' watch of the hosts' leases."""
    from quire.celery import app

    shared = [f"celery@{socket.gethostname()}"]
    app.control.cancel_consumer("kernels", destination=shared, reply=True, timeout=2)
    worker = start_kernel_worker("own", env=_test_database_env(file_sources), log_dir=tmp_path)
    yield worker
    worker.stop()
    app.control.add_consumer("kernels", destination=shared, reply=True, timeout=2)
    # A pool process the test orphaned by killing the worker's main process is not in its process group's
    # reach once it has left it; none may outlive the test.
    for process in psutil.process_iter(["cmdline"]):
        if str(tmp_path) in " ".join(process.info["cmdline"] or []):
            process.kill()


@pytest.fixture
def printing(alice):  # type: ignore[no-untyped-def]
    """A notebook whose first cell prints five lines and then sleeps, with three quick cells below it."""
    notebook = do_create_notebook(alice, title="Printing")
    first = notebook.cells[0]["id"]
    check_update_source(alice, notebook.pk, cell_id=first, source="print('up')")
    below = []
    for n in range(3):
        change = check_insert_cell(alice, notebook.pk, index=n + 1, language="python", source=f"print({n})")
        below.append(change.result.cell["id"])
    return notebook, first, below


def _kernel_python(session: KernelSession) -> psutil.Process:
    sandbox = psutil.Process(session.pid)
    [kernel] = [
        p for p in sandbox.children(recursive=True)
        if p.name().startswith("python") and "kernels.core.process" in p.cmdline()
    ]
    return kernel


async def _seen(client: NotebookClient, predicate: Callable[[dict[str, Any]], bool], *, timeout: float) -> None:
    """An event seen already (while waiting for a reply, say) or still to come."""
    if not any([predicate(event) for event in client.seen]):
        await client.until(predicate, timeout=timeout)


def _victim(which: str, session: KernelSession, worker: Service) -> int:
    if which == "kernel":
        return _kernel_python(session).pid
    if which == "pool process":
        return int(session.host.rsplit(":", 1)[1])
    return worker.process.pid


@pytest.mark.parametrize("which", ["kernel", "pool process", "worker main process"])
async def test_death_mid_run_ends_every_acked_run_visibly(  # type: ignore[no-untyped-def]
    which, alice, alice_token, printing, own_worker
) -> None:
    notebook, first, below = printing
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=first))
    await client.until(lambda e: e["type"] == "cell_status" and e["state"] == "done", timeout=90)
    session = await database_sync_to_async(lambda: KernelSession.objects.get(state__in=["idle", "busy"]))()
    kernel = _kernel_python(session)

    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=first, source=PRINTS)
    acked: dict[str, str] = {}
    ack = await client.reply(await client.send("run_cell", cell_id=first))
    acked[ack["execution_ids"][0]] = first
    # Queued behind it.
    for cell in below[:2]:
        ack = await client.reply(await client.send("run_cell", cell_id=cell))
        acked[ack["execution_ids"][0]] = cell
    printed: list[str] = []

    def five_lines(event: dict) -> bool:  # type: ignore[type-arg]
        if event["type"] == "output" and event["cell_id"] == first:
            printed.append(event["output"].get("text", ""))
        return "line 4" in "".join(printed)

    await client.until(five_lines, timeout=30)
    host = psutil.Process(int(session.host.rsplit(":", 1)[1]))
    os.kill(_victim(which, session, own_worker), signal.SIGKILL)
    # Sent right after the kill, before anyone can know: acked, so it must end visibly too.
    await asyncio.sleep(0.3)
    late = await client.reply(await client.send("run_cell", cell_id=below[2]))
    for exec_id in late.get("execution_ids", []):
        acked[exec_id] = below[2]

    if which != "kernel":
        # The pool process dies with its worker's main process, and the sandbox with its host.
        _, alive = await asyncio.to_thread(psutil.wait_procs, [host, kernel], timeout=10)
        assert not alive, f"still running: {alive}"
    await _seen(client, lambda e: e["type"] == "kernel_status" and e["state"] == "dead", timeout=30)
    # Every acked run's cell hears its final state.
    ended: set[str] = set()

    def all_ended(event: dict) -> bool:  # type: ignore[type-arg]
        if event["type"] == "cell_status" and event["state"] in FINAL_STATES:
            ended.add(event["cell_id"])
        return set(acked.values()) <= ended

    await _seen(client, all_ended, timeout=30)
    await client.close()

    # And the database keeps it: every acked run has a row in a final state.
    rows = await database_sync_to_async(lambda: {str(e.pk): e for e in Execution.objects.filter(pk__in=list(acked))})()
    assert set(rows) == set(acked), f"acked runs without a row: {set(acked) - set(rows)}"
    for exec_id, row in rows.items():
        assert row.state in FINAL_STATES, f"{acked[exec_id]}: {row.state}"
        if exec_id not in late.get("execution_ids", []):
            # Acked before the death: ended by it, saying so. The late one may have run on a fresh kernel.
            assert row.state != "done" and row.outputs[-1]["output_type"] == "error", row.outputs
    # The running cell keeps what it printed before the death, followed by the error.
    running = next(row for row in rows.values() if row.cell_id == first)
    text = "".join(str(o.get("text", "")) for o in running.outputs if o["output_type"] == "stream")
    assert [f"line {i}" in text for i in range(5)] == [True] * 5, running.outputs
    # The sandbox died with its host: no orphan kernel keeps running.
    await asyncio.to_thread(psutil.wait_procs, [kernel], timeout=10)
    assert not kernel.is_running()
