"""The browser protocol, defined once: every message between a page and the server, as a msgspec Struct tagged by
its `type`, and the protocol's version.

Publishers build events with these classes (kernels.events serialises them, `encode`), the consumer reads every
client message into them (`read_client_message`), and the tests check every message their clients receive against
them (`read_server_message`). Only msgspec is imported here: no Django, no Channels, so the kernel host's run book
(plain data) builds with it too.

Fields that a message may leave out are `UNSET` (absent from the JSON); a field that is sent as `null` is typed
`... | None`. Outputs are nbformat's output dicts (each kind with its own keys; docs/protocol.md) and stay dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict, Union, cast, get_args

import msgspec
from msgspec import UNSET, UnsetType

PROTOCOL_VERSION = 1

Language = Literal["python", "scala", "sql", "vega", "text"]
KernelState = Literal["not_started", "starting", "idle", "busy", "dead", "stopped"]
CellState = Literal["queued", "running", "done", "error", "interrupted"]
RoleName = Literal["viewer", "runner", "editor", "owner"]
EnvironmentKind = Literal["python", "jvm"]
EnvironmentState = Literal["building", "ready", "failed", "missing"]
ExploreOp = Literal["inspect", "page", "summary", "count", "csv", "parquet", "plot"]
# The parts of a cell an editor can hide for everyone (notebooks.services.HIDDEN_PARTS names their metadata keys).
HiddenPart = Literal["source", "outputs"]

def _named(names: Any, value: str) -> Any:
    if value not in get_args(names):
        raise ValueError(f"{value!r} is not one of {', '.join(get_args(names))}")
    return value


# A stored name (a model's choice, a role's label) as the protocol types it; a name outside the protocol's is a
# bug on the server's side, raised here rather than sent.
def kernel_state(value: str) -> KernelState:
    return cast(KernelState, _named(KernelState, value))


def cell_state(value: str) -> CellState:
    return cast(CellState, _named(CellState, value))


def role_name(value: str) -> RoleName:
    return cast(RoleName, _named(RoleName, value))


def environment_kind(value: str) -> EnvironmentKind:
    return cast(EnvironmentKind, _named(EnvironmentKind, value))


def environment_state(value: str) -> EnvironmentState:
    return cast(EnvironmentState, _named(EnvironmentState, value))

# An nbformat output (stream, display_data, execute_result, error), its head with `more` when it is long
# (kernels/outputs.py). Outputs stay dicts, as stored and as the kernel sends them; the page's types for them are
# hand-written (frontend/src/nbformat.ts), and named here for the generator (`x-typescript`).
OutputDict = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema={"x-typescript": "Output"})]
# What a live `output` carries: an output, or a change to those shown (update_display_data, clear_output).
OutputChangeDict = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema={"x-typescript": "OutputChange"})]


class ServerMessage(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """A message the server sends a browser. Its class name's tag is its `type`."""

    v: int = PROTOCOL_VERSION


class ClientMessage(msgspec.Struct, tag_field="type", kw_only=True):
    """A message a browser sends. `req` is echoed in the reply; unknown fields are ignored (older pages)."""

    v: int = PROTOCOL_VERSION
    req: int | None = None


# ------------------------------------------------------------------ values carried by messages (plain dicts: they
# come from stored rows and the kernel as such; the contract test checks them with the messages that carry them)


class SymbolInfo(TypedDict):
    name: str
    language: str
    type: str
    repr: str


class Person(TypedDict):
    """Who the connection is, and their role on the notebook now."""

    username: str
    role: RoleName


class KernelInfo(TypedDict):
    state: KernelState
    # Why a starting kernel is not up yet (it waits for a free host, or for its environment).
    reason: NotRequired[str]


