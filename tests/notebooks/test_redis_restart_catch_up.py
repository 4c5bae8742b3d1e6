"""A Redis kill -9 and restart under two editors and a runner: every open page catches up on its own."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async
from pycrdt import Doc, Map

from kernels.models import Execution
from notebooks import services
from notebooks.models import Notebook
from notebooks.sharing import check_share
from quire.accounts.services import do_issue_token
from tests.conftest import _test_database_env
from tests.notebooks.test_durability import _redis_argv
from tests.support import (
    check_server_message,
    free_port,
    port_open,
    start_celery_worker,
    start_daphne,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

RUN = "import time\nfor i in range(40):\n    print(f'line {i}', flush=True)\n    time.sleep(0.1)\n"
EDITS = 30


class Page:
    """What a browser's page holds of the notebook, kept by the server's messages alone (as the page does)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.doc: Doc = Doc()
        self.sources: dict[str, str] = {}
        self.states: dict[str, str | None] = {}
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.snapshots = 0
        self.req = 0
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            self.apply(check_server_message(frame))

    def apply(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind in ("ack", "error") and event.get("req") in self.replies:
            self.replies.pop(event["req"]).set_result(event)
        elif kind == "snapshot":
            self.snapshots += 1
            self.doc = Doc()
            self.doc.apply_update(base64.b64decode(event["notebook"]["ydoc"]))
            cells = event["notebook"]["cells"]
            self.sources = {c["id"]: c["source"] for c in cells}
            self.states = {c["id"]: c.get("state") for c in cells}
            self.outputs = {c["id"]: list(c["outputs"]) for c in cells}
        elif kind == "cell_updated":
            self.sources[event["cell_id"]] = event["source"]
        elif kind == "cell_status":
            self.states[event["cell_id"]] = event["state"]
            if event["state"] == "running":
                self.outputs[event["cell_id"]] = []
            if "outputs" in event:
                self.outputs[event["cell_id"]] = list(event["outputs"])
        elif kind == "output":
            self.outputs.setdefault(event["cell_id"], []).append(event["output"])
        elif kind == "cell_sync":
            self.states[event["cell_id"]] = event["state"]
            self.outputs[event["cell_id"]] = list(event["outputs"])
        if event.get("ydoc_update"):
            self.doc.apply_update(base64.b64decode(event["ydoc_update"]))

    async def ask(self, message_type: str, **fields: Any) -> dict[str, Any]:
        self.req += 1
        reply = self.replies[self.req] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"v": 1, "type": message_type, "req": self.req, **fields}))
        return await asyncio.wait_for(reply, 30)

    async def type(self, cell_id: str, chars: str) -> dict[str, Any]:
        before = self.doc.get_state()
        text = self.doc.get("sources", type=Map)[cell_id]
        text.insert(len(str(text)), chars)
        return await self.ask("edit_source", cell_id=cell_id,
                              update=base64.b64encode(self.doc.get_update(before)).decode())

    def text(self, cell_id: str) -> str:
        return str(self.doc.get("sources", type=Map)[cell_id])

    def printed(self, cell_id: str) -> str:
        return "".join(o.get("text", "") for o in self.outputs.get(cell_id, []) if o.get("output_type") == "stream")


async def _open(port: int, notebook_id: int, token: str) -> Page:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/", max_size=None, open_timeout=20,
        additional_headers={"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"},
    )
    page = Page(ws)
    await asyncio.wait_for(_until(lambda: page.snapshots > 0), 20)
    return page


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.05)


def _stored(notebook_id: int) -> tuple[dict[str, str], str | None, str]:
    # As every reader reads the draft: edits still in the notebook's update log folded in.
    notebook, _ = services.get_notebook(Notebook.objects.get(pk=notebook_id).owner, notebook_id)
    run = Execution.objects.filter(notebook_id=notebook_id).order_by("-queued_at").first()
    printed = "" if run is None else "".join(o.get("text", "") for o in run.outputs if o.get("output_type") == "stream")
    return {c["id"]: c["source"] for c in notebook.cells}, None if run is None else run.state, printed


