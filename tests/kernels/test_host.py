"""The kernel host enforces the cell time limit, interrupts and shutdown from outside the kernel process: code that
holds the interpreter lock starves every thread of the kernel, its own watchdog and command reader included."""

from __future__ import annotations

import asyncio

import psutil
import pytest
from channels.db import database_sync_to_async

from kernels.models import Execution, KernelSession
from notebooks.services import check_insert_cell, check_update_source, do_create_notebook
from quire.quotas.models import Quota
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

# Each prints, gives the kernel's writer a moment to send that (sleeping frees the interpreter lock), then holds the
# lock for longer than any test runs. The regex backtracks 2**64 times in one C call, checking for signals as it
# goes; summing a range never checks, so only SIGKILL ends it.
REGEX = "print('before')\nimport time\ntime.sleep(1)\nimport re\nre.match(r'(a+)+$', 'a' * 64 + 'b')"
DEAF = "print('before')\nimport time\ntime.sleep(1)\nsum(range(10**15))"


def _output(cell: str, text: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "output" and e["cell_id"] == cell and e["output"].get("text") == text


def _ended(cell: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "cell_status" and e["cell_id"] == cell and e["state"] in ("done", "error", "interrupted")


def _kernel(state: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "kernel_status" and e["state"] == state


def _errors(client: NotebookClient, cell: str) -> list[dict]:  # type: ignore[type-arg]
    return [e["output"] for e in client.seen
            if e["type"] == "output" and e["cell_id"] == cell and e["output"].get("output_type") == "error"]


@pytest.fixture
def two_cells(alice):  # type: ignore[no-untyped-def]
    """A notebook with two cells; each test gives the first its greedy source."""
    notebook = do_create_notebook(alice, title="Greedy")
    first = notebook.cells[0]["id"]
    second = check_insert_cell(alice, notebook.pk, index=1, language="python", source="print('after')").result.cell["id"]
    return notebook, first, second


async def _start(alice, notebook_id: int, cell: str, source: str, token: str) -> NotebookClient:  # type: ignore[no-untyped-def]
    await database_sync_to_async(check_update_source)(alice, notebook_id, cell_id=cell, source=source)
    client = NotebookClient(notebook_id, token=token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(_output(cell, "before\n"), timeout=60)
    return client


async def _sandbox() -> tuple[KernelSession, list[psutil.Process], psutil.Process]:
    """The live session, every process of its sandbox, and the kernel's Python among them."""
    session = await database_sync_to_async(lambda: KernelSession.objects.get(state__in=["idle", "busy"]))()
    root = psutil.Process(session.pid)
    processes = [root, *root.children(recursive=True)]
    [kernel] = [p for p in processes if p.cmdline()[1:3] == ["-m", "kernels.core.process"]]
    return session, processes, kernel


async def _holding_the_lock(kernel: psutil.Process) -> None:
    """Until the kernel has burnt a second of CPU time past its sleep: it is in the greedy call."""
    start = kernel.cpu_times().user
    while kernel.cpu_times().user - start < 1.0:
        await asyncio.sleep(0.1)


async def _stored(cell: str) -> Execution:
    return await database_sync_to_async(lambda: Execution.objects.filter(cell_id=cell).latest("queued_at"))()


def _host_pid(session: KernelSession) -> int:
    return int(session.host.rsplit(":", 1)[1])


async def _runs(client: NotebookClient, cell: str) -> None:
    await client.reply(await client.send("run_cell", cell_id=cell))
    done = await client.until(lambda e: _ended(cell)(e) and e["state"] != "interrupted", timeout=60)
    assert done["state"] == "done"


async def _shut_down(client: NotebookClient) -> None:
    await client.reply(await client.send("shutdown"))
    await client.until(_kernel("stopped"), timeout=30)
    await client.close()


async def test_the_time_limit_stops_a_regex_holding_the_gil(alice, alice_token, two_cells, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """The kernel's own watchdog cannot run; the host's SIGINT stops the regex and the kernel lives on."""
    notebook, first, second = two_cells
    await database_sync_to_async(Quota.objects.create)(scope="user", user=alice, cell_time_limit_s=2)
    client = await _start(alice, notebook.pk, first, REGEX, alice_token)
    session, _, kernel = await _sandbox()
    ended = await client.until(_ended(first), timeout=60)
    assert ended["state"] == "error"
    [error] = _errors(client, first)
    assert (error["ename"], error["evalue"]) == ("TimeLimitExceeded", "cell time limit of 2 s exceeded")
    await _runs(client, second)
    assert kernel.is_running()
    assert (await _sandbox())[0].pk == session.pk
    await _shut_down(client)


async def test_the_time_limit_kills_a_kernel_that_ignores_signals(alice, alice_token, two_cells, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, first, second = two_cells
    await database_sync_to_async(Quota.objects.create)(scope="user", user=alice, cell_time_limit_s=2)
    client = await _start(alice, notebook.pk, first, DEAF, alice_token)
    await client.reply(await client.send("run_cell", cell_id=second))
    session, processes, _ = await _sandbox()

    ended = await client.until(_ended(first), timeout=60)
    assert ended["state"] == "error"
    [error] = _errors(client, first)
    assert error["ename"] == "TimeLimitExceeded"
    assert error["evalue"] == "the cell ran past its 2 s limit and did not stop; the kernel was stopped"
    dead = await client.until(_kernel("dead"), timeout=30)
    assert dead["reason"] == error["evalue"]
    # The run queued behind it is reported, not dropped.
    queued = await client.until(_ended(second), timeout=30)
    assert queued["state"] == "interrupted"
    assert queued["outputs"][-1]["ename"] == "KernelDied"
    assert queued["outputs_total"] == len(queued["outputs"])
    # What the cell printed before it was stopped is kept, with the error.
    stored = await _stored(first)
    assert stored.state == "error"
    assert [o.get("text") or o.get("ename") for o in stored.outputs] == ["before\n", "TimeLimitExceeded"]
    _, alive = psutil.wait_procs(processes, timeout=30)
    assert not alive
    # The worker process that hosted it serves on: a run starts a fresh kernel.
    assert psutil.pid_exists(_host_pid(session))
    await _runs(client, second)
    await _shut_down(client)


async def test_an_interrupt_stops_a_regex_holding_the_gil(alice, alice_token, two_cells, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """The kernel never reads the interrupt command; the host's SIGINT reaches it, and the kernel lives on."""
    notebook, first, second = two_cells
    client = await _start(alice, notebook.pk, first, REGEX, alice_token)
    _, _, kernel = await _sandbox()
    await _holding_the_lock(kernel)
    await client.reply(await client.send("interrupt"))
    ended = await client.until(_ended(first), timeout=60)
    assert ended["state"] == "interrupted"
    assert [e["ename"] for e in _errors(client, first)] == ["KeyboardInterrupt"]
    await _runs(client, second)
    assert kernel.is_running()
    await _shut_down(client)


async def test_an_interrupt_kills_a_kernel_that_ignores_signals(alice, alice_token, two_cells, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, first, second = two_cells
    client = await _start(alice, notebook.pk, first, DEAF, alice_token)
    session, processes, kernel = await _sandbox()
    await _holding_the_lock(kernel)
    await client.reply(await client.send("interrupt"))

    ended = await client.until(_ended(first), timeout=60)
    assert ended["state"] == "interrupted"
    [error] = _errors(client, first)
    assert "did not respond to the interrupt" in error["evalue"] and "was stopped" in error["evalue"]
    dead = await client.until(_kernel("dead"), timeout=30)
    assert dead["reason"] == error["evalue"]
    stored = await _stored(first)
    assert stored.state == "interrupted"
    assert [o.get("text") or o.get("ename") for o in stored.outputs][0] == "before\n"
    _, alive = psutil.wait_procs(processes, timeout=30)
    assert not alive
    assert psutil.pid_exists(_host_pid(session))
    await _runs(client, second)
    await _shut_down(client)


@pytest.mark.parametrize("source", [REGEX, DEAF], ids=["regex", "deaf"])
async def test_shutdown_ends_a_kernel_whose_cell_holds_the_gil(alice, alice_token, two_cells, celery_worker, source) -> None:  # type: ignore[no-untyped-def]
    notebook, first, _ = two_cells
    client = await _start(alice, notebook.pk, first, source, alice_token)
    session, processes, kernel = await _sandbox()
    await _holding_the_lock(kernel)
    await client.reply(await client.send("shutdown"))

    await client.until(_kernel("stopped"), timeout=30)
    # Well within the kernel's CPU time limit (an hour by default), which is what used to end it.
    _, alive = psutil.wait_procs(processes, timeout=30)
    assert not alive
    ended = await database_sync_to_async(KernelSession.objects.get)(pk=session.pk)
    assert ended.state == "stopped" and ended.ended_at is not None
    stored = await _stored(first)
    assert stored.state in ("error", "interrupted")
    assert stored.outputs[0]["text"] == "before\n"
    await client.close()
