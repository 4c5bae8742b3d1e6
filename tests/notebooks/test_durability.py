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
from tests.support import check_server_message, free_port, port_open, start_daphne, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(port: int, notebook_id: int, token: str):  # type: ignore[no-untyped-def]
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/",
        additional_headers={"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=20,
    )
    snapshot = check_server_message(await ws.recv())
    assert snapshot["type"] == "snapshot"
    return ws, snapshot


async def _reply(ws, req: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    while True:
        event = check_server_message(await ws.recv())
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


def _redis_argv(port: int, directory: Path) -> list[str]:
    return [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(directory)]


def _restart_redis(port: int, directory: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """Shut the test's own Redis down (nothing saved) and start a fresh one on the same port."""
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
    wait_until(lambda: not port_open(port), timeout=10, what="redis to stop")
    restarted = subprocess.Popen(_redis_argv(port, directory), stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open(port), timeout=10, what="redis to restart")
    except BaseException:
        restarted.terminate()
        raise
    return restarted


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A Redis of this test's own, so restarting it disturbs no one else."""
    port = free_port()
    process = subprocess.Popen(_redis_argv(port, tmp_path), stdout=subprocess.DEVNULL)
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

        restarted = _restart_redis(redis_port, redis_dir)
        try:
            # A client reconnecting (as the page does on its own) is served, edits apply and are broadcast.
            await ws.close()
            ws, snapshot = await _connect(port, notebook.pk, token)
            assert snapshot["notebook"]["cells"][0]["source"] == "before"
            watcher, _ = await _connect(port, notebook.pk, token)
            await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 2, "cell_id": cell, "source": "after"}))
            assert (await _reply(ws, 2))["type"] == "ack"
            while (event := check_server_message(await watcher.recv()))["type"] != "cell_updated":
                pass
            assert event["source"] == "after"
            await ws.close()
            await watcher.close()
        finally:
            restarted.terminate()
            restarted.wait(10)
    finally:
        server.stop()


def _result(event: dict) -> bool:  # type: ignore[type-arg]
    return event.get("type") == "output" and event["output"].get("output_type") == "execute_result"


async def _until(ws, match, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def,type-arg]
    import asyncio

    async def wait() -> dict:  # type: ignore[type-arg]
        while not match(event := check_server_message(await ws.recv())):
            pass
        return event

    return await asyncio.wait_for(wait(), timeout)


async def test_a_running_kernel_keeps_serving_across_a_redis_restart(alice, process_logs: Path, private_redis) -> None:  # type: ignore[no-untyped-def]
    """The kernel host listens again on both its command channels once Redis is back: runs reach it (through its
    queue if its pub/sub subscription is not back yet), and so do commands sent only through the queue (a
    shutdown)."""
    redis_port, redis_dir = private_redis
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Kernel across a restart")
    token = (await database_sync_to_async(do_issue_token)(alice, name="t")).key
    env = {**await database_sync_to_async(_test_database_env)(), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "QUIRE_KERNEL_HOST": "inprocess"}
    server, port = start_daphne(env=env, log_dir=process_logs)
    try:
        ws, snapshot = await _connect(port, notebook.pk, token)
        cell = snapshot["notebook"]["cells"][0]["id"]
        await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 1, "cell_id": cell, "source": "6 * 7"}))
        assert (await _reply(ws, 1))["type"] == "ack"
        await ws.send(json.dumps({"v": 1, "type": "run_cell", "req": 2, "cell_id": cell}))
        assert (await _until(ws, _result))["output"]["data"]["text/plain"] == "42"
        await _until(ws, lambda e: e.get("type") == "kernel_status" and e["state"] == "idle", timeout=30)

        restarted = _restart_redis(redis_port, redis_dir)
        try:
            # The page reconnects on its own (its snapshot and the host's sync catch it up) and runs the cell again.
            await ws.close()
            ws, snapshot = await _connect(port, notebook.pk, token)
            assert snapshot["kernel"]["state"] == "idle"
            for req in (3, 4):
                await ws.send(json.dumps({"v": 1, "type": "run_cell", "req": req, "cell_id": cell}))
                reply = await _reply(ws, req)
                assert reply["type"] == "ack", reply
                assert (await _until(ws, _result, timeout=30))["output"]["data"]["text/plain"] == "42"
            await ws.send(json.dumps({"v": 1, "type": "shutdown", "req": 5}))
            assert (await _reply(ws, 5))["stopping"] is True
            await _until(ws, lambda e: e.get("type") == "kernel_status" and e["state"] == "stopped", timeout=30)
            await ws.close()
        finally:
            restarted.terminate()
            restarted.wait(10)
    finally:
        server.stop()


