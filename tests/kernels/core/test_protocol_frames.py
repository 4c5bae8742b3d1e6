"""Frames and message types of the kernel wire protocol, and the asyncio client over a real kernel."""

from __future__ import annotations

import asyncio
import io
import socket
import struct
import subprocess
import sys
import threading

import pytest

from kernels.core import protocol
from kernels.core.client import KernelConnection
from kernels.core.errors import FrameTooLarge, ProtocolError


def test_every_message_round_trips_through_a_frame():
    messages = [
        protocol.Execute(exec_id="e", cell_id="c", language="python", source="1", order=("a", "c")),
        protocol.Interrupt(),
        protocol.Complete(req_id="r", cell_id="c", language="sql", source="SE", pos=2, order=("c",)),
        protocol.Forget(cell_id="c"),
        protocol.Ping(req_id="p"),
        protocol.Shutdown(),
    ]
    for message in messages:
        frame = protocol.encode(message)
        (size,) = struct.unpack(">I", frame[:4])
        assert size == len(frame) - 4
        body = protocol.decode_payload(protocol.read_frame(io.BytesIO(frame)))
        assert body["v"] == protocol.PROTOCOL_VERSION and body["type"] == message.type
        assert protocol.command_from_dict(body) == message
    event = protocol.ErrorEvent(message="bad")
    assert protocol.event_from_dict(protocol.decode_payload(protocol.encode(event)[4:])) == event


def test_contract_field_names():
    assert protocol.CellResult(exec_id="e", cell_id="c", symbols=(), reads=("x",), stale=()).to_dict() == {
        "v": 1, "type": "cell_result", "exec_id": "e", "cell_id": "c", "symbols": [], "reads": ["x"], "stale": [],
    }
    assert protocol.StatementStarted(exec_id="e", cell_id="c", line_start=1, line_end=2).to_dict()["type"] == "statement"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"type": "ping", "req_id": "p"}, "unsupported protocol version"),
        ({"v": 1, "type": "launch"}, "unknown message type"),
        ({"v": 1, "type": "ping"}, "lacks field 'req_id'"),
        ({"v": 1, "type": "complete", "req_id": "r", "cell_id": "c", "language": "python", "source": "", "pos": True, "order": []}, "must be int"),
        ({"v": 1, "type": "execute", "exec_id": "e", "cell_id": "c", "language": "python", "source": "", "order": [1]}, "must be str"),
    ],
)
def test_malformed_commands_raise_protocol_errors(body, message):
    with pytest.raises(ProtocolError, match=message):
        protocol.command_from_dict(body)


def test_oversized_frames_are_skipped_and_reported():
    size = protocol.MAX_FRAME_BYTES + 1
    stream = io.BytesIO(struct.pack(">I", size) + b"\0" * size + protocol.encode(protocol.Ping(req_id="next")))
    with pytest.raises(FrameTooLarge):
        protocol.read_frame(stream)
    assert protocol.decode_payload(protocol.read_frame(stream))["req_id"] == "next"


def test_truncated_stream_reads_as_eof():
    assert protocol.read_frame(io.BytesIO(b"\0\0")) is None
    assert protocol.read_frame(io.BytesIO(b"\0\0\0\x09{}")) is None


async def test_asyncio_connection_runs_a_cell_on_a_real_kernel():
    ours, theirs = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-m", "kernels.core.process", "--fd", str(theirs.fileno())], pass_fds=(theirs.fileno(),)
    )
    theirs.close()
    conn = await KernelConnection.from_socket(ours)
    events = conn.events()
    assert isinstance(await asyncio.wait_for(anext(events), 30), protocol.Ready)
    await conn.send(protocol.Execute(exec_id="e1", cell_id="a", language="python", source="print('hi')\n6 * 7", order=("a",)))
    seen = []
    async for event in events:
        seen.append(event)
        if isinstance(event, protocol.CellStatus) and event.state == "done":
            break
    outputs = [e.output for e in seen if isinstance(e, protocol.Output)]
    assert outputs[0]["text"] == "hi\n" and outputs[1]["data"]["text/plain"] == "42"
    await conn.send(protocol.Shutdown())
    assert [e async for e in events] == []  # the kernel closes the socket after shutdown
    await conn.close()
    assert await asyncio.to_thread(process.wait, 10) == 0


def test_the_kernels_outbox_writes_waiting_frames_together_in_order_and_all_before_it_closes():
    from kernels.core.process import WRITE_BATCH_BYTES, Outbox

    ours, theirs = socket.socketpair()
    outbox = Outbox(ours)
    big = "x" * (WRITE_BATCH_BYTES * 2)  # over the batch size: sent in a write of its own, nothing lost
    def printed(text: str) -> protocol.Output:
        return protocol.Output(exec_id="e", cell_id="c", output={"output_type": "stream", "name": "stdout", "text": text})

    sent = [printed(f"{n}\n") for n in range(2000)]
    sent.insert(1000, printed(big))
    received: list[protocol.Message] = []

    def read() -> None:
        stream = theirs.makefile("rb")
        while (payload := protocol.read_frame(stream)) is not None:
            received.append(protocol.event_from_dict(protocol.decode_payload(payload)))

    reader = threading.Thread(target=read)
    reader.start()
    for message in sent:
        outbox.send(message)
    outbox.close(timeout=30)
    ours.close()
    reader.join(30)
    assert received == sent
