"""The direct line from a server process to a kernel host (kernels/direct.py): runs take it once the host names
it, nobody without the host's token gets a command through it, bad frames close only the connection that sent
them, and a run the line cannot take goes the pub/sub way."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

import psutil
import pytest
from channels.db import database_sync_to_async

from kernels.events import group_name, live_layer
from kernels.models import KernelSession
from notebooks import running
from notebooks.roles import Role
from notebooks.services import check_update_source, do_create_notebook
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _result(cell_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "output" and e["cell_id"] == cell_id and e["output"]["output_type"] == "execute_result"


def _idle(e: dict) -> bool:  # type: ignore[type-arg]
    return e["type"] == "kernel_status" and e["state"] == "idle"


def _frame(body: Any) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    return struct.pack(">I", len(payload)) + payload


async def _run(page: NotebookClient, cell_id: str) -> str:
    await page.reply(await page.send("run_cell", cell_id=cell_id))
    result = await page.until(_result(cell_id))
    await page.until(_idle)
    return str(result["output"]["data"]["text/plain"])


async def _route(notebook_id: int, page: NotebookClient, cell_id: str) -> dict[str, Any]:
    """The route the host names to the servers, heard as a server hears it (the notebook's live group)."""
    layer = live_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(notebook_id), channel)
    try:
        await page.send("run_cell", cell_id=cell_id)
        while True:
            message = await asyncio.wait_for(layer.receive(channel), 30)
            if "kernel_route" in message:
                await page.until(_idle)
                return dict(message["kernel_route"])
    finally:
        await layer.group_discard(group_name(notebook_id), channel)


async def _answer_until_closed(reader: asyncio.StreamReader) -> bytes:
    """What the host wrote before it closed the connection (a timeout if it does not close it)."""
    try:
        return await asyncio.wait_for(reader.read(), 5)
    except ConnectionError:
        return b""


@pytest.fixture
def counter(alice):  # type: ignore[no-untyped-def]
    """One cell counting its own runs (in a module's attribute: a cell sees no value of its own earlier runs)."""
    notebook = do_create_notebook(alice, title="Direct")
    cell = notebook.cells[0]["id"]
    check_update_source(alice, notebook.pk, cell_id=cell, source="import sys\nsys.runs = getattr(sys, 'runs', 0) + 1\nsys.runs")
    return notebook, cell


async def test_runs_take_the_direct_line_which_answers_only_its_token(alice, alice_token, counter, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, cell = counter
    page = NotebookClient(notebook.pk, token=alice_token)
    await page.connect()
    assert await _run(page, cell) == "1"  # starts the kernel
    route = await _route(notebook.pk, page, cell)
    assert route["address"] == "127.0.0.1" and route["machine"] == socket.gethostname()
    assert await _run(page, cell) == "3"
    # This process's connection to the page (the consumer runs here) holds the line to the host.
    lines = [c for c in psutil.Process().net_connections("tcp")
             if c.raddr and c.raddr.port == route["port"] and c.status == psutil.CONN_ESTABLISHED]
    assert lines, "no direct line to the host"

    execute = {"type": "kernel.command", "command": {
        "type": "execute", "exec_id": "00000000-0000-0000-0000-000000000001", "cell_id": cell, "language": "python",
        "source": "import sys\nsys.runs = 1000\nsys.runs", "order": [cell], "runner": {"user_id": alice.pk, "username": alice.username},
        "record": {"user_id": alice.pk}}}
    # No token, a wrong one, a frame that is not JSON after the right one, an oversized frame: each connection is
    # closed by the host and nothing it sent runs.
    answered = _frame({"ok": True, "group": group_name(notebook.pk)})
    for first, then, answer in [
        (_frame(execute), b"", b""),
        (_frame({"token": "0" * 32}), _frame(execute), b""),
        (_frame({"token": route["token"]}), struct.pack(">I", 5) + b"{nope", answered),
        (_frame({"token": route["token"]}), struct.pack(">I", 64 * 1024 * 1024) + b"x" * 1024, answered),
        (_frame({"token": route["token"]}), _frame(["not", "a", "message"]), answered),
    ]:
        reader, writer = await asyncio.open_connection(route["address"], route["port"])
        writer.write(first + then)
        await writer.drain()
        assert await _answer_until_closed(reader) == answer
        writer.close()
    # The kernel ran none of it, and still runs the page's runs.
    assert await _run(page, cell) == "4"
    await page.close()


async def test_a_run_the_line_cannot_take_goes_through_redis(alice, alice_token, counter, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook, cell = counter
    page = NotebookClient(notebook.pk, token=alice_token)
    await page.connect()
    assert await _run(page, cell) == "1"
    route = await _route(notebook.pk, page, cell)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    session = await database_sync_to_async(lambda: KernelSession.objects.get(notebook=notebook, state__in=["idle", "busy"]))()
    count = 2
    for bad in [
        {**route, "port": refused_port},                       # nothing listens there
        {**route, "token": "f" * 32},                          # the host does not answer a wrong token
        {**route, "machine": "elsewhere"},                     # another machine's loopback
    ]:
        count += 1
        queued = await running.submit_run(alice, notebook.pk, scope="cell", cell_id=cell,
                                          live_channel=session.channel, role=Role.OWNER, route=bad)
        assert queued.cell_ids == [cell]
        result = await page.until(_result(cell))
        assert result["output"]["data"]["text/plain"] == str(count)
        await page.until(_idle)
    await page.close()


async def test_each_batch_reaches_each_page_once_and_in_order(alice, alice_token, counter, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """Both pages' connections are in this process, which holds a line to the host once the first page runs: each
    batch comes to both twice (the line, Redis) and is relayed once, in the host's order."""
    notebook, cell = counter
    runner, watcher = NotebookClient(notebook.pk, token=alice_token), NotebookClient(notebook.pk, token=alice_token)
    await runner.connect()
    await watcher.connect()
    assert await _run(runner, cell) == "1"
    assert await _run(runner, cell) == "2"  # the line opens with this run
    for _ in range(2):
        await watcher.until(lambda e: e["type"] == "cell_status" and e["state"] == "done")
    source = "for i in range(300):\n    print(i, flush=True)"
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source=source)
    for page in (runner, watcher):  # a run executes the draft as its page knows it
        await page.until(lambda e: e["type"] == "cell_updated")
    seen_before = {id(page): len(page.seen) for page in (runner, watcher)}
    for _ in range(5):
        await runner.reply(await runner.send("run_cell", cell_id=cell))
    expected = "".join(f"{i}\n" for i in range(300)) * 5

    for page in (runner, watcher):
        since = seen_before[id(page)]

        def finished(_: dict, page: NotebookClient = page, since: int = since) -> bool:  # type: ignore[type-arg]
            return sum(e["type"] == "cell_status" and e["state"] == "done" for e in page.seen[since:]) == 5

        if not finished({}):
            await page.until(finished, timeout=60)
        events = page.seen[since:]
        texts = [e["output"].get("text", "") for e in events if e["type"] == "output" and e["cell_id"] == cell]
        assert "".join(texts) == expected, " ".join(f'{e["type"]}:{e.get("state", "")}' for e in events if e["type"] != "output")
        # Each run started once, in order (their final states may come together: the host stores them in bursts).
        counts = [e["execution_count"] for e in events if e["type"] == "cell_status" and e["state"] == "running"]
        assert counts == list(range(counts[0], counts[0] + 5)), counts
    await runner.close()
    await watcher.close()
