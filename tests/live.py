"""A WebSocket test client for the live notebook: the real consumer, driven in-process or over the network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.testing import WebsocketCommunicator

from quire.asgi import application
from tests.support import ChunkJoiner


class NotebookClient:
    """Speaks the notebook protocol through channels' WebsocketCommunicator against the real ASGI app."""

    def __init__(
        self, notebook_id: int, *, token: str | None = None, origin: str | None = "http://localhost",
        cookie: str | None = None,
    ) -> None:
        # A browser's handshake: the Host it connects to and the Origin of the page (None: no Origin sent).
        headers = [(b"host", b"localhost")]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        if token:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        self.comm = WebsocketCommunicator(application, f"/ws/notebooks/{notebook_id}/", headers=headers)
        self.req = 0
        self.seen: list[dict[str, Any]] = []
        self.chunks = ChunkJoiner()

    async def connect(self) -> dict[str, Any]:
        connected, _ = await self.comm.connect(timeout=10)
        assert connected
        return await self.next_event()

    async def send(self, message_type: str, **fields: Any) -> int:
        self.req += 1
        await self.comm.send_to(text_data=json.dumps({"v": 1, "type": message_type, "req": self.req, **fields}))
        return self.req

    async def send_raw(self, text: str) -> None:
        await self.comm.send_to(text_data=text)

    async def next_event(self, timeout: float = 10) -> dict[str, Any]:
        event = None
        while event is None:
            event = self.chunks.add(await self.comm.receive_from(timeout=timeout))
        self.seen.append(event)
        return event

    async def until(self, predicate: Any, *, timeout: float = 60) -> dict[str, Any]:
        """Read events until one matches; return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no matching event within {timeout} s; saw {self.seen[-10:]}")
            event = await self.next_event(timeout=remaining)
            if predicate(event):
                return event

    async def reply(self, req: int, *, timeout: float = 20) -> dict[str, Any]:
        return await self.until(lambda e: e.get("type") in ("ack", "error") and e.get("req") == req, timeout=timeout)

    async def close(self) -> None:
        await self.comm.disconnect()
