"""The live notebook WebSocket: checks every message against the caller's role and relays notebook events."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from kernels import services as kernel_services
from notebooks import services
from notebooks.events import group_name
from notebooks.snapshot import build_snapshot
from quire.lib.errors import InvalidInput, QuireError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
# Close codes in the private range: the page shows "not found" / "sign in" instead of retrying forever.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404

Handler = Callable[["NotebookConsumer", dict[str, Any]], Awaitable[dict[str, Any]]]


def _field(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidInput(f"{message.get('type')} needs {name!r} ({kind.__name__})", field=name)
    return value


class NotebookConsumer(AsyncWebsocketConsumer):
    notebook_id: int
    group: str

    async def connect(self) -> None:
        self.notebook_id = int(self.scope["url_route"]["kwargs"]["notebook_id"])
        self.group = group_name(self.notebook_id)
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self._send({"type": "error", "req": None, "code": "unauthenticated", "message": "sign in first"})
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # Join before reading the snapshot so no event falls between the two.
        await self.channel_layer.group_add(self.group, self.channel_name)
        try:
            snapshot, _ = await database_sync_to_async(build_snapshot)(user, self.notebook_id)
        except QuireError as exc:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self._send({"type": "error", "req": None, "code": exc.code, "message": exc.message})
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self._send(snapshot)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        req: Any = None
        try:
            if text_data is None:
                raise InvalidInput("messages are JSON text frames")
            if len(text_data) > MAX_MESSAGE_BYTES:
                raise InvalidInput(f"message larger than {MAX_MESSAGE_BYTES} bytes", extra={"code": "too_large"})
            try:
                message = json.loads(text_data)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"malformed JSON: {exc.msg}") from None
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise InvalidInput("a message is a JSON object with a string 'type'")
            req = message.get("req")
            handler = HANDLERS.get(message["type"])
            if handler is None:
                raise InvalidInput(f"unknown message type {message['type']!r}", extra={"code": "unknown_type"})
            reply = await handler(self, message)
            await self._send({"type": "ack", "req": req, **reply})
        except QuireError as exc:
            body = exc.as_dict()
            await self._send(
                {"type": "error", "req": req, "code": body.get("code", exc.code), "message": exc.message,
                 **({"field": exc.field} if exc.field else {})}
            )
        except Exception:  # process boundary: one bad message must not kill the connection
            log.exception("notebook %s: message handling failed", self.notebook_id)
            await self._send({"type": "error", "req": req, "code": "internal", "message": "internal error"})

    async def notebook_event(self, message: dict[str, Any]) -> None:
        await self._send(message["event"])

    async def _send(self, body: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"v": 1, **body}, separators=(",", ":")))

    # ------------------------------------------------------------------ handlers, one per message type

    @property
    def user(self) -> Any:
        return self.scope["user"]

    async def on_insert_cell(self, message: dict[str, Any]) -> dict[str, Any]:
        cell = message.get("cell") or {}
        if not isinstance(cell, dict):
            raise InvalidInput("insert_cell needs 'cell' (object)", field="cell")
        change = await database_sync_to_async(services.check_insert_cell)(
            self.user, self.notebook_id, index=_field(message, "index", int),
            language=str(cell.get("language", "python")), source=str(cell.get("source", "")),
        )
        return {"cell_id": change.result["cell"]["id"], "revision": change.revision}

    async def on_update_cell(self, message: dict[str, Any]) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_update_source)(
            self.user, self.notebook_id, cell_id=_field(message, "cell_id", str), source=_field(message, "source", str)
        )
        return {"revision": change.revision}

    async def on_set_language(self, message: dict[str, Any]) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_set_language)(
            self.user, self.notebook_id, cell_id=_field(message, "cell_id", str),
            language=_field(message, "language", str),
        )
        return {"revision": change.revision}

    async def on_delete_cell(self, message: dict[str, Any]) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_delete_cell)(
            self.user, self.notebook_id, cell_id=_field(message, "cell_id", str)
        )
        return {"revision": change.revision}

    async def on_move_cell(self, message: dict[str, Any]) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_move_cell)(
            self.user, self.notebook_id, cell_id=_field(message, "cell_id", str), index=_field(message, "index", int)
        )
        return {"revision": change.revision}

    async def on_run_cell(self, message: dict[str, Any]) -> dict[str, Any]:
        queued = await database_sync_to_async(kernel_services.check_run_cell)(
            self.user, self.notebook_id, cell_id=_field(message, "cell_id", str)
        )
        return {"execution_id": str(queued.execution_id)}

    async def on_interrupt(self, message: dict[str, Any]) -> dict[str, Any]:
        sent = await database_sync_to_async(kernel_services.check_interrupt)(self.user, self.notebook_id)
        return {"interrupted": sent}

    async def on_shutdown(self, message: dict[str, Any]) -> dict[str, Any]:
        sent = await database_sync_to_async(kernel_services.check_shutdown)(self.user, self.notebook_id)
        return {"stopping": sent}


HANDLERS: dict[str, Handler] = {
    "insert_cell": NotebookConsumer.on_insert_cell,
    "update_cell": NotebookConsumer.on_update_cell,
    "set_language": NotebookConsumer.on_set_language,
    "delete_cell": NotebookConsumer.on_delete_cell,
    "move_cell": NotebookConsumer.on_move_cell,
    "run_cell": NotebookConsumer.on_run_cell,
    "interrupt": NotebookConsumer.on_interrupt,
    "shutdown": NotebookConsumer.on_shutdown,
}
