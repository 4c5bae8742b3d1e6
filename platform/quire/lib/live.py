"""The live layer: how servers reach browsers' connections (notebook groups, one person's connections)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

# The channel layer of browsers' connections (see CHANNEL_LAYERS in settings).
LIVE_LAYER = "live"


def live_layer() -> Any:
    return get_channel_layer(LIVE_LAYER)


def user_group(user_id: int) -> str:
    """Every open connection of one person."""
    return f"user.{user_id}"


def publish_access_changed(user_id: int) -> None:
    """Once the current transaction commits: tell every connection of this person that what they may do changed
    (a team joined or left, a team role changed), so each checks its role again."""

    def send() -> None:
        layer = live_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "access.changed"})

    transaction.on_commit(send)