class Cell(TypedDict):
    id: str
    language: Language
    source: str
    # Drafts older than cell metadata have none.
    metadata: NotRequired[dict[str, Any]]
    outputs: list[OutputDict]
    # How many outputs the cell has; more than `outputs` holds when the snapshot's budget left some out.
    outputs_total: NotRequired[int]
    # The state of the cell's latest run (None: it never ran), its symbols, whether it is stale.
    state: NotRequired[CellState | None]
    symbols: NotRequired[list[SymbolInfo]]
    stale: NotRequired[bool]
    # Jupyter's `[n]`: when the run it shows started in its kernel session; None when unknown or cleared.
    execution_count: NotRequired[int | None]


class NotebookState(TypedDict):
    id: int
    title: str
    revision: int
    cells: list[Cell]
    config: dict[str, Any]
    # The cells' sources as a CRDT document (Yjs update, base64).
    ydoc: NotRequired[str]


class PendingInput(TypedDict):
    """A running cell's question to the person who ran it (input(), getpass())."""

    exec_id: str
    prompt: str
    password: bool
    username: str


class PresenceEntry(TypedDict):
    username: str
    cell_id: str | None


class BuildingEnvironment(TypedDict):
    kind: EnvironmentKind
    key: str


class SparkStage(TypedDict):
    stage_id: int
    name: str
    done: int
    total: int
    failed: int
    active: NotRequired[int]


class SparkJob(TypedDict):
    job_id: int
    status: str
    stages: list[SparkStage]


# ------------------------------------------------------------------ server -> client: replies to one connection


class Snapshot(ServerMessage, tag="snapshot"):
    notebook: NotebookState
    kernel: KernelInfo
    you: Person


class Ack(ServerMessage, tag="ack"):
    """A request was done. Which fields it carries depends on the request (docs/protocol.md); a kernel's answer
    (completions, signatures, hover, check, table page, explore) brings its own."""

    req: int | None
    revision: int | UnsetType = UNSET
    cell_id: str | UnsetType = UNSET  # insert_cell
    cell_ids: list[str] | UnsetType = UNSET  # clear_outputs
    queued: list[str] | UnsetType = UNSET  # run_*
    execution_ids: list[str] | UnsetType = UNSET
    interrupted: bool | UnsetType = UNSET
    stopping: bool | UnsetType = UNSET
    sent: bool | UnsetType = UNSET  # input_reply
    kernel: Literal["not_running"] | UnsetType = UNSET  # a kernel request with no kernel to answer it
    defined: list[SymbolInfo] | UnsetType = UNSET  # inspect_scope
    visible: list[SymbolInfo] | UnsetType = UNSET
    items: list[dict[str, Any]] | UnsetType = UNSET  # complete
    incomplete: bool | UnsetType = UNSET
    signatures: list[dict[str, Any]] | UnsetType = UNSET  # signature
    text: str | UnsetType = UNSET  # hover
    start: int | UnsetType = UNSET
    end: int | UnsetType = UNSET
    positions: list[dict[str, Any]] | UnsetType = UNSET  # check
    ref: str | UnsetType = UNSET  # table_page
    schema: list[dict[str, Any]] | UnsetType = UNSET
    rows: list[list[Any]] | UnsetType = UNSET
    total_rows: int | UnsetType = UNSET
    offset: int | UnsetType = UNSET
    page_size: int | UnsetType = UNSET
    op: str | UnsetType = UNSET  # explore
    result: dict[str, Any] | UnsetType = UNSET


class Error(ServerMessage, tag="error"):
    """A request was refused (nothing of it applied), or the connection cannot go on (req None)."""

    req: int | None
    code: str
    message: str
    field: str | UnsetType = UNSET


class Chunk(ServerMessage, tag="chunk"):
    """A part of a message too long for one frame: the client joins `count` of them by `id`."""

    id: str
    index: int
    count: int
    data: str


class CellSync(ServerMessage, tag="cell_sync"):
    """The kernel host's word on a cell it runs, queues or finished lately, after a snapshot."""

    cell_id: str
    state: CellState
    outputs: list[OutputDict]
    outputs_total: int | UnsetType = UNSET
    symbols: list[SymbolInfo] | UnsetType = UNSET
    input_request: PendingInput | UnsetType = UNSET
    # The run's `[n]`, once it started.
    execution_count: int | None | UnsetType = UNSET


