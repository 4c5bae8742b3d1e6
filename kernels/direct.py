"""The direct line between a server process and a kernel host that is up, one TCP connection each way's traffic
shares: runs go straight to the host, and the host's event batches straight back to the server's connections of
that notebook, instead of through Redis, one process fewer to wake on each way. Redis stays what makes a run
durable (the journal, written alongside, before the run is acked), what numbers the notebook's events (every
batch is still published there, numbered, and a connection relays each batch once, whichever way came first:
see `notebooks.consumers`), and the way for everything else. A run the line cannot take goes the pub/sub way, as
before the line existed; a line that fails costs only its speed.

A host listens on QUIRE_DIRECT_BIND (a port the system picks) once its kernel is up, and names its route to the
servers with each event batch it relays (`kernel_route`, never relayed to browsers). A connection opens with the
host's token, which the host answers with the notebook's live group: a peer that does not (another process on
that port, a host that is gone) is no line, and a route that failed once is not tried again by that process.
Frames are a 4-byte big-endian length and a body: JSON from server to host (channel-layer messages) and for the
host's answer, then the live layer's own serialisation of each event batch from host to server, handed as it is
to the server's listeners (`quire.lib.live.deliver_locally`). A server that reads too slowly loses its line (the
batches reach it through Redis). Embedded mode has no line: its hosts are in the server's process.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import secrets
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from django.conf import settings

from quire.lib.live import deliver_locally

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
# A run command holds the cell's source (at most 1 MB, notebooks.limits) and the notebook's cell order.
MAX_DIRECT_FRAME_BYTES = 4 * 1024 * 1024
TOKEN_BYTES = 16
# How long a server waits for a host to answer a new connection, and a host for a new connection's token.
HELLO_TIMEOUT_S = 0.5
# Batches a host keeps for one server that is not reading before it drops the line (the batches go through Redis).
MAX_UNREAD_BYTES = 8 * 1024 * 1024
# An event batch from a host: outputs are paged (kernels.limits), so a batch is far below this.
MAX_BATCH_BYTES = 64 * 1024 * 1024

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def _frame(body: Any) -> bytes:
    payload = _encoder.encode(body)
    return _HEADER.pack(len(payload)) + payload


async def _read_raw(reader: asyncio.StreamReader, limit: int = MAX_DIRECT_FRAME_BYTES) -> bytes | None:
    """The next frame's body; None at the end of the stream. ValueError for an oversized frame."""
    try:
        (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        if size > limit:
            raise ValueError(f"a direct frame of {size} bytes is over the limit of {limit}")
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None


async def _read(reader: asyncio.StreamReader) -> Any:
    """The next frame's JSON body; None at the end of the stream. ValueError for an oversized or malformed frame."""
    payload = await _read_raw(reader)
    if payload is None:
        return None
    try:
        return _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise ValueError(f"a direct frame is not JSON: {exc}") from None


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


class DirectServer:
    """A host's end of the line: takes commands from servers that present its token, each handed to `on_command`
    in the order its connection sent them (False from it ends that connection), and sends each of them the
    notebook's event batches (`broadcast`)."""

    def __init__(self, on_command: Callable[[dict[str, Any]], Awaitable[bool]], *, group: str) -> None:
        self.on_command = on_command
        self.group = group
        self.token = secrets.token_hex(TOKEN_BYTES)
        self.server: asyncio.Server | None = None
        self.clients: set[asyncio.Task[Any]] = set()
        # The connections that presented the token: where batches go.
        self.lines: set[asyncio.StreamWriter] = set()

    async def start(self) -> dict[str, Any] | None:
        """Listen; the route servers reach this host by, or None when there is no line (embedded mode, or it
        cannot listen: runs then come the pub/sub way only)."""
        if settings.QUIRE_MODE == "embedded":
            return None
        bind = settings.QUIRE_DIRECT_BIND
        try:
            self.server = await asyncio.start_server(self._client, host=bind, port=0)
        except OSError:
            log.warning("cannot listen for direct runs on %s; runs come through Redis only", bind, exc_info=True)
            return None
        port = self.server.sockets[0].getsockname()[1]
        return {"address": settings.QUIRE_DIRECT_ADVERTISE or bind, "port": port, "token": self.token,
                "machine": socket.gethostname()}

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.clients.add(task)
        _nodelay(writer)
        try:
            hello = await asyncio.wait_for(_read(reader), HELLO_TIMEOUT_S)
            if not isinstance(hello, dict) or not hmac.compare_digest(str(hello.get("token", "")), self.token):
                log.warning("a direct connection without this host's token was closed")
                return
            writer.write(_frame({"ok": True, "group": self.group}))
            await writer.drain()
            self.lines.add(writer)
            while True:
                message = await _read(reader)
                if message is None:
                    return
                if not isinstance(message, dict):
                    raise ValueError("a direct frame is not a message")
                if not await self.on_command(message):
                    return
        except (TimeoutError, ValueError, ConnectionError, OSError) as exc:
            log.warning("a direct connection was closed: %s", exc)
        finally:
            if task is not None:
                self.clients.discard(task)
            self.lines.discard(writer)
            writer.close()

    def broadcast(self, body: bytes) -> None:
        """One event batch (serialised for the live layer) to every server on the line, without waiting for any:
        one that has left MAX_UNREAD_BYTES unread loses its line, and hears the batches through Redis."""
        frame = _HEADER.pack(len(body)) + body
        for writer in list(self.lines):
            if writer.is_closing() or writer.transport.get_write_buffer_size() > MAX_UNREAD_BYTES:
                log.warning("a server is not reading its direct line; it gets its events through Redis")
                self.lines.discard(writer)
                writer.close()
                continue
            writer.write(frame)

    def close(self) -> None:
        """No more commands this way: the listener and every connection close (servers see their line end)."""
        if self.server is not None:
            self.server.close()
        for task in list(self.clients):
            task.cancel()


class _Line:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.lock = asyncio.Lock()
        self.relay: asyncio.Task[None] | None = None


def route_key(route: dict[str, Any]) -> str:
    return f"{route.get('address')}:{route.get('port')}"


class _Lines:
    """A server process's lines, one per host and event loop, and the routes that failed."""

    def __init__(self) -> None:
        self.open: dict[tuple[asyncio.AbstractEventLoop, str], _Line] = {}
        self.opening: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[_Line]] = {}
        self.failed: set[str] = set()

    async def get(self, route: dict[str, Any]) -> _Line | None:
        key = (asyncio.get_running_loop(), route_key(route))
        line = self.open.get(key)
        if line is not None and not line.writer.is_closing():
            return line
        if route_key(route) + str(route.get("token")) in self.failed:
            return None
        if _is_loopback(str(route.get("address"))) and route.get("machine") != socket.gethostname():
            return None  # another machine's loopback address: not reachable from here
        pending = self.opening.get(key)
        if pending is None:
            pending = self.opening[key] = asyncio.ensure_future(self._connect(route, key))
        try:
            return await asyncio.shield(pending)
        except (TimeoutError, ConnectionError, OSError, ValueError) as exc:
            self.failed.add(route_key(route) + str(route.get("token")))
            log.info("no direct line to the host at %s (%s); its runs go through Redis", route_key(route), exc)
            return None
        finally:
            if pending.done():
                self.opening.pop(key, None)

    async def _connect(self, route: dict[str, Any], key: tuple[asyncio.AbstractEventLoop, str]) -> _Line:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(str(route["address"]), int(route["port"])), HELLO_TIMEOUT_S
        )
        try:
            _nodelay(writer)
            writer.write(_frame({"token": str(route["token"])}))
            answer = await asyncio.wait_for(_read(reader), HELLO_TIMEOUT_S)
            if not isinstance(answer, dict) or answer.get("ok") is not True or not isinstance(answer.get("group"), str):
                raise ConnectionError("the peer did not answer as the host")
        except BaseException:
            writer.close()
            raise
        line = self.open[key] = _Line(writer)
        line.relay = asyncio.ensure_future(self._relay_batches(reader, str(answer["group"]), key, line))
        return line

    async def _relay_batches(self, reader: asyncio.StreamReader, group: str,
                             key: tuple[asyncio.AbstractEventLoop, str], line: _Line) -> None:
        """The host's event batches, to this process's listeners of its notebook, until the line ends."""
        try:
            while (body := await _read_raw(reader, limit=MAX_BATCH_BYTES)) is not None:
                deliver_locally(group, body)
        except (ValueError, ConnectionError, OSError) as exc:
            log.info("the direct line to %s ended: %s", key[1], exc)
        finally:
            line.writer.close()
            if self.open.get(key) is line:
                del self.open[key]


_lines = _Lines()


async def send(route: dict[str, Any], messages: list[dict[str, Any]]) -> bool:
    """Send `messages` to the host at `route` in order; False if no line could take them (the caller sends them
    the pub/sub way)."""
    line = await _lines.get(route)
    if line is None:
        return False
    try:
        async with line.lock:
            if line.writer.is_closing():
                return False
            line.writer.write(b"".join(_frame(message) for message in messages))
            await line.writer.drain()
        return True
    except (ConnectionError, OSError) as exc:
        log.info("the direct line to %s failed (%s); its runs go through Redis", route_key(route), exc)
        return False