async def test_a_run_that_no_host_hears_live_waits_in_the_hosts_queue() -> None:
    """Pub/sub keeps nothing: a run published to a host's live channel while nobody listens there goes to the
    host's queue instead, and the rest of the run follows it there, in order."""
    import asyncio
    import secrets

    from channels.layers import get_channel_layer

    from kernels.services import QueuedRun, dispatch_run, live_command_channel
    from quire.lib.live import live_layer, send_heard

    channel = f"kernel.{secrets.token_hex(8)}"
    commands = [{"type": "execute", "exec_id": str(n), "cell_id": "c", "language": "python", "source": str(n),
                 "order": ["c"]} for n in range(2)]
    await dispatch_run(QueuedRun(notebook_id=1, execution_ids=[], cell_ids=[], channel=channel, commands=commands),
                       live=True)
    queue = get_channel_layer()
    assert [(await asyncio.wait_for(queue.receive(channel), 5))["command"] for _ in commands] == commands

    # With the host listening, the live channel carries it.
    live = live_command_channel(channel)
    heard: asyncio.Queue[dict] = asyncio.Queue()  # type: ignore[type-arg]

    async def listen() -> None:
        while True:
            await heard.put(await live_layer().receive(live))

    listener = asyncio.create_task(listen())
    while not await send_heard(live, {"type": "kernel.probe"}):  # until the subscription has reached Redis
        await asyncio.sleep(0.05)
    await dispatch_run(QueuedRun(notebook_id=1, execution_ids=[], cell_ids=[], channel=channel,
                                 commands=commands[:1]), live=True)
    while (message := await asyncio.wait_for(heard.get(), 5))["type"] == "kernel.probe":
        pass
    assert message["command"] == commands[0]
    listener.cancel()


def _stop_redis(port: int) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False, capture_output=True)
    wait_until(lambda: not port_open(port), timeout=10, what="redis to stop")