class Resync(ServerMessage, tag="resync"):
    """Broadcasts were lost: the notebook follows again, as on connecting."""


# ------------------------------------------------------------------ the notebook, its cells and its people


class CellInserted(ServerMessage, tag="cell_inserted"):
    index: int
    cell: Cell
    revision: int
    ydoc_update: str | UnsetType = UNSET


class CellUpdated(ServerMessage, tag="cell_updated"):
    cell_id: str
    source: str
    revision: int
    ydoc_update: str | UnsetType = UNSET


class CellLanguage(ServerMessage, tag="cell_language"):
    cell_id: str
    language: Language
    revision: int
    ydoc_update: str | UnsetType = UNSET


class CellDeleted(ServerMessage, tag="cell_deleted"):
    cell_id: str
    revision: int
    ydoc_update: str | UnsetType = UNSET


class CellMoved(ServerMessage, tag="cell_moved"):
    cell_id: str
    index: int
    revision: int
    ydoc_update: str | UnsetType = UNSET


class OutputsCleared(ServerMessage, tag="outputs_cleared"):
    cell_ids: list[str]
    revision: int
    ydoc_update: str | UnsetType = UNSET


class CellHidden(ServerMessage, tag="cell_hidden"):
    """A cell's code or output was hidden, or shown again, for everyone (its metadata says so)."""

    cell_id: str
    part: HiddenPart
    hidden: bool
    revision: int
    ydoc_update: str | UnsetType = UNSET


class DraftReplaced(ServerMessage, tag="draft_replaced"):
    """The whole draft changed (a restore, a whole-draft PUT): read it again."""

    revision: int
    ydoc_update: str | UnsetType = UNSET


# A change of the draft: stored under a new revision, with the CRDT update that brought the sources along.
DraftEvent = (
    CellInserted | CellUpdated | CellLanguage | CellDeleted | CellMoved | OutputsCleared | CellHidden | DraftReplaced
)
DRAFT_EVENT_TYPES = frozenset(str(kind.__struct_config__.tag) for kind in get_args(DraftEvent))


class NotebookRenamed(ServerMessage, tag="notebook_renamed"):
    title: str


class NotebookDeleted(ServerMessage, tag="notebook_deleted"):
    """Sent just before the connection closes (4404)."""


class VersionSaved(ServerMessage, tag="version_saved"):
    number: int


class GrantsChanged(ServerMessage, tag="grants_changed"):
    """This person's role here changed: `you` holds it now (each connection sends its own person's)."""

    you: Person


class Presence(ServerMessage, tag="presence"):
    users: list[PresenceEntry]


class ConfigChanged(ServerMessage, tag="config_changed"):
    revision: int
    restart_needed: bool


class Environment(ServerMessage, tag="environment"):
    """An environment build's progress (at most twice a second) and outcome."""

    kind: EnvironmentKind
    key: str
    state: EnvironmentState
    log_tail: str
    error: str | UnsetType = UNSET


class EnvironmentNotice(ServerMessage, tag="environment_notice"):
    """A kernel started without the environment it wanted; `using` is the one it runs on instead."""

    kind: EnvironmentKind
    key: str
    state: EnvironmentState
    using: str
    message: str


class Notice(ServerMessage, tag="notice"):
    level: Literal["info", "warning", "error"]
    message: str


class Cursor(ServerMessage, tag="cursor"):
    """Another editor's caret and selection (Yjs relative positions, base64); cell_id None takes it away."""

    conn: str
    username: str
    cell_id: str | None
    anchor: str | UnsetType = UNSET
    head: str | UnsetType = UNSET


# ------------------------------------------------------------------ runs and the kernel


class KernelStatus(ServerMessage, tag="kernel_status"):
    state: KernelState
    reason: str | UnsetType = UNSET


