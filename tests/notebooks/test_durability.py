"""Acknowledged edits survive a kill -9 of the server; the server keeps serving across a Redis restart."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async

from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from quire.accounts.services import do_issue_token
from tests.conftest import _test_database_env
from tests.support import free_port, port_open, start_daphne, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(port: int, notebook_id: int, token: str):  # type: ignore[no-untyped-def]
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/",
        additional_headers={"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=20,
    )
    snapshot = json.loads(await ws.recv())
    assert snapshot["type"] == "snapshot"
    return ws, snapshot


async def _reply(ws, req: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    while True:
        event = json.loads(await ws.recv())
        if event.get("type") in ("ack", "error") and event.get("req") == req:
            return event


async def test_acknowledged_edits_survive_kill_9(alice, process_logs: Path) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Durable")
    token = (await database_sync_to_async(do_issue_token)(alice, name="t")).key
    server, port = start_daphne(env=await database_sync_to_async(_test_database_env)(), log_dir=process_logs)
    try:
        ws, snapshot = await _connect(port, notebook.pk, token)
        cell = snapshot["notebook"]["cells"][0]["id"]
        for req in range(1, 21):
            await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": req, "cell_id": cell, "source": f"x = {req}"}))
        # The last acknowledgement, then the server dies at once.
        assert (await _reply(ws, 20))["type"] == "ack"
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
    finally:
        server.stop()
    stored = await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)
    assert stored.cells[0]["source"] == "x = 20"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A Redis of this test's own, so restarting it disturbs no one else."""
    port = free_port()
    argv = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    wait_until(lambda: port_open(port), timeout=10, what="redis")
    holder = {"process": process}
    yield port, tmp_path
    holder["process"].terminate()


async def test_the_server_keeps_serving_across_a_redis_restart(alice, process_logs: Path, private_redis) -> None:  # type: ignore[no-untyped-def]
    redis_port, redis_dir = private_redis
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Redis restart")
    token = (await database_sync_to_async(do_issue_token)(alice, name="t")).key
    env = {**await database_sync_to_async(_test_database_env)(), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    server, port = start_daphne(env=env, log_dir=process_logs)
    try:
        ws, snapshot = await _connect(port, notebook.pk, token)
        cell = snapshot["notebook"]["cells"][0]["id"]
        await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 1, "cell_id": cell, "source": "before"}))
        assert (await _reply(ws, 1))["type"] == "ack"

        subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown", "nosave"], check=False)
        wait_until(lambda: not port_open(redis_port), timeout=10, what="redis to stop")
        restarted = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(redis_dir)], stdout=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: port_open(redis_port), timeout=10, what="redis to restart")
            # A client reconnecting (as the page does on its own) is served, edits apply and are broadcast.
            await ws.close()
            ws, snapshot = await _connect(port, notebook.pk, token)
            assert snapshot["notebook"]["cells"][0]["source"] == "before"
            watcher, _ = await _connect(port, notebook.pk, token)
            await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 2, "cell_id": cell, "source": "after"}))
            assert (await _reply(ws, 2))["type"] == "ack"
            while (event := json.loads(await watcher.recv()))["type"] != "cell_updated":
                pass
            assert event["source"] == "after"
            await ws.close()
            await watcher.close()
        finally:
            restarted.terminate()
            restarted.wait(10)
    finally:
        server.stop()
