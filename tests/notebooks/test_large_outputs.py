"""Outputs of any size leave a notebook openable: against a live Daphne, Celery worker and sandboxed kernel, a cell
printing far more than a WebSocket frame holds sends only bounded frames, live and in every later snapshot, to its
owner and to a viewer; the output says what was kept, and the rest is read in pages through the REST API."""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import websockets
from channels.db import database_sync_to_async

from notebooks.limits import MAX_OUTPUT_HEAD_CHARS, MAX_WS_SEND_BYTES
from notebooks.services import check_update_source, do_create_notebook
from notebooks.sharing import check_share
from quire.accounts.services import do_issue_token
from tests.support import ChunkJoiner

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


class Socket:
    """A WebSocket to the live server that records the size of every frame it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.largest = 0
        self.chunks = ChunkJoiner()
        self.req = 0

    @classmethod
    async def open(cls, base: str, notebook_id: int, token: str) -> tuple[Socket, dict[str, Any]]:
        port = urlsplit(base).port
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/",
            additional_headers={"Authorization": f"Bearer {token}", "Origin": base},
            open_timeout=20, max_size=None,
        )
        socket = cls(ws)
        snapshot = await socket.next()
        assert snapshot["type"] == "snapshot", snapshot
        return socket, snapshot

    async def next(self, timeout: float = 120) -> dict[str, Any]:
        """The next message; `largest` is the largest message (its chunks together), not the largest frame."""
        event, size = None, 0
        while event is None:
            frame = await asyncio.wait_for(self.ws.recv(), timeout=timeout)
            size += len(frame.encode() if isinstance(frame, str) else frame)
            event = self.chunks.add(frame)
        self.largest = max(self.largest, size)
        return event

    async def until(self, predicate: Any, timeout: float = 240) -> list[dict[str, Any]]:
        """Every event up to and including the first that matches."""
        seen: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            event = await self.next(timeout=deadline - asyncio.get_running_loop().time())
            seen.append(event)
            if predicate(event):
                return seen

    async def send(self, message_type: str, **fields: Any) -> None:
        self.req += 1
        await self.ws.send(json.dumps({"v": 1, "type": message_type, "req": self.req, **fields}))


def _read_all(base: str, token: str, notebook_id: int, cell_id: str, n: int) -> tuple[str, int]:
    """The whole text of output n, read page by page; and how many pages it took."""
    text, offset, pages = "", 0, 0
    while offset is not None:
        connection = http.client.HTTPConnection("127.0.0.1", urlsplit(base).port, timeout=60)
        connection.request("GET", f"/api/notebooks/{notebook_id}/cells/{cell_id}/outputs/{n}/?offset={offset}"
                           "&limit=500000", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 200, body[:500]
        assert len(body) < 2 * 500_000 + 1_000
        page = json.loads(body)
        assert page["offset"] == offset
        text += page["text"]
        offset = page["next_offset"]
        pages += 1
    return text, pages


CASES = {
    # One print of 1.5 MB: one stream output larger than a frame.
    "one_large_print": ('print("x" * 1_500_000)', "x" * 1_500_000 + "\n", None),
    # 100,000 short lines: fine one by one, 1.2 MB together in the next snapshot.
    "many_lines": ("for i in range(100_000):\n    print(f'line {i:>6}')",
                   "".join(f"line {i:>6}\n" for i in range(100_000)), None),
    # One write of 200 MB: the kernel keeps the per-cell limit's worth and says so.
    "one_write_of_200_mb": ('import sys\nsys.stdout.write("y" * 200_000_000)', None, "kept the first 2.0 MB of 190.7 MB"),
    # One write of 1 GB: the same, without the kernel holding a second copy.
    "one_write_of_1_gb": ('import sys\nsys.stdout.write("z" * 1_000_000_000)', None, "kept the first 2.0 MB of 953.7 MB"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_large_output_leaves_the_notebook_openable(  # type: ignore[no-untyped-def]
    case, live_daphne, alice, bob
) -> None:
    source, expected, truncated = CASES[case]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Loud")
    cell_id = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell_id, source=source)
    await database_sync_to_async(check_share)(alice, notebook.pk, username="bob", role="viewer")
    alice_token = (await database_sync_to_async(do_issue_token)(alice, name="a")).key
    bob_token = (await database_sync_to_async(do_issue_token)(bob, name="b")).key

    owner, _ = await Socket.open(live_daphne, notebook.pk, alice_token)
    watcher, _ = await Socket.open(live_daphne, notebook.pk, bob_token)
    await owner.send("run_cell", cell_id=cell_id)

    def done(event: dict[str, Any]) -> bool:
        return event["type"] == "cell_status" and event["cell_id"] == cell_id and event["state"] in ("done", "error")

    for live in (owner, watcher):
        seen = await live.until(done)
        assert seen[-1]["state"] == "done"
        assert live.largest <= MAX_WS_SEND_BYTES
        # The live head, and word that there is more.
        outputs = [e for e in seen if e["type"] == "output" and e["cell_id"] == cell_id]
        shown = "".join(e["output"].get("text", "") for e in outputs if e["output"].get("name") == "stdout")
        assert 0 < len(shown) <= MAX_OUTPUT_HEAD_CHARS
        assert any(e["output"].get("more") for e in outputs)
    await owner.ws.close()
    await watcher.ws.close()

    # Every later open, by either, gets a bounded snapshot: the head of the output, its reference and the notice.
    for token in (alice_token, bob_token):
        socket, snapshot = await Socket.open(live_daphne, notebook.pk, token)
        assert socket.largest <= MAX_WS_SEND_BYTES
        cell = next(c for c in snapshot["notebook"]["cells"] if c["id"] == cell_id)
        stdout = next(o for o in cell["outputs"] if o.get("name") == "stdout")
        assert 0 < len(stdout["text"]) <= MAX_OUTPUT_HEAD_CHARS
        assert stdout["more"]["n"] == cell["outputs"].index(stdout)
        assert stdout["more"]["chars"] > len(stdout["text"])
        notices = "".join(o.get("text", "") for o in cell["outputs"] if o.get("name") == "stderr")
        if truncated:
            assert f"output truncated: {truncated}" in notices
        else:
            assert "truncated" not in notices
        # It stays open and usable.
        await socket.send("focus", cell_id=cell_id)
        await socket.until(lambda e: e["type"] == "ack")
        await socket.ws.close()

        text, pages = _read_all(live_daphne, token, notebook.pk, cell_id, stdout["more"]["n"])
        assert pages > 1
        assert len(text) == stdout["more"]["chars"]
        if expected is not None:
            assert text == expected
        else:
            written = source[source.index('"') + 1]  # the one character the cell writes over and over
            assert text == written * len(text) and len(text) == 2 * 1024 * 1024