class CellStatus(ServerMessage, tag="cell_status"):
    cell_id: str
    state: CellState
    # A run its kernel did not end: the outputs it ended with (heads), and how many there are.
    outputs: list[OutputDict] | UnsetType = UNSET
    outputs_total: int | UnsetType = UNSET
    # On `running`: the run's `[n]` in its kernel session.
    execution_count: int | UnsetType = UNSET


class Statement(ServerMessage, tag="statement"):
    cell_id: str
    line_start: int
    line_end: int


class Output(ServerMessage, tag="output"):
    cell_id: str
    output: OutputChangeDict


class CellResult(ServerMessage, tag="cell_result"):
    cell_id: str
    symbols: list[SymbolInfo]
    stale: list[str]


class CellsStale(ServerMessage, tag="cells_stale"):
    cell_ids: list[str]


class Tasks(ServerMessage, tag="tasks"):
    queue: list[str]
    running: str | None
    building: list[BuildingEnvironment] | UnsetType = UNSET


class SparkProgress(ServerMessage, tag="spark_progress"):
    cell_id: str
    jobs: list[SparkJob]
    ui_url: str | None = None
    ui_note: str | None = None


class InputRequest(ServerMessage, tag="input_request"):
    cell_id: str
    exec_id: str
    prompt: str
    password: bool
    username: str


class InputDone(ServerMessage, tag="input_done"):
    cell_id: str
    exec_id: str


SERVER_MESSAGES: tuple[type[ServerMessage], ...] = (
    Snapshot, Ack, Error, Chunk, CellSync, Resync,
    CellInserted, CellUpdated, CellLanguage, CellDeleted, CellMoved, OutputsCleared, CellHidden, DraftReplaced,
    NotebookRenamed, NotebookDeleted, VersionSaved, GrantsChanged, Presence, ConfigChanged, Environment,
    EnvironmentNotice, Notice, Cursor,
    KernelStatus, CellStatus, Statement, Output, CellResult, CellsStale, Tasks, SparkProgress,
    InputRequest, InputDone,
)


# ------------------------------------------------------------------ client -> server


class InsertCell(ClientMessage, tag="insert_cell"):
    index: int
    # The REST draft's cell schema (language, source, metadata, id), checked by notebooks.validation.
    cell: dict[str, Any] = {}


class UpdateCell(ClientMessage, tag="update_cell"):
    cell_id: str
    source: str


class EditSource(ClientMessage, tag="edit_source"):
    cell_id: str
    update: str


class SetLanguage(ClientMessage, tag="set_language"):
    cell_id: str
    language: str


class DeleteCell(ClientMessage, tag="delete_cell"):
    cell_id: str


class MoveCell(ClientMessage, tag="move_cell"):
    cell_id: str
    index: int


class SetHidden(ClientMessage, tag="set_hidden"):
    """Hide or show a cell's code (`part` "source") or output ("outputs") for everyone."""

    cell_id: str
    part: str
    hidden: bool


class ClearOutputs(ClientMessage, tag="clear_outputs"):
    """One cell's outputs, or every cell's (no cell_id)."""

    cell_id: str | None = None


class RunCell(ClientMessage, tag="run_cell"):
    cell_id: str


class RunFrom(ClientMessage, tag="run_from"):
    cell_id: str


class RunAll(ClientMessage, tag="run_all"):
    pass


class RunStale(ClientMessage, tag="run_stale"):
    pass


class Interrupt(ClientMessage, tag="interrupt"):
    pass


class Restart(ClientMessage, tag="restart"):
    pass


class Shutdown(ClientMessage, tag="shutdown"):
    pass


class Complete(ClientMessage, tag="complete"):
    cell_id: str
    source: str
    pos: int
    language: str | None = None


class Signature(ClientMessage, tag="signature"):
    cell_id: str
    source: str
    pos: int
    language: str | None = None


class Hover(ClientMessage, tag="hover"):
    cell_id: str
    source: str
    pos: int
    language: str | None = None


class Check(ClientMessage, tag="check"):
    cell_id: str
    source: str
    language: str | None = None


class TablePage(ClientMessage, tag="table_page"):
    ref: str
    offset: int
    page_size: int
    cell_id: str | None = None


