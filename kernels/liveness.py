"""Kernel hosts' leases and run journals in Redis: how a host's death is seen within seconds, and what it leaves.

A host holds a lease (a Redis key with a short expiry) that a thread of its own renews several times a second;
once its process is gone the key expires and whoever watches sees it missing. The journal keeps, per host, the
runs that were acked without a database row (the fast path), and per run the outputs relayed so far, so that
whoever ends a dead host's runs can end each of them with what it printed. Embedded mode has no Redis: its hosts
live and die with the server's own process, so there is no lease to lose and nothing to journal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import redis
import redis.asyncio as aredis
from django.conf import settings

from kernels.core.output_list import apply_output
from kernels.core.protocol import CLEAR_OUTPUT, UPDATE_DISPLAY_DATA
from kernels.runbook import STARTED

log = logging.getLogger(__name__)

# A host whose lease has not been renewed for this long is dead. Renewed every RENEW_EVERY_S by a thread that does
# nothing else, so a busy event loop or a long database write never lets it lapse; six renewals may be missed
# (a machine under load) before the host counts as gone.
LEASE_S = 1.5
RENEW_EVERY_S = 0.25
# How often the servers check the leases of the kernels their connections show: with LEASE_S, a death is seen
# within LEASE_S + WATCH_EVERY_S.
WATCH_EVERY_S = 0.25
# Journals outlive any run; a journal left by a host and never swept (Redis kept, database reset) goes by itself.
JOURNAL_TTL_S = 24 * 3600
# How long after Redis (re)started a missing lease is not taken for a dead host (see judge_leases).
RESTART_GRACE_S = 2 * LEASE_S


def _url() -> str | None:
    return settings.CONFIG.redis_url or None


def enabled() -> bool:
    """Whether hosts hold leases (production, with Redis) or live and die with the server (embedded mode)."""
    return _url() is not None


def _prefix() -> str:
    """Per database, so deployments (and test runs) sharing one Redis keep apart."""
    return f"quire:{settings.DATABASES['default']['NAME']}:hosts"


def lease_key(channel: str) -> str:
    return f"{_prefix()}:lease:{channel}"


def journal_key(channel: str) -> str:
    return f"{_prefix()}:runs:{channel}"


def _journals_key() -> str:
    """The channels that have (or had) a journal: the reaper's list to sweep."""
    return f"{_prefix()}:journals"


def outputs_key(exec_id: str) -> str:
    return f"{_prefix()}:out:{exec_id}"


_sync: dict[str, Any] = {}


def _sync_client() -> Any:
    """The process's client (thread-safe; its pool starts afresh in a forked child)."""
    url = str(_url())
    if url not in _sync:
        _sync[url] = redis.Redis.from_url(url)
    return _sync[url]


_async_clients: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}


def _async_client() -> Any:
    # One client per event loop: a Celery host's loop and a server's are different ones. Kept with its loop, since
    # a loop that is gone may leave its id to the next.
    loop = asyncio.get_running_loop()
    held = _async_clients.get(id(loop))
    if held is None or held[0] is not loop:
        held = _async_clients[id(loop)] = (loop, aredis.Redis.from_url(str(_url())))
    return held[1]


async def close_client() -> None:
    """Close this event loop's client (a host's loop ends with its kernel; its connections must not stay open)."""
    loop = asyncio.get_running_loop()
    held = _async_clients.get(id(loop))
    if held is not None and held[0] is loop:
        del _async_clients[id(loop)]
        await held[1].aclose()


# ------------------------------------------------------------------ the host's lease


class Lease:
    """Held by a running host: a thread renews its key until `release`. A no-op without Redis."""

    def __init__(self, channel: str) -> None:
        self.key = lease_key(channel)
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def hold(self) -> None:
        if _url() is None:
            return
        client = redis.Redis.from_url(str(_url()))  # its own: it outlives nothing but this lease
        client.set(self.key, "1", px=int(LEASE_S * 1000))  # held before the host is announced anywhere
        self.thread = threading.Thread(target=self._renew, args=(client,), name="quire-host-lease", daemon=True)
        self.thread.start()

    def _renew(self, client: Any) -> None:
        while not self.stopped.wait(RENEW_EVERY_S):
            try:
                client.set(self.key, "1", px=int(LEASE_S * 1000))
            except Exception:  # Redis restarting: the host is fine; renewing again is all there is to do
                log.warning("could not renew host lease %s", self.key, exc_info=True)
        try:
            client.delete(self.key)
        except Exception:  # its expiry removes it anyway
            log.warning("could not release host lease %s", self.key, exc_info=True)
        client.close()

    def release(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=2)


def _read_leases(pipe: Any, channels: list[str]) -> None:
    pipe.info("server")
    for channel in channels:
        pipe.exists(lease_key(channel))


def judge_leases(results: list[Any]) -> list[bool]:
    """Whether each lease is held, from what `_read_leases` read: Redis's server section, then one count per lease.

    A Redis that restarted (empty, or from a snapshot taken while the hosts were renewing) has lost or let lapse
    every lease at once; hosts renew within RENEW_EVERY_S of it being back, so a lease missing from a Redis up for
    less than RESTART_GRACE_S says nothing about its host yet."""
    server, *held = results
    if int(server.get("uptime_in_seconds", 0)) < RESTART_GRACE_S:
        return [True] * len(held)
    return [bool(n) for n in held]


