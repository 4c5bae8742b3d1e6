"""Who is in a notebook and in which cell: one shared record per notebook, changes broadcast with a version.

Production keeps the record in Redis, so every server process sees the same people; embedded mode keeps it in
the one process. Each change is broadcast once with the whole list and a version number, so a client never goes
back to an older list, and a join costs one message per viewer (not one per pair of viewers).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from notebooks.limits import MAX_PRESENCE_ENTRIES

# A record outlives a crashed server process at most this long (its viewers never said goodbye).
TTL_S = 6 * 3600


class MemoryPresence:
    def __init__(self) -> None:
        self.records: dict[int, dict[str, dict[str, Any]]] = {}
        self.versions: dict[int, int] = {}

    async def put(self, notebook_id: int, channel: str, entry: dict[str, Any] | None) -> tuple[int, list[dict[str, Any]]]:
        record = self.records.setdefault(notebook_id, {})
        if entry is None:
            record.pop(channel, None)
        else:
            record[channel] = entry
        self.versions[notebook_id] = self.versions.get(notebook_id, 0) + 1
        return self.versions[notebook_id], list(record.values())


class RedisPresence:
    def __init__(self, url: str, *, namespace: str) -> None:
        import redis.asyncio as redis

        self.url = url
        self.namespace = namespace
        self.redis = redis
        self.clients: dict[int, Any] = {}

    def _client(self) -> Any:
        # One client per event loop: the Celery host's loops and Daphne's are different ones.
        import asyncio

        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self.clients:
            self.clients[loop_id] = self.redis.from_url(self.url)
        return self.clients[loop_id]

    async def put(self, notebook_id: int, channel: str, entry: dict[str, Any] | None) -> tuple[int, list[dict[str, Any]]]:
        key = f"{self.namespace}:{notebook_id}"
        client = self._client()
        async with client.pipeline(transaction=True) as pipe:
            if entry is None:
                pipe.hdel(key, channel)
            else:
                pipe.hset(key, channel, json.dumps(entry))
            pipe.expire(key, TTL_S)
            pipe.incr(f"{key}:version")
            pipe.expire(f"{key}:version", TTL_S)
            pipe.hvals(key)
            results = await pipe.execute()
        version, values = int(results[-3]), results[-1]
        return version, [json.loads(v) for v in values]


_store: MemoryPresence | RedisPresence | None = None


def store() -> MemoryPresence | RedisPresence:
    global _store
    if _store is None:
        url = settings.CONFIG.redis_url
        _store = RedisPresence(url, namespace=key_prefix()) if url else MemoryPresence()
    return _store


def key_prefix() -> str:
    """Per database, so deployments (and test runs) sharing one Redis keep apart."""
    return f"quire:{settings.DATABASES['default']['NAME']}:presence"


def listing(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who is where (one entry per open connection), at most MAX_PRESENCE_ENTRIES of them: the list goes to
    every viewer on every change, so its size is bounded however many connections are open."""
    users = [{"username": e["username"], "cell_id": e.get("cell_id")} for e in entries]
    return sorted(users, key=lambda u: (u["username"], str(u["cell_id"])))[:MAX_PRESENCE_ENTRIES]
