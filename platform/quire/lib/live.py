"""The live layer: how servers reach browsers' connections (notebook groups, one person's connections)."""

from __future__ import annotations

import logging
import secrets
import weakref
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction

log = logging.getLogger(__name__)

# A numbered stream's epoch and counter outlive quiet spells of this long; one that expired starts a new epoch,
# which its listeners take as a gap (a resync they did not need, once in a day of silence).
STREAM_TTL_S = 86400

# Numbers and publishes in one step, so the numbers reach every listener in the order Redis published them. The
# message comes as msgpack with room for two more map entries (see group_send_numbered); `seq` and `epoch` are
# appended. A Redis that lost the key (restarted without persistence, evicted it) starts a fresh epoch, so its
# listeners never mistake a reset counter for a continued one.
_NUMBERED_PUBLISH = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[1] .. cmsgpack.pack('seq', seq, 'epoch', epoch))
return seq
"""
_scripts: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

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


def serialize_live(message: dict[str, Any]) -> bytes | None:
    """`message` as the live layer carries it between processes; None for the in-memory layer (embedded mode),
    which carries nothing between processes."""
    layer = live_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    body: bytes = layer.serialize(message)
    return body


def deliver_locally(group: str, body: bytes) -> int:
    """Hand a message serialised by `serialize_live` to this process's listeners in `group`, behind what each has
    yet to read, as if the live layer had carried it; how many there were. For what reaches this process another
    way than Redis (a kernel host's direct line, kernels/direct.py)."""
    layer = live_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return 0
    inner = layer._get_layer()
    count = 0
    for channel in inner.groups.get(inner._get_group_channel_name(group), ()):
        queue = inner.channels.get(channel)
        if queue is not None:
            queue.put_nowait(body)
            count += 1
    return count


async def group_send_numbered(group: str, stream: str, message: dict[str, Any]) -> None:
    """Send to a group on the live layer with the next number of `stream`: the message arrives with `seq` (1, 2,
    3, ... per stream) and `epoch` (which changes when Redis lost the count). A listener that sees a number
    skipped, or a new epoch, knows it missed something. The in-memory layer of embedded mode loses nothing and
    numbers nothing."""
    layer = live_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        await layer.group_send(group, message)
        return
    body = layer.serialize(message)
    # A msgpack map of up to 13 entries starts with one byte, 0x80 + its size: two more fit in that byte.
    if layer._serializer.crypter is not None or not 0x80 <= body[0] <= 0x8D:
        raise ValueError("a numbered message is a plain msgpack map of at most 13 entries")
    inner = layer._get_layer()
    channel = inner._get_group_channel_name(group)
    shard = inner._get_shard(channel)
    async with shard._lock:
        shard._ensure_redis()
        script = _scripts.get(shard._redis)
        if script is None:
            script = _scripts[shard._redis] = shard._redis.register_script(_NUMBERED_PUBLISH)
        await script(keys=[f"{inner.prefix}{stream}", channel],
                     args=[bytes([body[0] + 2]) + body[1:], secrets.token_hex(8), STREAM_TTL_S])


class _ReconnectWatch:
    """Tells this process's listeners on a pub/sub connection when it came back after being lost: what was
    published meanwhile never reached them."""

    def __init__(self, layer: Any, inner: Any, connection: Any) -> None:
        self.layer = layer
        self.inner = inner
        self.connection = connection
        self.channels: dict[str, dict[str, Any]] = {}

    def reconnected(self, connection: Any) -> None:
        log.warning("the live layer's connection came back; %d listeners will catch up", len(self.channels))
        for channel, message in list(self.channels.items()):
            queue = self.inner.channels.get(channel)
            if queue is None:
                del self.channels[channel]  # gone without saying so
                continue
            # Into the listener's own queue, behind what it has yet to read: it catches up in order.
            queue.put_nowait(self.layer.serialize(message))


def on_reconnect(group: str, channel: str, message: dict[str, Any]) -> None:
    """Deliver `message` to `channel` (a listener of this process, in `group`) whenever the live layer's
    connection for the group is lost and comes back. Call after joining the group; `forget_reconnect` when
    leaving. The in-memory layer never loses its connection."""
    layer = live_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return
    inner = layer._get_layer()
    shard = inner._get_shard(inner._get_group_channel_name(group))
    connection = shard._pubsub.connection if shard._pubsub is not None else None
    if connection is None:
        return
    watch = getattr(shard, "_quire_reconnect_watch", None)
    if watch is None or watch.connection is not connection:
        watch = _ReconnectWatch(layer, inner, connection)
        shard._quire_reconnect_watch = watch  # kept by the shard: redis-py holds its callbacks weakly
        connection.register_connect_callback(watch.reconnected)
    watch.channels[channel] = message


def forget_reconnect(group: str, channel: str) -> None:
    layer = live_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return
    inner = layer._get_layer()
    watch = getattr(inner._get_shard(inner._get_group_channel_name(group)), "_quire_reconnect_watch", None)
    if watch is not None:
        watch.channels.pop(channel, None)
