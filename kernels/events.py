"""Publishing live events to everyone watching a notebook, always after the database commit they describe."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from kernels.limits import WS_CHUNK_CHARS
from quire.lib.live import LIVE_LAYER, group_send_heard, group_send_numbered, live_layer

__all__ = ["LIVE_LAYER", "SERVER_MESSAGE_TYPES", "live_layer", "group_name", "publish", "publish_now",
           "publish_batch_now"]

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1

# Every message the server sends a browser, by `type`: the one list. Publishers and the consumer refuse any other
# (`check_type`); docs/protocol.md shows each, and the page has a handler for each (frontend/src/protocol.ts;
# frontend/src/serverMessageTypes.json is this list, written by `python -m kernels.events`).
SERVER_MESSAGE_TYPES = frozenset({
    # Replies to one connection
    "snapshot", "ack", "error", "chunk", "cell_sync", "resync",
    # The notebook, its cells and its people
    "cell_inserted", "cell_updated", "cell_language", "cell_deleted", "cell_moved", "outputs_cleared", "cell_hidden",
    "draft_replaced", "notebook_renamed", "notebook_deleted", "version_saved", "grants_changed", "presence",
    "config_changed", "environment", "environment_notice", "notice",
    # Relayed between connections, never stored or numbered
    "cursor",
    # Runs and the kernel
    "kernel_status", "cell_status", "statement", "output", "cell_result", "cells_stale", "tasks", "spark_progress",
    # A running cell asks the person who ran it for a line (input(), getpass()), and stops asking
    "input_request", "input_done",
})

# A notebook whose broadcast failed (Redis unreachable) is repaired by telling its viewers to read it again
# (`notebook.resync`): tried every REPAIR_EVERY_S until a viewer hears it, for at most REPAIR_FOR_S (after that
# nobody who missed anything is still connected to hear it, or their next reconnect reads the database anyway).
REPAIR_EVERY_S = 1.0
REPAIR_FOR_S = 600.0


def group_name(notebook_id: int) -> str:
    return f"notebook.{notebook_id}"


def stream_key(notebook_id: int) -> str:
    """Where the notebook's broadcast stream keeps its epoch and last sequence number (see group_send_numbered)."""
    return f"stream.{notebook_id}"


def check_type(message: dict[str, Any]) -> None:
    """A message for browsers names a type of SERVER_MESSAGE_TYPES; any other is a programming error, refused
    before anything is sent (a page would drop it)."""
    if message.get("type") not in SERVER_MESSAGE_TYPES:
        raise ValueError(f"{message.get('type')!r} is not a server message type (kernels.events.SERVER_MESSAGE_TYPES)")


def _text(event: dict[str, Any]) -> str:
    """The event as its viewers receive it: serialised once here, not once per viewer."""
    check_type(event)
    return json.dumps({"v": PROTOCOL_VERSION, **event}, separators=(",", ":"))


def _envelope(event: dict[str, Any], kernel_channel: str | None = None) -> dict[str, Any]:
    envelope = {"type": "notebook.event", "event": {"v": PROTOCOL_VERSION, **event}, "text": _text(event)}
    if kernel_channel:
        # For the servers' connections only, never relayed: where the kernel that this event is about listens.
        envelope["kernel_channel"] = kernel_channel
    return envelope


def ephemeral(event: dict[str, Any], *, sender: str) -> dict[str, Any]:
    """A channel-layer message carrying `event` to the notebook's connections other than `sender` (a channel
    name): for what nothing stores and a lost one costs nothing (a caret moving), so it is neither numbered nor
    caught up on, and never makes a connection resynchronise."""
    return {"type": "notebook.ephemeral", "text": _text(event), "sender": sender}


