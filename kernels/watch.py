"""Each server process watches the leases of the kernel hosts its connections show, and ends a host that died.

Every open notebook page is a connection in some server process, and that process already knows the channel
of the notebook's kernel from the live stream; so the processes that must tell pages a host died are the ones
that look. One task per event loop checks every watched lease in one Redis round trip every
`liveness.WATCH_EVERY_S`; a lapsed lease ends the session (`services.do_end_lost_host`, which checks the lease
again under the session's row lock, so several processes seeing it at once end it once).
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from kernels import liveness, services

log = logging.getLogger(__name__)


class HostWatch:
    """The leases one event loop's connections depend on."""

    def __init__(self) -> None:
        self.watchers: dict[str, int] = {}  # channel -> connections watching it
        # Leases this watch saw held: their host runs, so a lapse is its death. One never seen held is no evidence
        # (a kernel still waiting for a host, or a host of a version before leases).
        self.seen: set[str] = set()
        self.task: asyncio.Task[None] | None = None

    def watch(self, channel: str) -> None:
        """A connection shows the kernel reading `channel` (once per connection and channel)."""
        if not liveness.enabled():
            return
        self.watchers[channel] = self.watchers.get(channel, 0) + 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name="quire-host-watch")


    def unwatch(self, channel: str) -> None:
        if not liveness.enabled():
            return
        count = self.watchers.get(channel, 0) - 1
        if count > 0:
            self.watchers[channel] = count
            return
        self.watchers.pop(channel, None)
        self.seen.discard(channel)

    async def _run(self) -> None:
        while self.watchers:
            await asyncio.sleep(liveness.WATCH_EVERY_S)
            channels = list(self.watchers)
            try:
                held = await liveness.leases_held_async(channels)
            except Exception:  # Redis away: the leases cannot be read; the reaper's backstop is in the same place
                log.warning("could not read kernel hosts' leases", exc_info=True)
                continue
            for channel, alive in zip(channels, held, strict=True):
                if alive:
                    self.seen.add(channel)
                elif channel in self.seen:
                    self.seen.discard(channel)
                    try:
                        await database_sync_to_async(services.do_end_lost_host)(channel, seen=True)
                    except Exception:  # process boundary of this task: the reaper ends it a little later
                        log.exception("could not end the lost kernel host on %s", channel)


_watches: dict[int, HostWatch] = {}


def host_watch() -> HostWatch:
    """This event loop's watch (a server has one loop; tests start one per test)."""
    loop = asyncio.get_running_loop()
    watch = _watches.get(id(loop))
    if watch is None or (watch.task is not None and watch.task.get_loop() is not loop):
        for key in [key for key, old in _watches.items() if old.task is not None and old.task.get_loop().is_closed()]:
            del _watches[key]
        watch = _watches[id(loop)] = HostWatch()
    return watch