def leases_held(channels: list[str]) -> list[bool]:
    """Whether each host's lease is held (always, without Redis)."""
    if _url() is None or not channels:
        return [True] * len(channels)
    client = _sync_client()
    try:
        with client.pipeline(transaction=False) as pipe:
            _read_leases(pipe, channels)
            results = pipe.execute()
    except redis.RedisError:
        # Nothing can be told of the hosts: taken as alive, as their heartbeats in the database still say.
        log.warning("could not read kernel hosts' leases", exc_info=True)
        return [True] * len(channels)
    return judge_leases(results)


async def leases_held_async(channels: list[str]) -> list[bool]:
    if _url() is None or not channels:
        return [True] * len(channels)
    client = _async_client()
    async with client.pipeline(transaction=False) as pipe:
        _read_leases(pipe, channels)
        results = await pipe.execute()
    return judge_leases(results)


# ------------------------------------------------------------------ the run journal


def journal_into(channel: str, runs: list[dict[str, Any]]) -> Callable[[Any], None] | None:
    """What journals `runs` on a Redis pipeline (see `quire.lib.live.send_heard`); None when there is nothing to
    journal. Before a host is sent runs that have no database row: what it takes to record and end them if it
    dies."""
    if _url() is None or not runs:
        return None
    key = journal_key(channel)
    entries = {str(run["exec_id"]): json.dumps(run) for run in runs}

    def add(pipe: Any) -> None:
        pipe.hset(key, mapping=entries)
        pipe.expire(key, JOURNAL_TTL_S)
        pipe.sadd(_journals_key(), channel)

    return add


async def journal_runs(channel: str, runs: list[dict[str, Any]]) -> None:
    """Journal `runs` on their own (see `journal_into`)."""
    add = journal_into(channel, runs)
    if add is None:
        return
    async with _async_client().pipeline(transaction=False) as pipe:
        add(pipe)
        await pipe.execute()


def journal_runs_now(channel: str, runs: list[dict[str, Any]]) -> None:
    """`journal_runs` from synchronous code."""
    add = journal_into(channel, runs)
    if add is None:
        return
    with _sync_client().pipeline(transaction=False) as pipe:
        add(pipe)
        pipe.execute()


async def keep_outputs(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Append outputs (exec id, output) to their runs' lists, in order."""
    if _url() is None or not items:
        return
    async with _async_client().pipeline(transaction=False) as pipe:
        for exec_id, output in items:
            pipe.rpush(outputs_key(exec_id), json.dumps(output))
        for exec_id in {exec_id for exec_id, _ in items}:
            pipe.expire(outputs_key(exec_id), JOURNAL_TTL_S)
        await pipe.execute()


async def forget_runs(channel: str, exec_ids: Iterable[str]) -> None:
    """Runs whose final state is stored: nothing of them need be kept."""
    ids = list(exec_ids)
    if _url() is None or not ids:
        return
    async with _async_client().pipeline(transaction=False) as pipe:
        pipe.hdel(journal_key(channel), *ids)
        pipe.delete(*[outputs_key(exec_id) for exec_id in ids])
        await pipe.execute()


def take_journal(channel: str) -> dict[str, dict[str, Any]]:
    """The host's journaled runs, removed in the same step: a run journaled after this starts a new journal."""
    if _url() is None:
        return {}
    client = _sync_client()
    with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(journal_key(channel))
        pipe.delete(journal_key(channel))
        pipe.srem(_journals_key(), channel)
        entries, _, _ = pipe.execute()
    return {k.decode(): json.loads(v) for k, v in entries.items()}


def journaled_runs(channel: str) -> dict[str, dict[str, Any]]:
    """The host's journaled runs (exec id: what was journaled), left in place; none when Redis is away."""
    if _url() is None:
        return {}
    try:
        entries = _sync_client().hgetall(journal_key(channel))
    except redis.RedisError:
        log.warning("could not read the run journal of %s", channel, exc_info=True)
        return {}
    return {k.decode(): json.loads(v) for k, v in entries.items()}


def kept_outputs(exec_ids: list[str]) -> dict[str, tuple[bool, list[dict[str, Any]]]]:
    """Per run: whether it had started, and the outputs it relayed (consecutive stream text joined, display
    updates and clears applied)."""
    if _url() is None or not exec_ids:
        return {}
    client = _sync_client()
    with client.pipeline(transaction=False) as pipe:
        for exec_id in exec_ids:
            pipe.lrange(outputs_key(exec_id), 0, -1)
        lists = pipe.execute()
    kept: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
    for exec_id, raw in zip(exec_ids, lists, strict=True):
        started, outputs = False, list[dict[str, Any]]()
        for item in raw:
            output = json.loads(item)
            if output == STARTED:
                started = True
                continue
            last = outputs[-1] if outputs else None
            if output.get("output_type") in (UPDATE_DISPLAY_DATA, CLEAR_OUTPUT):
                apply_output(outputs, output)
            elif (output.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last.get("name") == output.get("name")):
                last["text"] = str(last.get("text", "")) + str(output.get("text", ""))
            else:
                outputs.append(output)
        kept[exec_id] = (started or bool(outputs), outputs)
    return kept


def drop_outputs(exec_ids: list[str]) -> None:
    if _url() is None or not exec_ids:
        return
    client = _sync_client()
    client.delete(*[outputs_key(exec_id) for exec_id in exec_ids])


def journaled_channels() -> list[str]:
    """Every host channel that has a journal (for the reaper's sweep)."""
    if _url() is None:
        return []
    return [channel.decode() for channel in _sync_client().smembers(_journals_key())]