def publish(notebook_id: int, event: dict[str, Any], *, kernel_channel: str | None = None) -> None:
    """Send `event` to the notebook's viewers once the current transaction (if any) commits."""
    envelope = _envelope(event, kernel_channel)

    def send() -> None:
        if live_layer() is None:
            return
        try:
            async_to_sync(group_send_numbered)(group_name(notebook_id), stream_key(notebook_id), envelope)
        except Exception:  # the change is stored: a lost broadcast is repaired, never reported as a failed change
            log.warning("notebook %s: broadcast of %s failed; its viewers will be resynchronised",
                        notebook_id, event.get("type"), exc_info=True)
            _repairs.add(notebook_id)

    transaction.on_commit(send)


class _Repairs:
    """Notebooks whose viewers missed a broadcast, and the one thread of this process that resynchronises them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: dict[int, float] = {}
        self._thread: threading.Thread | None = None

    def add(self, notebook_id: int) -> None:
        with self._lock:
            self._since.setdefault(notebook_id, time.monotonic())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="quire-broadcast-repair", daemon=True)
                self._thread.start()

    def pending(self) -> list[int]:
        with self._lock:
            return list(self._since)

    def _run(self) -> None:
        # One loop for the thread's life: the live layer keeps a connection per event loop.
        loop = asyncio.new_event_loop()
        try:
            self._repair(loop)
        finally:
            loop.close()

    def _repair(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            time.sleep(REPAIR_EVERY_S)
            with self._lock:
                if not self._since:
                    self._thread = None
                    return
                due = dict(self._since)
            for notebook_id, since in due.items():
                try:
                    heard = loop.run_until_complete(
                        group_send_heard(group_name(notebook_id), {"type": "notebook.resync"})
                    )
                except Exception:  # Redis still away: try again later
                    heard = False
                if heard or time.monotonic() - since > REPAIR_FOR_S:
                    with self._lock:
                        if self._since.get(notebook_id) == since:
                            del self._since[notebook_id]


_repairs = _Repairs()


async def _send_numbered(notebook_id: int, message: dict[str, Any]) -> None:
    try:
        await group_send_numbered(group_name(notebook_id), stream_key(notebook_id), message)
    except Exception:
        # Lost before it was numbered, so no viewer sees a gap: they are told to read the notebook again instead.
        _repairs.add(notebook_id)
        raise


async def publish_now(notebook_id: int, event: dict[str, Any]) -> None:
    """Send an event that has no database write behind it (streamed output, the current statement)."""
    if live_layer() is not None:
        await _send_numbered(notebook_id, _envelope(event))


async def publish_batch_now(
    notebook_id: int, events: list[dict[str, Any]], *, kernel_channel: str | None = None
) -> None:
    """Several events in order, in one channel-layer message (a kernel host's relay). For the servers'
    connections only: `kernel_channel`, the host's command channel, and the last kernel state in the batch."""
    if live_layer() is not None:
        message: dict[str, Any] = {"type": "notebook.events", "texts": [_text(event) for event in events]}
        states = [event["state"] for event in events if event.get("type") == "kernel_status"]
        if states:
            message["kernel_state"] = states[-1]
        if kernel_channel:
            message["kernel_channel"] = kernel_channel
        await _send_numbered(notebook_id, message)


def chunked(text: str) -> Iterator[str]:
    """One message the server sends, as it goes on the wire: itself, or `chunk` messages of at most
    WS_CHUNK_CHARS of its text each, in order, which the client joins and reads as the message."""
    if len(text) <= WS_CHUNK_CHARS:
        yield text
        return
    message_id = secrets.token_hex(6)
    count = -(-len(text) // WS_CHUNK_CHARS)
    for index in range(count):
        part = text[index * WS_CHUNK_CHARS:(index + 1) * WS_CHUNK_CHARS]
        yield json.dumps({"v": PROTOCOL_VERSION, "type": "chunk", "id": message_id, "index": index, "count": count,
                          "data": part}, separators=(",", ":"), ensure_ascii=False)


if __name__ == "__main__":
    # The list the front end's handlers are checked against (frontend/src/serverMessageTypes.json).
    print(json.dumps(sorted(SERVER_MESSAGE_TYPES), indent=2))