def _start_redis(port: int, directory: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    started = subprocess.Popen(_redis_argv(port, directory), stdout=subprocess.DEVNULL)
    wait_until(lambda: port_open(port), timeout=10, what="redis to start")
    return started


async def test_edits_during_a_redis_outage_are_acked_exactly_when_applied(  # type: ignore[no-untyped-def]
    alice, process_logs: Path, private_redis
) -> None:
    """With Redis down, every edit is either acknowledged and stored or refused and not stored; a retried insert
    with the same client-chosen id inserts once; once Redis is back, a viewer that missed the broadcasts is brought
    up to date without reconnecting."""
    import asyncio

    redis_port, redis_dir = private_redis
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Outage")
    token = (await database_sync_to_async(do_issue_token)(alice, name="t")).key
    env = {**await database_sync_to_async(_test_database_env)(), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    server, port = start_daphne(env=env, log_dir=process_logs)
    restarted = None
    try:
        ws, snapshot = await _connect(port, notebook.pk, token)
        watcher, _ = await _connect(port, notebook.pk, token)
        first = snapshot["notebook"]["cells"][0]["id"]
        _stop_redis(redis_port)

        edits: list[dict] = []  # type: ignore[type-arg]
        for n in range(6):
            edits.append({"type": "insert_cell", "index": n + 1, "cell": {"id": f"new{n}", "source": f"y = {n}"}})
        edits += [
            {"type": "update_cell", "cell_id": first, "source": "x = 1"},
            {"type": "set_language", "cell_id": "new0", "language": "sql"},
            {"type": "move_cell", "cell_id": "new1", "index": 0},
            {"type": "delete_cell", "cell_id": "new2"},
            {"type": "update_cell", "cell_id": "new3", "source": "z = 3"},
            # Refused by the server: an index out of range, a cell that is not there, a language it does not know.
            {"type": "insert_cell", "index": 99, "cell": {"id": "never1", "source": "no"}},
            {"type": "update_cell", "cell_id": "nosuchcell", "source": "no"},
            {"type": "set_language", "cell_id": "new4", "language": "cobol"},
            # A retry of an insert that was applied: the same answer, not a second cell.
            {"type": "insert_cell", "index": 1, "cell": {"id": "new5", "source": "y = 5"}},
            {"type": "update_cell", "cell_id": "new4", "source": "w = 4"},
        ]
        assert len(edits) == 16
        replies = []
        for req, edit in enumerate(edits, start=1):
            await ws.send(json.dumps({"v": 1, "req": req, **edit}))
            replies.append(await asyncio.wait_for(_reply(ws, req), 30))
        outcome = [(edit["type"], reply["type"], reply.get("code")) for edit, reply in zip(edits, replies, strict=True)]
        refused = {12, 13, 14}
        for number, reply in enumerate(replies, start=1):
            if number in refused:
                assert reply["type"] == "error" and reply["code"] in ("invalid", "not_found"), (number, outcome)
            else:
                assert reply["type"] == "ack", outcome
        assert replies[14]["cell_id"] == "new5"

        stored = await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)
        cells = {cell["id"]: cell for cell in stored.cells}
        ids = [cell["id"] for cell in stored.cells]
        assert ids == ["new1", first, "new0", "new3", "new4", "new5"]
        assert (cells[first]["source"], cells["new0"]["language"], cells["new3"]["source"], cells["new4"]["source"]) \
            == ("x = 1", "sql", "z = 3", "w = 4")
        assert cells["new4"]["language"] == "python" and "never1" not in cells

        restarted = _start_redis(redis_port, redis_dir)
        # The watcher missed every broadcast of the outage; it is sent the notebook as it now is.
        while True:
            event = check_server_message(await asyncio.wait_for(watcher.recv(), 60))
            if event["type"] == "snapshot":
                break
        assert [cell["id"] for cell in event["notebook"]["cells"]] == ids
        assert event["notebook"]["revision"] == stored.revision
        await ws.close()
        await watcher.close()
    finally:
        server.stop()
        if restarted is not None:
            restarted.terminate()
            restarted.wait(10)


def test_a_rest_write_is_answered_by_what_was_stored_when_redis_is_away(alice, bob, settings) -> None:  # type: ignore[no-untyped-def]
    """The same over REST: with the live layer unreachable (nothing listens on its port), a draft write, a
    clearing of outputs and a new team member are stored and answered as such, not 500."""
    from django.test import Client

    notebook = do_create_notebook(alice, title="No broadcast")
    settings.CHANNEL_LAYERS = {
        **settings.CHANNEL_LAYERS,
        "live": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                 "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]}},
    }
    client = Client()
    client.force_login(alice)
    cells = [{"id": "kept", "language": "python", "source": "stored = True"}]
    response = client.put(f"/api/notebooks/{notebook.pk}/draft/", {"revision": notebook.revision, "cells": cells},
                          content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["revision"] == notebook.revision + 1
    response = client.post(f"/api/notebooks/{notebook.pk}/outputs/clear/", {}, content_type="application/json")
    assert response.status_code == 200, response.content
    stored = Notebook.objects.get(pk=notebook.pk)
    assert [cell["source"] for cell in stored.cells] == ["stored = True"]
    assert stored.revision == notebook.revision + 2

    from quire.teams.models import Membership

    assert client.post("/api/teams/", {"name": "Acme"}, content_type="application/json").status_code == 201
    response = client.post("/api/teams/acme/members/", {"username": "bob"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert Membership.objects.filter(team__slug="acme", user=bob).exists()