class InspectScope(ClientMessage, tag="inspect_scope"):
    cell_id: str


class Explore(ClientMessage, tag="explore"):
    """A table output (`ref`) or a symbol as the cell sees it (`name`)."""

    cell_id: str
    op: str
    ref: str | None = None
    name: str | None = None
    args: dict[str, Any] = {}


class Focus(ClientMessage, tag="focus"):
    cell_id: str | None = None


class CursorMove(ClientMessage, tag="cursor"):
    """This editor's caret (a notification: answered only when it carries `req`); cell_id None: they left."""

    cell_id: str | None = None
    anchor: str | None = None
    head: str | None = None


class InputReply(ClientMessage, tag="input_reply"):
    cell_id: str
    exec_id: str
    value: str


CLIENT_MESSAGES: tuple[type[ClientMessage], ...] = (
    InsertCell, UpdateCell, EditSource, SetLanguage, DeleteCell, MoveCell, ClearOutputs, SetHidden,
    RunCell, RunFrom, RunAll, RunStale, Interrupt, Restart, Shutdown,
    Complete, Signature, Hover, Check, TablePage, InspectScope, Explore, Focus, CursorMove, InputReply,
)


def tag(cls: type[msgspec.Struct]) -> str:
    """A message class's `type`."""
    return str(cls.__struct_config__.tag)


SERVER_MESSAGE_TYPES = frozenset(tag(cls) for cls in SERVER_MESSAGES)
CLIENT_MESSAGE_TYPES = frozenset(tag(cls) for cls in CLIENT_MESSAGES)

_CLIENT_CLASSES = {tag(cls): cls for cls in CLIENT_MESSAGES}
# Every server message, told apart by `type` (what a page reads; what the contract test checks events against).
SERVER_UNION: Any = Union[SERVER_MESSAGES]  # noqa: UP007 (a union of a tuple of classes, built at run time)
_SERVER_DECODER = msgspec.json.Decoder(SERVER_UNION)

_ENCODER = msgspec.json.Encoder()


class MessageError(ValueError):
    """A message that does not fit its class: `field` names where (dotted), `message` says what."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _where(error: msgspec.ValidationError) -> tuple[str, str | None]:
    """msgspec's `Expected int, got str - at $.cell.index` as (what, "cell.index")."""
    text = str(error)
    what, _, path = text.partition(" - at `$")
    field = path.rstrip("`").lstrip(".").replace("[", ".").replace("]", "") or None
    if field is None and what.startswith("Object missing required field `"):
        field = what.split("`")[1]
    return what, field


def read_client_message(message: dict[str, Any]) -> ClientMessage:
    """A client's message (JSON already read and checked for depth, NUL bytes and the like) as its class;
    MessageError naming the field when a field is missing or of the wrong kind. The type must be known."""
    cls = _CLIENT_CLASSES[message["type"]]
    try:
        return msgspec.convert(message, cls)
    except msgspec.ValidationError as exc:
        what, field = _where(exc)
        raise MessageError(f"{message['type']}: {what}", field) from None


def read_server_message(text: str | bytes) -> ServerMessage:
    """A server message's JSON as its class; MessageError naming the field when it breaks the contract. For
    tests and tools: the server builds its messages with these classes and never reads them back."""
    try:
        return _SERVER_DECODER.decode(text)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        what, field = _where(exc)
        raise MessageError(what, field) from None


def encode(message: ServerMessage) -> str:
    """The message as it goes on the wire (one line of JSON). Anything but a message class is refused: a dict
    would go out unchecked by the contract."""
    if not isinstance(message, ServerMessage):
        raise TypeError(f"{type(message).__name__} is not a server message (kernels.messages)")
    return _ENCODER.encode(message).decode()


def to_builtins(message: ServerMessage) -> dict[str, Any]:
    """The message as plain data, for the channel layer's envelopes (msgpack)."""
    return msgspec.to_builtins(message)  # type: ignore[no-any-return]
