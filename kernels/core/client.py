"""Talking to a kernel process: an asyncio connection for hosts, and a local spawner for tests and tools."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kernels.core import protocol
from kernels.core.errors import ProtocolError

FINAL_STATES = frozenset({"done", "error", "interrupted"})
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class KernelConnection:
    """Frames over an asyncio StreamReader/StreamWriter pair (any launcher's socket)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def from_socket(cls, sock: socket.socket) -> KernelConnection:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=protocol.MAX_FRAME_BYTES)
        return cls(reader, writer)

    async def send(self, command: protocol.Message) -> None:
        self.writer.write(protocol.encode(command))
        await self.writer.drain()

    async def events(self) -> AsyncIterator[protocol.Message]:
        """Every event until the kernel closes the socket."""
        while (payload := await protocol.read_frame_async(self.reader)) is not None:
            yield protocol.event_from_dict(protocol.decode_payload(payload))

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


class SyncConnection:
    """Blocking frames over a socket, with timeouts, for tests and scripts."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def send(self, command: protocol.Message | dict[str, Any]) -> None:
        """Send a command; a dict is sent as-is (tests use it for malformed commands)."""
        if isinstance(command, dict):
            payload = json.dumps(command).encode()
            self.sock.sendall(len(payload).to_bytes(4, "big") + payload)
        else:
            self.sock.sendall(protocol.encode(command))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, size: int, deadline: float) -> None:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
                raise TimeoutError("no event from the kernel in time")
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("kernel closed the connection")
            self._buffer += chunk

    def recv(self, timeout: float = 30.0) -> protocol.Message:
        """The next event; TimeoutError when none arrives in time, EOFError when the kernel is gone."""
        deadline = time.monotonic() + timeout
        self._fill(4, deadline)
        size = int.from_bytes(self._buffer[:4], "big")
        if size > protocol.MAX_FRAME_BYTES:
            raise ProtocolError(f"kernel sent a frame of {size:,} bytes")
        self._fill(4 + size, deadline)
        payload = bytes(self._buffer[4 : 4 + size])
        del self._buffer[: 4 + size]
        return protocol.event_from_dict(protocol.decode_payload(payload))

    def recv_until(
        self, done: Callable[[protocol.Message], bool], timeout: float = 30.0
    ) -> list[protocol.Message]:
        """Events up to and including the first for which `done` is true."""
        events: list[protocol.Message] = []
        while True:
            event = self.recv(timeout)
            events.append(event)
            if done(event):
                return events

    def close(self) -> None:
        self.sock.close()


@dataclass
class LocalKernel:
    """A kernel subprocess on a socketpair, and its blocking connection."""

    process: subprocess.Popen[bytes]
    conn: SyncConnection
    ready: protocol.Ready
    order: list[str] = field(default_factory=list)

    def execute(
        self,
        source: str,
        *,
        cell_id: str,
        language: str = "python",
        order: Sequence[str] | None = None,
        timeout: float = 60.0,
    ) -> list[protocol.Message]:
        """Run a cell and return its events up to the final status."""
        exec_id = uuid.uuid4().hex
        self.conn.send(
            protocol.Execute(
                exec_id=exec_id, cell_id=cell_id, language=language, source=source,
                order=tuple(order if order is not None else self.order or [cell_id]),
            )
        )
        return self.conn.recv_until(lambda e: _is_final(e, exec_id), timeout)

    def close(self, timeout: float = 10.0) -> int:
        try:
            self.conn.send(protocol.Shutdown())
        except OSError:
            pass
        try:
            return self.process.wait(timeout)
        finally:
            self.conn.close()


def _is_final(event: protocol.Message, exec_id: str) -> bool:
    return (
        isinstance(event, protocol.CellStatus) and event.exec_id == exec_id and event.state in FINAL_STATES
    )


def spawn_local_kernel(
    *,
    time_limit: float | None = None,
    output_limit: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    display_changes: bool = False,
    stdin: bool = False,
) -> LocalKernel:
    """Start `python -m kernels.core.process` on one end of a socketpair and wait for `ready`."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    argv = [sys.executable, "-m", "kernels.core.process", "--fd", str(theirs.fileno())]
    if time_limit is not None:
        argv += ["--cell-time-limit", str(time_limit)]
    if output_limit is not None:
        argv += ["--output-limit", str(output_limit)]
    if display_changes:
        argv.append("--display-changes")
    if stdin:
        argv.append("--stdin")
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [_REPO_ROOT, child_env.get("PYTHONPATH")]))
    process = subprocess.Popen(argv, pass_fds=(theirs.fileno(),), env=child_env, cwd=_REPO_ROOT)
    theirs.close()
    conn = SyncConnection(ours)
    first = conn.recv(timeout)
    if not isinstance(first, protocol.Ready):
        process.kill()
        raise ProtocolError(f"kernel's first event was {first.type}, not ready")
    return LocalKernel(process=process, conn=conn, ready=first)
