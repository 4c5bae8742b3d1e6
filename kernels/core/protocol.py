"""The kernel wire protocol: length-prefixed JSON frames and every command and event type."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import IO, Any, ClassVar, TypeVar

from kernels.core.errors import FrameTooLarge, ProtocolError

PROTOCOL_VERSION = 1
# Outputs are capped far below this (see output limits); the frame cap only guards against a
# corrupt length header making either side allocate gigabytes.
MAX_FRAME_BYTES = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")

CELL_STATES = ("queued", "running", "done", "error", "interrupted")


@dataclass(frozen=True)
class Message:
    """Base of every message; subclasses set `type` and are found through the registries below."""

    type: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            body[f.name] = list(value) if isinstance(value, tuple) else value
        return body


# ---------------------------------------------------------------- commands (host -> kernel)


@dataclass(frozen=True)
class Execute(Message):
    type: ClassVar[str] = "execute"
    exec_id: str
    cell_id: str
    language: str
    source: str
    order: tuple[str, ...]


@dataclass(frozen=True)
class Interrupt(Message):
    type: ClassVar[str] = "interrupt"


@dataclass(frozen=True)
class SourceRequest(Message):
    """A question about a cell's source, asked without running it (as the user types), in the scope the cell would
    see given the notebook's cell `order`; the answer carries the same `req_id`."""

    req_id: str
    cell_id: str
    language: str
    source: str
    order: tuple[str, ...]


@dataclass(frozen=True)
class PositionRequest(SourceRequest):
    """A question about the character `pos` of a cell's source."""

    pos: int


@dataclass(frozen=True)
class Complete(PositionRequest):
    type: ClassVar[str] = "complete"


@dataclass(frozen=True)
class Signature(PositionRequest):
    type: ClassVar[str] = "signature"


@dataclass(frozen=True)
class HoverRequest(PositionRequest):
    """What the symbol at the character `pos` is (its type and docs)."""

    type: ClassVar[str] = "hover"


@dataclass(frozen=True)
class Check(SourceRequest):
    """The errors the compiler finds in a cell's source without running it (checking as you type)."""

    type: ClassVar[str] = "check"


@dataclass(frozen=True)
class Forget(Message):
    type: ClassVar[str] = "forget"
    cell_id: str
    # The notebook's cell ids before the delete, so the kernel can say which cells below read what it defined.
    order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ping(Message):
    type: ClassVar[str] = "ping"
    req_id: str


@dataclass(frozen=True)
class Shutdown(Message):
    type: ClassVar[str] = "shutdown"


@dataclass(frozen=True)
class FetchTablePage(Message):
    """Addition to the contract: ask for another page of a table output (by its `ref`)."""

    type: ClassVar[str] = "table_page"
    req_id: str
    ref: str
    offset: int
    page_size: int


@dataclass(frozen=True)
class Explore(Message):
    """Addition to the contract: a data exploration request (kernels/core/exploration.py) on a table output
    (`target` {"ref"}) or a symbol as a cell sees it (`target` {"cell_id", "name"}, with the notebook's `order`)."""

    type: ClassVar[str] = "explore"
    req_id: str
    target: dict[str, Any]
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Configure(Message):
    """Addition to the contract: the notebook's config (Polynote's shape: dependencies, repositories,
    exclusions, sparkConfig, env), sent by the host right after `ready`; `spark_caps` are the
    platform's quota settings, which win over the notebook's sparkConfig."""

    type: ClassVar[str] = "configure"
    config: dict[str, Any]
    spark_caps: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WarmUp(Message):
    """Addition to the contract: before any notebook is known (a pooled kernel, kernels/pools.py), start what the
    first cell in each of `languages` would wait for (Scala: the JVM, Spark's session with the `configure`d
    settings, the Scala compiler), leaving nothing a cell could see. Answered by `warmed`, and nothing else."""

    type: ClassVar[str] = "warm_up"
    languages: tuple[str, ...]


# ---------------------------------------------------------------- events (kernel -> host)


@dataclass(frozen=True)
class Ready(Message):
    type: ClassVar[str] = "ready"
    pid: int
    python: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Warmed(Message):
    """Addition to the contract: the answer to `warm_up`: the languages now warm (those without a warm-up left out),
    or what failed; how long it took."""

    type: ClassVar[str] = "warmed"
    languages: tuple[str, ...]
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class CellStatus(Message):
    type: ClassVar[str] = "cell_status"
    exec_id: str
    cell_id: str
    state: str


