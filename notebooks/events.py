"""Publishing live events to everyone watching a notebook, always after the database commit they describe."""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from quire.lib.live import LIVE_LAYER, live_layer

__all__ = ["LIVE_LAYER", "live_layer", "group_name", "publish", "publish_now", "publish_batch_now"]

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1


def group_name(notebook_id: int) -> str:
    return f"notebook.{notebook_id}"


def _text(event: dict[str, Any]) -> str:
    """The event as its viewers receive it: serialised once here, not once per viewer."""
    return json.dumps({"v": PROTOCOL_VERSION, **event}, separators=(",", ":"))


def _envelope(event: dict[str, Any], kernel_channel: str | None = None) -> dict[str, Any]:
    envelope = {"type": "notebook.event", "event": {"v": PROTOCOL_VERSION, **event}, "text": _text(event)}
    if kernel_channel:
        # For the servers' connections only, never relayed: where the kernel that this event is about listens.
        envelope["kernel_channel"] = kernel_channel
    return envelope


def publish(notebook_id: int, event: dict[str, Any], *, kernel_channel: str | None = None) -> None:
    """Send `event` to the notebook's viewers once the current transaction (if any) commits."""

    def send() -> None:
        layer = live_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(group_name(notebook_id), _envelope(event, kernel_channel))

    transaction.on_commit(send)


async def publish_now(notebook_id: int, event: dict[str, Any]) -> None:
    """Send an event that has no database write behind it (streamed output, the current statement)."""
    layer = live_layer()
    if layer is not None:
        await layer.group_send(group_name(notebook_id), _envelope(event))


async def publish_batch_now(
    notebook_id: int, events: list[dict[str, Any]], *, kernel_channel: str | None = None
) -> None:
    """Several events in order, in one channel-layer message (a kernel host's relay). For the servers'
    connections only: `kernel_channel`, the host's command channel, and the last kernel state in the batch."""
    layer = live_layer()
    if layer is not None:
        message: dict[str, Any] = {"type": "notebook.events", "texts": [_text(event) for event in events]}
        states = [event["state"] for event in events if event.get("type") == "kernel_status"]
        if states:
            message["kernel_state"] = states[-1]
        if kernel_channel:
            message["kernel_channel"] = kernel_channel
        await layer.group_send(group_name(notebook_id), message)
