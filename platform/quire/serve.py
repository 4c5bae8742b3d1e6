"""Daphne with TCP_NODELAY on every connection: `python -m quire.serve` takes Daphne's own arguments.

Without it, a reply written right after another small frame waits for the client's delayed ACK (about 40 ms)
under Nagle's algorithm, which would dominate a notebook's round trip. The transport's limits (request head,
WebSocket message) come from notebooks.limits, and a request over them is answered in JSON, not dropped.
"""

from __future__ import annotations

import json
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


# How long a refused connection stays open for the client to read its answer, discarding what else it sends.
LINGER_S = 5


def _answer_oversized_heads() -> None:
    """Twisted drops a connection whose request line is longer than its limit without a word, and answers
    other malformed heads with a bare 400 while the rest of the request is unread, which resets the connection
    under the answer. Both get a JSON answer here (414 for the request line, 431 for headers, 400 otherwise),
    then a half-close: the client reads it before the connection ends."""
    from twisted.web import http

    # Read when Daphne starts, after this module put the platform folder on sys.path (it runs as a script).
    from notebooks.limits import MAX_REQUEST_HEAD_BYTES

    reasons = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}

    def refuse(channel: Any, status: int, body: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        channel.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (status, reasons[status], len(payload)) + payload
        )
        # The rest of this request (and whatever follows) is read and ignored, lines already buffered included.
        channel._buffer = b""
        channel.dataReceived = channel.lineReceived = channel.rawDataReceived = lambda data: None
        channel.transport.loseWriteConnection()
        channel.setTimeout(LINGER_S)

    def line_too_long(self: Any, line: bytes) -> None:
        if self._HTTPChannel__first_line:
            refuse(self, 414, {"code": "too_large", "field": "url",
                               "detail": f"the request line is limited to {MAX_REQUEST_HEAD_BYTES} bytes"})
        else:
            head_too_large(self)

    def head_too_large(self: Any) -> None:
        refuse(self, 431, {"code": "too_large", "field": "headers",
                           "detail": f"the request line and headers are limited to {MAX_REQUEST_HEAD_BYTES} bytes"})

    def bad_request(self: Any) -> None:
        if self._receivedHeaderSize > self.totalHeadersSize:
            head_too_large(self)
        else:
            refuse(self, 400, {"code": "invalid", "field": "headers", "detail": "malformed request"})

    http.HTTPChannel.MAX_LENGTH = MAX_REQUEST_HEAD_BYTES
    http.HTTPChannel.totalHeadersSize = MAX_REQUEST_HEAD_BYTES
    http.HTTPChannel.lineLengthExceeded = line_too_long  # type: ignore[method-assign]
    http.HTTPChannel._respondToBadRequestAndDisconnect = bad_request  # type: ignore[method-assign]


def _with_limits(argv: list[str]) -> list[str]:
    """Daphne's arguments, with the WebSocket message limits from notebooks.limits unless given."""
    # Read when Daphne starts, after this module put the platform folder on sys.path (it runs as a script).
    from notebooks.limits import MAX_WS_TRANSPORT_BYTES

    argv = list(argv)
    for flag in ("--websocket-max-message-size", "--websocket-max-frame-size"):
        if not any(arg == flag or arg.startswith(flag + "=") for arg in argv):
            argv[:0] = [flag, str(MAX_WS_TRANSPORT_BYTES)]
    return argv


def _freeze_startup_objects() -> None:
    """Once serving: move everything loaded at start (Django, the app's modules) out of the garbage collector's
    reach. Full collections then walk only what requests create, instead of pausing a broadcast to a hundred
    viewers for tens of milliseconds to re-walk the whole framework."""
    import gc

    from twisted.internet import reactor

    reactor.callWhenRunning(gc.freeze)  # type: ignore[attr-defined]


def main() -> None:
    import asyncio

    import uvloop

    # Before Daphne makes its loop: Twisted's asyncio reactor runs on libuv's, which costs every relayed event and
    # every message less of the loop's own work (in embedded mode, the kernel hosts' too).
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    import daphne.server  # noqa: F401  (installs the asyncio reactor first)
    from daphne.cli import CommandLineInterface

    _set_nodelay_on_connect()
    _answer_oversized_heads()
    _freeze_startup_objects()
    CommandLineInterface().run(_with_limits(sys.argv[1:]))


if __name__ == "__main__":
    main()