@dataclass(frozen=True)
class StatementStarted(Message):
    type: ClassVar[str] = "statement"
    exec_id: str
    cell_id: str
    line_start: int
    line_end: int


# Output types beyond nbformat's stream / display_data / execute_result / error (Jupyter's message names).
# update_display_data replaces the data of the outputs shown with the same transient display_id;
# clear_output empties the cell's outputs so far (the kernel sends it when the clear takes effect).
UPDATE_DISPLAY_DATA = "update_display_data"
CLEAR_OUTPUT = "clear_output"


@dataclass(frozen=True)
class Output(Message):
    type: ClassVar[str] = "output"
    exec_id: str
    cell_id: str
    output: dict[str, Any]


@dataclass(frozen=True)
class CellResult(Message):
    type: ClassVar[str] = "cell_result"
    exec_id: str
    cell_id: str
    symbols: tuple[dict[str, Any], ...]
    reads: tuple[str, ...]
    stale: tuple[str, ...]


@dataclass(frozen=True)
class Completions(Message):
    type: ClassVar[str] = "completions"
    req_id: str
    items: tuple[dict[str, Any], ...]
    incomplete: bool = False  # cut at MAX_COMPLETIONS: ask again with a longer prefix


@dataclass(frozen=True)
class Signatures(Message):
    type: ClassVar[str] = "signatures"
    req_id: str
    signatures: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class HoverInfo(Message):
    """Markdown about the symbol over [start, end) of the source; empty text when there is nothing to say."""

    type: ClassVar[str] = "hover_info"
    req_id: str
    text: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Diagnostics(Message):
    """The answer to a check: underline positions (line, column, end_line, end_column, message)."""

    type: ClassVar[str] = "diagnostics"
    req_id: str
    positions: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CellsStale(Message):
    """Cells that read what a forgotten (deleted) cell defined: their outputs no longer follow from the notebook."""

    type: ClassVar[str] = "cells_stale"
    cell_ids: tuple[str, ...]


@dataclass(frozen=True)
class Pong(Message):
    type: ClassVar[str] = "pong"
    req_id: str


@dataclass(frozen=True)
class ErrorEvent(Message):
    type: ClassVar[str] = "error"
    message: str
    req_id: str | None = None


@dataclass(frozen=True)
class TablePage(Message):
    """Addition to the contract: the answer to `table_page` (rows as in the table MIME type)."""

    type: ClassVar[str] = "table_page"
    req_id: str
    ref: str
    schema: tuple[dict[str, Any], ...]
    rows: tuple[list[Any], ...]
    total_rows: int
    offset: int
    page_size: int


@dataclass(frozen=True)
class Explored(Message):
    """Addition to the contract: the answer to `explore`, whose shape depends on its op."""

    type: ClassVar[str] = "explored"
    req_id: str
    op: str
    result: dict[str, Any]


@dataclass(frozen=True)
class Exiting(Message):
    """Addition to the contract: the kernel is about to exit on its own (the host should restart it)."""

    type: ClassVar[str] = "exiting"
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SparkProgress(Message):
    """Addition to the contract: the running cell's Spark jobs, each with its stages' task counts
    ({"job_id", "status", "stages": [{"stage_id", "name", "done", "total", "failed", "active"}]})."""

    type: ClassVar[str] = "spark_progress"
    exec_id: str
    cell_id: str
    jobs: tuple[dict[str, Any], ...]
    ui_url: str | None = None
    # Why there is no ui_url, for the task list to say.
    ui_note: str | None = None


@dataclass(frozen=True)
class JvmStatus(Message):
    """Addition to the contract: the running cell started the kernel's JVM (Spark, and the Scala compiler in it),
    which takes seconds to tens of seconds ("starting"), and the JVM is up or failed to start ("ready")."""

    type: ClassVar[str] = "jvm_status"
    exec_id: str
    cell_id: str
    state: str


@dataclass(frozen=True)
class InputReply(Message):
    """The answer to an input_request of the cell running as exec_id."""

    type: ClassVar[str] = "input_reply"
    exec_id: str
    value: str


@dataclass(frozen=True)
class InputRequest(Message):
    """A cell called input() or getpass() (password true) and waits for an input_reply."""

    type: ClassVar[str] = "input_request"
    exec_id: str
    cell_id: str
    prompt: str
    password: bool


M = TypeVar("M", bound=Message)

