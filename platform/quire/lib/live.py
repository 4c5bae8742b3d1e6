"""The live layer: how servers reach browsers' connections (notebook groups, one person's connections)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction

log = logging.getLogger(__name__)

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
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "access.changed"})
        except Exception:  # the change is stored; open connections read roles again within ROLE_FRESH_S anyway
            log.warning("user %s: access change could not be announced", user_id, exc_info=True)

    transaction.on_commit(send)


async def send_heard(channel: str, message: dict[str, Any], *, before: Callable[[Any], None] | None = None) -> bool:
    """Send on the live layer to a channel someone must be listening on; False when no one heard it.

    Pub/sub keeps nothing for a listener that is not there (a kernel host that has not yet subscribed again
    after Redis restarted, say), so the caller needs to know. Redis's PUBLISH answers how many received the
    message; channels_redis's `send` drops that answer, so this publishes through the layer's own connection
    for the channel (channels_redis 4's shard, which also serialises publishes on it). The in-memory layer of
    embedded mode keeps messages until read: always heard.

    `before` adds commands for the same Redis to a pipeline that runs them ahead of the publish, in the same
    round trip (what must be stored before anyone can hear the message); Redis layers only.
    """
    layer = live_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        if before is not None:
            raise ValueError("commands before a publish need the Redis live layer")
        await layer.send(channel, message)
        return True
    shard = layer._get_layer()._get_shard(channel)
    async with shard._lock:
        shard._ensure_redis()
        if before is None:
            receivers = await shard._redis.publish(channel, layer.serialize(message))
        else:
            async with shard._redis.pipeline(transaction=False) as pipe:
                before(pipe)
                pipe.publish(channel, layer.serialize(message))
                receivers = (await pipe.execute())[-1]
    return bool(receivers)


async def group_send_heard(group: str, message: dict[str, Any]) -> bool:
    """Send to a group on the live layer; False when nobody in it heard it (see `send_heard`). Raises when the
    layer cannot be reached."""
    layer = live_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        await layer.group_send(group, message)
        return True
    inner = layer._get_layer()
    channel = inner._get_group_channel_name(group)
    shard = inner._get_shard(channel)
    async with shard._lock:
        shard._ensure_redis()
        receivers = await shard._redis.publish(channel, layer.serialize(message))
    return bool(receivers)
