"""Daphne with TCP_NODELAY on every connection: `python -m quire.serve` takes Daphne's own arguments.

Without it, a reply written right after another small frame waits for the client's delayed ACK (about 40 ms)
under Nagle's algorithm, which would dominate a notebook's round trip.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_PLATFORM_DIR = str(Path(__file__).resolve().parents[1])
if _PLATFORM_DIR not in sys.path:
    sys.path.append(_PLATFORM_DIR)


def _set_nodelay_on_connect() -> None:
    from twisted.web import http

    if getattr(http.HTTPChannel, "_quire_nodelay", False):
        return
    made = http.HTTPChannel.connectionMade

    def connection_made(self: Any) -> None:
        # The same socket carries the WebSocket after the upgrade, so this covers both.
        set_nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if set_nodelay is not None:
            set_nodelay(True)
        made(self)

    http.HTTPChannel.connectionMade = connection_made  # type: ignore[method-assign]
    http.HTTPChannel._quire_nodelay = True  # type: ignore[attr-defined]


def _freeze_startup_objects() -> None:
    """Once serving: move everything loaded at start (Django, the app's modules) out of the garbage collector's
    reach. Full collections then walk only what requests create, instead of pausing a broadcast to a hundred
    viewers for tens of milliseconds to re-walk the whole framework."""
    import gc

    from twisted.internet import reactor

    reactor.callWhenRunning(gc.freeze)  # type: ignore[attr-defined]


def main() -> None:
    import daphne.server  # noqa: F401  (installs the asyncio reactor first)
    from daphne.cli import CommandLineInterface

    _set_nodelay_on_connect()
    _freeze_startup_objects()
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