COMMANDS: dict[str, type[Message]] = {
    cls.type: cls
    for cls in (
        Execute, Interrupt, Complete, Signature, HoverRequest, Check, Forget, Ping, Shutdown, FetchTablePage, Configure,
        InputReply, Explore, WarmUp,
    )
}
EVENTS: dict[str, type[Message]] = {
    cls.type: cls
    for cls in (
        Ready, CellStatus, StatementStarted, Output, CellResult, Completions,
        Signatures, HoverInfo, Diagnostics, CellsStale, Pong, ErrorEvent, TablePage, Exiting, SparkProgress, InputRequest,
        JvmStatus, Explored, Warmed,
    )
}


def _check(name: str, value: Any, hint: Any) -> Any:
    """Validate one JSON value against a field's type hint and convert lists to tuples."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _check(name, value, next(o for o in options if o is not type(None)))
    if origin is tuple:
        if not isinstance(value, list):
            raise ProtocolError(f"field {name!r} must be a list")
        inner = typing.get_args(hint)[0]
        return tuple(_check(name, item, inner) for item in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"field {name!r} must be an object")
        return value
    if origin is list or hint is list:
        if not isinstance(value, list):
            raise ProtocolError(f"field {name!r} must be a list")
        return value
    if hint is Any:
        return value
    # bool is an int subclass; a flag where a count belongs is a sender bug worth reporting.
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ProtocolError(f"field {name!r} must be {hint.__name__}, got {type(value).__name__}")
    return value


def _from_dict(registry: dict[str, type[Message]], body: Any) -> Message:
    if not isinstance(body, dict):
        raise ProtocolError("message must be a JSON object")
    version = body.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {version!r} (this kernel speaks {PROTOCOL_VERSION})")
    kind = body.get("type")
    cls = registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    values: dict[str, Any] = {}
    for name, hint, required in _schema(cls):
        if name not in body:
            if required:
                raise ProtocolError(f"{kind} message lacks field {name!r}")
            continue
        values[name] = _check(name, body[name], hint)
    return cls(**values)


_SCHEMAS: dict[type[Message], tuple[tuple[str, Any, bool], ...]] = {}


def _schema(cls: type[Message]) -> tuple[tuple[str, Any, bool], ...]:
    """Each field's name, type hint and whether it is required: resolving the hints costs more than the rest of
    a message's decoding, so it is done once per message type."""
    schema = _SCHEMAS.get(cls)
    if schema is None:
        hints = typing.get_type_hints(cls)
        schema = _SCHEMAS[cls] = tuple(
            (f.name, hints[f.name], f.default is MISSING and f.default_factory is MISSING) for f in fields(cls)
        )
    return schema


def command_from_dict(body: Any) -> Message:
    return _from_dict(COMMANDS, body)


def event_from_dict(body: Any) -> Message:
    return _from_dict(EVENTS, body)


_SURROGATES = re.compile("[\ud800-\udfff]")


def encode(message: Message) -> bytes:
    """One frame: 4-byte big-endian length, then the message as UTF-8 JSON."""
    text = json.dumps(message.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        payload = text.encode()
    except UnicodeEncodeError:
        # Cell code can print lone surrogates ('\ud800'), which no UTF-8 peer can read: shown as U+FFFD instead.
        payload = _SURROGATES.sub("\ufffd", text).encode()
    if len(payload) > MAX_FRAME_BYTES:
        raise FrameTooLarge(len(payload), MAX_FRAME_BYTES)
    return _HEADER.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> Any:
    """The JSON body of one frame, or ProtocolError when it is not UTF-8 JSON."""
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"frame is not UTF-8 JSON: {exc}") from None


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: IO[bytes]) -> bytes | None:
    """Next frame payload from a blocking binary stream; None at EOF.

    An oversized frame is skipped (so the stream stays in sync) and reported as FrameTooLarge.
    """
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        remaining = size
        while remaining:
            chunk = stream.read(min(remaining, 1 << 20))
            if not chunk:
                return None
            remaining -= len(chunk)
        raise FrameTooLarge(size, MAX_FRAME_BYTES)
    return _read_exact(stream, size)


async def read_frame_async(reader: asyncio.StreamReader) -> bytes | None:
    """Next frame payload from an asyncio stream; None at EOF."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        if size > MAX_FRAME_BYTES:
            remaining = size
            while remaining:
                remaining -= len(await reader.readexactly(min(remaining, 1 << 20)))
            raise FrameTooLarge(size, MAX_FRAME_BYTES)
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None
