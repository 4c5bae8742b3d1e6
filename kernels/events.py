"""Publishing live events to everyone watching a notebook, always after the database commit they describe."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from kernels.limits import WS_CHUNK_CHARS
from kernels.messages import Chunk, KernelStatus, ServerMessage, encode, to_builtins
from quire.lib.live import LIVE_LAYER, group_send_heard, group_send_numbered, live_layer

__all__ = ["LIVE_LAYER", "live_layer", "group_name", "publish", "publish_access_change", "publish_now",
           "batch_message", "publish_batch"]

log = logging.getLogger(__name__)

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


def _envelope(event: ServerMessage, kernel_channel: str | None = None) -> dict[str, Any]:
    # Serialised once here, not once per viewer: every connection relays the same text.
    envelope = {"type": "notebook.event", "event": to_builtins(event), "text": encode(event)}
    if kernel_channel:
        # For the servers' connections only, never relayed: where the kernel that this event is about listens.
        envelope["kernel_channel"] = kernel_channel
    return envelope


def ephemeral(event: ServerMessage, *, sender: str) -> dict[str, Any]:
    """A channel-layer message carrying `event` to the notebook's connections other than `sender` (a channel
    name): for what nothing stores and a lost one costs nothing (a caret moving), so it is neither numbered nor
    caught up on, and never makes a connection resynchronise."""
    return {"type": "notebook.ephemeral", "text": encode(event), "sender": sender}


def publish(notebook_id: int, event: ServerMessage, *, kernel_channel: str | None = None) -> None:
    """Send `event` to the notebook's viewers once the current transaction (if any) commits."""
    _after_commit(notebook_id, _envelope(event, kernel_channel), what=type(event).__name__)


def publish_access_change(notebook_id: int) -> None:
    """Tell the notebook's connections, once the current transaction commits, that who may do what here changed
    (a share, a role): each reads its person's role again and sends them `grants_changed` with it, or closes.
    Numbered like every broadcast, so a lost one makes its viewers resynchronise."""
    _after_commit(notebook_id, {"type": "notebook.access"}, what="access change")


def _after_commit(notebook_id: int, envelope: dict[str, Any], *, what: str) -> None:
    def send() -> None:
        if live_layer() is None:
            return
        try:
            async_to_sync(group_send_numbered)(group_name(notebook_id), stream_key(notebook_id), envelope)
        except Exception:  # the change is stored: a lost broadcast is repaired, never reported as a failed change
            log.warning("notebook %s: broadcast of %s failed; its viewers will be resynchronised",
                        notebook_id, what, exc_info=True)
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


async def publish_now(notebook_id: int, event: ServerMessage) -> None:
    """Send an event that has no database write behind it (streamed output, the current statement)."""
    if live_layer() is not None:
        await _send_numbered(notebook_id, _envelope(event))


def batch_message(
    events: list[ServerMessage], *, kernel_channel: str | None = None, kernel_route: dict[str, Any] | None = None,
    batch: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """Several events in order, as one channel-layer message (a kernel host's relay). For the servers'
    connections only: `kernel_channel`, the host's command channel, `kernel_route`, its direct line
    (kernels/direct.py), the last kernel state in the batch, and `batch`, the relay's number for it."""
    message: dict[str, Any] = {"type": "notebook.events", "texts": [encode(event) for event in events]}
    states = [event.state for event in events if isinstance(event, KernelStatus)]
    if states:
        message["kernel_state"] = states[-1]
    if kernel_channel:
        message["kernel_channel"] = kernel_channel
        if kernel_route:
            message["kernel_route"] = kernel_route
    if batch is not None:
        message["batch"] = list(batch)
    return message


async def publish_batch(notebook_id: int, message: dict[str, Any]) -> None:
    """A `batch_message`, numbered, to everyone watching the notebook."""
    if live_layer() is not None:
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
        yield encode(Chunk(id=message_id, index=index, count=count, data=part))