async def test_every_open_page_matches_the_stored_notebook_after_redis_is_killed_and_restarted(  # type: ignore[no-untyped-def]
    alice, editor_ed, runner_rita, tmp_path: Path
) -> None:
    redis_port = free_port()
    redis = subprocess.Popen(_redis_argv(redis_port, tmp_path), stdout=subprocess.DEVNULL)
    wait_until(lambda: port_open(redis_port), timeout=10, what="redis")
    env = {**await database_sync_to_async(_test_database_env)(), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    worker = start_celery_worker(env=env, log_dir=tmp_path)
    server, port = start_daphne(env=env, log_dir=tmp_path)
    pages: list[Page] = []
    try:
        notebook = await database_sync_to_async(services.do_create_notebook)(alice, title="Through a Redis restart")
        run_cell = notebook.cells[0]["id"]
        await database_sync_to_async(services.check_update_source)(alice, notebook.pk, cell_id=run_cell, source=RUN)
        typed = (await database_sync_to_async(services.check_insert_cell)(
            alice, notebook.pk, index=1, language="python", source="")).result.cell["id"]
        for person, role in ((editor_ed, "editor"), (runner_rita, "runner")):
            await database_sync_to_async(check_share)(alice, notebook.pk, username=person.username, role=role)
        tokens = [(await database_sync_to_async(do_issue_token)(p, name="t")).key for p in (alice, editor_ed, runner_rita)]
        pages = [await _open(port, notebook.pk, token) for token in tokens]
        first_editor, second_editor, runner = pages

        async def typing(page: Page, mark: str) -> None:
            for n in range(EDITS):
                assert (await page.type(typed, f"{mark}{n} "))["type"] == "ack"
                await asyncio.sleep(0.1)

        assert (await runner.ask("run_cell", cell_id=run_cell))["type"] == "ack"
        await asyncio.wait_for(_until(lambda: "line 4\n" in runner.printed(run_cell)), 90)
        os.kill(redis.pid, signal.SIGKILL)
        redis.wait(10)
        redis = subprocess.Popen(_redis_argv(redis_port, tmp_path), stdout=subprocess.DEVNULL)
        wait_until(lambda: port_open(redis_port), timeout=10, what="redis to restart")
        # Typing resumes at once: its broadcasts go out while the servers' subscriptions are still coming back.
        await asyncio.gather(typing(first_editor, "a"), typing(second_editor, "b"))

        async def settled() -> tuple[dict[str, str], str | None, str]:
            while (stored := await database_sync_to_async(_stored)(notebook.pk))[1] not in ("done", "error"):
                await asyncio.sleep(0.2)
            return stored

        sources, state, printed = await asyncio.wait_for(settled(), 60)
        assert state == "done" and printed == "".join(f"line {i}\n" for i in range(40))
        assert all(f"a{n} " in sources[typed] and f"b{n} " in sources[typed] for n in range(EDITS))

        def same(page: Page) -> bool:
            return (page.sources == sources and page.text(typed) == sources[typed]
                    and page.states.get(run_cell) == state and page.printed(run_cell) == printed)

        try:
            # No reload: the pages stay connected and catch up by themselves.
            await asyncio.wait_for(_until(lambda: all(same(page) for page in pages)), 15)
        except TimeoutError:
            report = [(p.sources == sources, p.text(typed) == sources[typed], p.states.get(run_cell),
                       len(p.printed(run_cell).splitlines()), p.snapshots) for p in pages]
            raise AssertionError(f"pages differ from the stored notebook: {report}") from None
        assert all(page.reader.done() is False for page in pages), "a page's connection closed"
    finally:
        for page in pages:
            page.reader.cancel()
            await page.ws.close()
        server.stop()
        worker.stop()
        redis.kill()
        redis.wait(10)
