"""The live notebook WebSocket: checks every message against the caller's role and relays notebook events."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import connection

from kernels import backends as kernel_backends
from kernels import messages
from kernels import services as kernel_services
from kernels.core.exploration import EXPLORE_OPS
from kernels.events import LIVE_LAYER, chunked, ephemeral, group_name
from kernels.messages import PROTOCOL_VERSION
from kernels.watch import host_watch
from notebooks import collab, presence, running, services
from notebooks.limits import MAX_CURSOR_POSITION_CHARS, MAX_INPUT_REPLY_CHARS, MAX_WS_MESSAGE_BYTES
from notebooks.roles import Role
from notebooks.snapshot import build_snapshot
from notebooks.validation import check_cell_id, check_cell_keys, check_language, check_source
from quire.lib.errors import Forbidden, InvalidInput, QuireError
from quire.lib.live import forget_reconnect, on_reconnect, user_group
from quire.lib.text import check_json, check_text, load_json

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = MAX_WS_MESSAGE_BYTES
# `req` is echoed in the reply; JavaScript numbers are exact up to here.
MAX_REQ = 2**53 - 1
# A table ref is "<cell id>:<n>" (kernels/core/tables.py); anything longer names no table.
MAX_REF = 100
# Close codes in the private range: the page shows "not found" / "sign in" instead of retrying forever.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404

# Each connection has a budget of RATE_PER_S points a second, in bursts of up to RATE_BURST. A message costs one
# point; one that writes the draft costs WRITE_COST (40 writes a second, ample for typing). Messages on one
# connection are handled one after another, so a flooding client also waits for itself, not for others.
RATE_PER_S = 400.0
RATE_BURST = 200.0
WRITE_COST = 10.0
WRITES = frozenset({"insert_cell", "update_cell", "edit_source", "set_language", "delete_cell", "move_cell",
                    "clear_outputs", "set_hidden", "restart"})

# The caller's role is read when the connection opens and again whenever sharing, a team membership or the
# notebook itself changes (each is announced on the live layer); after ROLE_FRESH_S it is read again anyway, for
# the changes nothing announces (an account made inactive in the admin).
ROLE_FRESH_S = 10.0

# A run on a kernel that is up executes the cells this connection last read for a run, until it hears of a change
# to the draft (running.DraftSeen); after DRAFT_FRESH_S they are read again anyway, for the changes nothing
# announces (a database console).
DRAFT_FRESH_S = 10.0

# How long a browser waits for the kernel to answer a completion or table-page request.
KERNEL_REPLY_TIMEOUT_S = 10.0

# Exploration sorts, summarises or exports whole tables (a Spark job, for Spark data): it may take longer.
EXPLORE_REPLY_TIMEOUT_S = 120.0
# Longer than any identifier a cell could bind.
MAX_SYMBOL_NAME = 200

# A handler's reply becomes the ack; None means the ack is sent later (a kernel request answers it).


def database_sync_to_async(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run a service in a worker thread. On PostgreSQL in parallel threads, so one connection's slow call
    never queues everyone else's; SQLite (embedded mode) keeps the one shared thread it needs."""
    return DatabaseSyncToAsync(func, thread_sensitive=connection.vendor == "sqlite")


# A handler takes the message as its class (kernels.messages) and answers the fields of its ack.
Handler = Callable[["NotebookConsumer", Any], Awaitable[dict[str, Any] | None]]


def _cell_id(cell_id: str | None) -> str:
    # Checked here, before any service or kernel sees it, so no error or broadcast repeats a hostile id.
    return check_cell_id(cell_id)


def _whole(value: int, name: str, *, least: int = 0, most: int = MAX_REQ) -> int:
    if not least <= value <= most:
        raise InvalidInput(f"{name} is from {least} to {most}", field=name)
    return value


def _position(value: str | None, name: str) -> str:
    """One end of a caret's selection: a Yjs relative position in base64, relayed as it came (only pages read it)."""
    if value is None:
        raise InvalidInput(f"a caret in a cell needs {name!r}", field=name)
    if len(value) > MAX_CURSOR_POSITION_CHARS:
        raise InvalidInput(f"{name} has at most {MAX_CURSOR_POSITION_CHARS} characters", field=name)
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{name} is a Yjs relative position in base64", field=name) from None
    return value


def decode(text_data: str | None) -> dict[str, Any]:
    """A client's frame as a JSON object with a string `type`; InvalidInput otherwise."""
    if text_data is None:
        raise InvalidInput("messages are JSON text frames")
    if len(text_data) > MAX_MESSAGE_BYTES:
        raise InvalidInput(f"message larger than {MAX_MESSAGE_BYTES} bytes", extra={"code": "too_large"})
    message = load_json(text_data, root="message")
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise InvalidInput("a message is a JSON object with a string 'type'", field="type")
    return message


def request_id(message: dict[str, Any]) -> int | None:
    """The message's `req`, echoed in its reply: an integer, or none."""
    req = message.get("req")
    if req is not None and (isinstance(req, bool) or not isinstance(req, int) or abs(req) > MAX_REQ):
        raise InvalidInput(f"'req' is an integer of at most {MAX_REQ}", field="req")
    return req


def check_message(message: dict[str, Any]) -> None:
    """Nesting, NUL bytes, lone surrogates and non-finite numbers are refused anywhere in a message, by field;
    and it speaks protocol version 1 (`v` may be left out)."""
    check_json(message, root="message")
    version = message.get("v", PROTOCOL_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version != PROTOCOL_VERSION:
        raise InvalidInput(f"this server speaks protocol version {PROTOCOL_VERSION} only", field="v",
                           extra={"code": "unsupported_version"})


class NotebookConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = LIVE_LAYER
    notebook_id: int
    group: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Kernel requests in flight: req_id -> (the browser's req, its timeout task).
        self.pending: dict[str, tuple[Any, asyncio.Task[None]]] = {}
        self.focus: str | None = None
        self.presence_version = 0
        self.announced = False
        self.tokens = RATE_BURST
        self.tokens_at = 0.0
        # The notebook's kernel as the live stream tells it: where its host reads commands, and its state. Runs go
        # straight there while it is up; otherwise through the database, which starts a kernel if need be.
        self.kernel_channel: str | None = None
        # The direct line to that kernel's host (kernels/direct.py), as its last event batch named it.
        self.kernel_route: dict[str, Any] | None = None
        # The last event batch relayed of each kernel host's relay (its epoch: the batch number), see notebook_events.
        self.batches: dict[str, int] = {}
        self.kernel_state: str | None = None
        self.ended_channels: set[str] = set()
        self.role = Role.VIEWER
        self.role_at = float("-inf")
        # Where this connection is in the notebook's numbered broadcast stream: (epoch, last seq relayed), or None
        # until the first numbered message after a (re)start sets it.
        self.stream: tuple[str, int] | None = None
        # Names this connection's caret to the others (the channel name stays between the servers); and whether
        # they are shown one now, to be taken away when the connection leaves.
        self.conn_id = secrets.token_hex(6)
        self.caret_shown = False
        self.draft = running.DraftSeen()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch closes stale database connections before every handler: a hop to the database
        thread per message, every event relayed to the page among them, which in embedded mode waits behind any
        write in that thread. Here every database call closes them itself (database_sync_to_async)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']!r}")
        await handler(message)

    async def connect(self) -> None:
        self.notebook_id = int(self.scope["url_route"]["kwargs"]["notebook_id"])
        self.group = group_name(self.notebook_id)
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self._send(messages.Error(req=None, code="unauthenticated", message="sign in first"))
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # Embedded mode: the kernel pools start filling with the first page (kernels/pools.py).
        await kernel_backends.serve_maintenance()
        # Join before reading the snapshot so no event falls between the two.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        # What the live layer carried while its connection was down never reaches us: catch up when it is back.
        on_reconnect(self.group, self.channel_name, {"type": "notebook.resync", "lost": "connection"})
        try:
            snapshot, role = await database_sync_to_async(build_snapshot)(user, self.notebook_id)
        except QuireError as exc:
            await self._leave_groups()
            await self._send(messages.Error(req=None, code=exc.code, message=exc.message))
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self._remember_role(role)
        await self._send_state(snapshot)
        self.announced = True
        await self._announce()

    async def _send_state(self, snapshot: messages.Snapshot) -> None:
        await self._send(snapshot)
        # The snapshot holds finished runs; the host sends what is running now, outputs so far included.
        live = await database_sync_to_async(kernel_services.request_sync)(self.notebook_id, reply_to=self.channel_name)
        if live is not None:
            self._track_kernel(live[1], live[0])

    async def notebook_resync(self, message: dict[str, Any]) -> None:
        """A broadcast about this notebook was lost (a publisher could not reach the live layer, or this process's
        connection to it was down): send the notebook as it is now, as on connecting, so this viewer catches up on
        whatever it missed. The browser is told first, and shows it is catching up until the snapshot."""
        self.draft.forget()
        self.batches = {}  # the host's sync comes through Redis: nothing from the line may overtake it
        if message.get("lost") == "connection":
            self.stream = None  # numbers carried on without us: the next one starts afresh
            # Presence lives in Redis too, which may have restarted empty: say again who is here.
            if self.announced:
                await self._announce()
        await self._send(messages.Resync())
        try:
            snapshot, role = await database_sync_to_async(build_snapshot)(self.user, self.notebook_id)
        except QuireError:
            await self._recheck_access()
            return
        self._remember_role(role)
        await self._send_state(snapshot)

    async def disconnect(self, code: int) -> None:
        for _, task in self.pending.values():
            task.cancel()
        self._unwatch_kernel()
        self.kernel_channel = None
        if self.announced:
            await self._announce(leaving=True)
        if self.caret_shown:
            await self._relay_cursor(None)
        await self._leave_groups()

    async def _leave_groups(self) -> None:
        if hasattr(self, "group"):
            forget_reconnect(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.group, self.channel_name)
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            await self.channel_layer.group_discard(user_group(user.pk), self.channel_name)

    # ------------------------------------------------------------------ the caller's role

    def _remember_role(self, role: Role) -> None:
        self.role = role
        self.role_at = asyncio.get_running_loop().time()

    async def _current_role(self) -> Role:
        """The caller's role on this notebook: the one last read, unless it is older than ROLE_FRESH_S."""
        if asyncio.get_running_loop().time() - self.role_at > ROLE_FRESH_S:
            _, role = await database_sync_to_async(services.get_notebook)(
                self.user, self.notebook_id, sources=False
            )
            self._remember_role(role)
        return self.role

    async def _recheck_access(self) -> bool:
        """Read the caller's role again; False (and the connection closing) if they may no longer read."""
        try:
            _, role = await database_sync_to_async(services.get_notebook)(
                self.user, self.notebook_id, sources=False
            )
        except QuireError as exc:
            await self._send(messages.Error(req=None, code=exc.code, message=exc.message))
            await self.close(code=CLOSE_NOT_FOUND)
            return False
        self._remember_role(role)
        if self.caret_shown and role < Role.EDITOR:
            await self._relay_cursor(None)  # no longer an editor: the others stop seeing a caret that cannot type
        return True

    async def access_changed(self, message: dict[str, Any]) -> None:
        """This person's teams changed: what they may do here may have, too."""
        if await self._recheck_access():
            await self._send(messages.GrantsChanged(you=self._you()))

    def _you(self) -> messages.Person:
        return messages.Person(username=self.user.get_username(), role=self.role.label)

    # ------------------------------------------------------------------ presence

    async def _announce(self, *, leaving: bool = False) -> None:
        entry = None if leaving else {"username": self.user.get_username(), "cell_id": self.focus}
        try:
            version, entries = await presence.store().put(self.notebook_id, self.channel_name, entry)
            await self.channel_layer.group_send(
                self.group, {"type": "presence.update", "version": version, "users": presence.listing(entries)}
            )
        except Exception:  # Redis unreachable: presence is a courtesy, the connection and its edits go on
            log.warning("notebook %s: presence could not be announced", self.notebook_id, exc_info=True)

    async def presence_update(self, message: dict[str, Any]) -> None:
        # Broadcasts can overtake each other; an older list never replaces a newer one.
        if message["version"] > self.presence_version:
            self.presence_version = message["version"]
            await self._send(messages.Presence(users=message["users"]))

    # ------------------------------------------------------------------ carets

    async def _relay_cursor(self, position: dict[str, str] | None, cell_id: str | None = None) -> None:
        event = messages.Cursor(conn=self.conn_id, username=self.user.get_username(),
                                cell_id=cell_id if position else None)
        if position:
            event = msgspec.structs.replace(event, anchor=position["anchor"], head=position["head"])
        self.caret_shown = position is not None
        try:
            await self.channel_layer.group_send(self.group, ephemeral(event, sender=self.channel_name))
        except Exception:  # Redis unreachable: a caret is a courtesy, the connection and its edits go on
            log.warning("notebook %s: a caret could not be relayed", self.notebook_id, exc_info=True)

    async def notebook_ephemeral(self, message: dict[str, Any]) -> None:
        if message["sender"] != self.channel_name:
            await self.send(text_data=message["text"])

    # ------------------------------------------------------------------ kernel replies to this browser's requests

    async def kernel_sync(self, message: dict[str, Any]) -> None:
        # The host's word, newer than the snapshot's (which the database gave).
        self.kernel_state = message["state"]
        await self._send(messages.KernelStatus(state=message["state"]))
        for cell in message["cells"]:
            await self._send(messages.CellSync(**cell))

    async def kernel_reply(self, message: dict[str, Any]) -> None:
        reply = message["reply"]
        pending = self.pending.pop(str(reply.get("req_id")), None)
        if pending is None:
            return  # timed out already
        req, task = pending
        task.cancel()
        if reply.get("type") == "error":
            await self._send(messages.Error(req=req, code="kernel", message=str(reply.get("message", ""))))
            return
        # The kernel's answer (kernels.core.protocol: completions, signatures, ...) is the ack's body.
        body = {k: v for k, v in reply.items() if k not in ("type", "req_id", "v")}
        try:
            ack = messages.Ack(req=req, **body)
        except TypeError:  # a field the protocol does not have: the kernel is not ours to trust
            log.warning("notebook %s: a kernel answered with fields %s", self.notebook_id, sorted(body))
            await self._send(messages.Error(req=req, code="kernel", message="the kernel's answer was malformed"))
            return
        await self._send(ack)

    async def _expire(self, req_id: str, timeout: float) -> None:
        await asyncio.sleep(timeout)
        pending = self.pending.pop(req_id, None)
        if pending is not None:
            await self._send(messages.Error(req=pending[0], code="timeout", message="the kernel did not answer in time"))

    async def _kernel_request(
        self, message: messages.ClientMessage, command: dict[str, Any], *, timeout: float = KERNEL_REPLY_TIMEOUT_S
    ) -> dict[str, Any] | None:
        req_id = secrets.token_hex(8)
        command = {**command, "req_id": req_id}
        # Registered before sending: the reply may arrive before the send returns.
        self.pending[req_id] = (message.req, asyncio.create_task(self._expire(req_id, timeout)))
        sent = await database_sync_to_async(running.check_kernel_request)(
            self.user, self.notebook_id, command=command, reply_to=self.channel_name
        )
        if not sent:
            _, task = self.pending.pop(req_id)
            task.cancel()
            return {"kernel": "not_running"}
        return None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        req: Any = None
        try:
            message = decode(text_data)
            req = request_id(message)
            # Charged before the checks: a flood of invalid messages costs its sender like any other.
            if not self._take_tokens(WRITE_COST if message["type"] in WRITES else 1.0):
                raise InvalidInput(
                    f"too many messages: at most {RATE_PER_S:.0f} a second, {RATE_PER_S / WRITE_COST:.0f} of them "
                    "changes", extra={"code": "rate_limited"},
                )
            check_message(message)
            if message["type"] in WRITES:
                self.draft.forget()  # its broadcast comes back after the run that may follow it
            handler = HANDLERS.get(message["type"])
            if handler is None:
                raise InvalidInput(f"unknown message type {message['type']!r:.60}", field="type",
                                   extra={"code": "unknown_type"})
            try:
                typed = messages.read_client_message(message)
            except messages.MessageError as exc:
                raise InvalidInput(exc.message, field=exc.field) from None
            reply = await handler(self, typed)
            if reply is not None:
                await self._send(messages.Ack(req=req, **reply))
        except QuireError as exc:
            body = exc.as_dict()
            await self._send(messages.Error(req=req, code=body.get("code", exc.code), message=exc.message,
                                            field=exc.field or messages.UNSET))
        except Exception:  # process boundary: one bad message must not kill the connection
            log.exception("notebook %s: message handling failed", self.notebook_id)
            await self._send(messages.Error(req=req, code="internal", message="internal error"))

    def _take_tokens(self, cost: float) -> bool:
        now = asyncio.get_running_loop().time()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.tokens_at) * RATE_PER_S)
        self.tokens_at = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def _track_kernel(self, state: str, channel: str | None) -> None:
        if channel is None or channel in self.ended_channels:
            return  # news of an ended kernel, arriving late
        if state in kernel_services.LIVE_STATES:
            if channel != self.kernel_channel:
                # Watched while shown (kernels/watch.py): this process tells the page if the host dies.
                self._unwatch_kernel()
                self.kernel_channel, self.kernel_route = channel, None
                host_watch().watch(channel)
            self.kernel_state = state
        else:
            self.ended_channels.add(channel)
            if channel == self.kernel_channel:
                self._unwatch_kernel()
                self.kernel_channel = self.kernel_state = self.kernel_route = None

    def _unwatch_kernel(self) -> None:
        if self.kernel_channel is not None:
            host_watch().unwatch(self.kernel_channel)

    def _in_sequence(self, message: dict[str, Any]) -> bool:
        """Whether a numbered broadcast follows the last one relayed; False when some were lost in between (a
        number skipped, or Redis restarted and numbers afresh under a new epoch). Either way it becomes the last."""
        seq, epoch = message.get("seq"), message.get("epoch")
        if not isinstance(seq, int) or not isinstance(epoch, str):
            return True  # the in-memory layer (embedded mode) loses nothing and numbers nothing
        last, self.stream = self.stream, (epoch, seq)
        if last is None:
            return True
        if last[0] != epoch or seq > last[1] + 1:
            log.warning("notebook %s: broadcasts lost (%s:%d, then %s:%d); resynchronising a viewer",
                        self.notebook_id, last[0], last[1], epoch, seq)
            return False
        return True

    async def notebook_events(self, message: dict[str, Any]) -> None:
        """A kernel host's event batch. Each comes twice to a server on the host's direct line (kernels/direct.py):
        from the line first, as a rule, and numbered through Redis. The Redis copies are the notebook's sequence,
        checked as every broadcast is; a batch is relayed once, whichever copy comes first in the host's order.
        A copy from the line is relayed only right after the batch before it (so it never overtakes one still on
        its way through Redis), and never before this connection has relayed a Redis copy since it connected or
        resynchronised (which may have been news from before a sync that the line would overtake)."""
        batch = message.get("batch")
        if message.get("line"):
            if batch is None or self.batches.get(batch[0]) != batch[1] - 1:
                return  # its numbered copy comes through Redis
            self.batches[batch[0]] = batch[1]
        elif not self._in_sequence(message):
            if "kernel_state" in message:
                self._track_kernel(message["kernel_state"], message.get("kernel_channel"))
            # The snapshot and the host's sync that follow hold this message's news too.
            await self.notebook_resync({"lost": "broadcast"})
            return
        elif batch is not None:
            if batch[1] <= self.batches.get(batch[0], 0):
                return  # relayed from the line already
            self.batches[batch[0]] = batch[1]
        if "kernel_state" in message:
            self._track_kernel(message["kernel_state"], message.get("kernel_channel"))
        if "kernel_route" in message and message.get("kernel_channel") == self.kernel_channel:
            self.kernel_route = message["kernel_route"]
        for text in message["texts"]:
            await self.send(text_data=text)

    async def notebook_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event.get("type") in messages.DRAFT_EVENT_TYPES or event.get("type") == "notebook_deleted":
            self.draft.forget()
        if event.get("type") == "kernel_status":
            self._track_kernel(event["state"], message.get("kernel_channel"))
        if not self._in_sequence(message):
            await self.notebook_resync({"lost": "broadcast"})
            return
        if event.get("type") == "notebook_deleted":
            # Said before the connection closes (nobody may read a deleted notebook), so the page can say why.
            await self.send(text_data=message["text"])
            await self._recheck_access()
            return
        await self.send(text_data=message["text"])

    async def notebook_access(self, message: dict[str, Any]) -> None:
        """Sharing here changed (events.publish_access_change): access may have just been taken away, so check
        again before relaying anything more, and tell the page its person's role now."""
        if not self._in_sequence(message):
            await self.notebook_resync({"lost": "broadcast"})  # the snapshot says who they are now
            return
        if await self._recheck_access():
            await self._send(messages.GrantsChanged(you=self._you()))

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        """Every frame to the browser leaves here: a message too long for one frame goes as chunks."""
        if text_data is None:
            await super().send(text_data=None, bytes_data=bytes_data, close=close)
            return
        for frame in chunked(text_data):
            await super().send(text_data=frame)
        if close:
            await super().close()

    async def _send(self, body: messages.ServerMessage) -> None:
        await self.send(text_data=messages.encode(body))

    # ------------------------------------------------------------------ handlers, one per message type

    @property
    def user(self) -> Any:
        return self.scope["user"]

    async def on_insert_cell(self, message: messages.InsertCell) -> dict[str, Any]:
        cell = check_cell_keys(message.cell, field="cell")
        change = await database_sync_to_async(services.check_insert_cell)(
            self.user, self.notebook_id, index=message.index,
            language=cell.get("language", "python"), source=cell.get("source", ""), metadata=cell.get("metadata"),
            cell_id=cell.get("id"),
        )
        assert isinstance(change.result, messages.CellInserted)
        return {"cell_id": change.result.cell["id"], "revision": change.revision}

    async def on_update_cell(self, message: messages.UpdateCell) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_update_source)(
            self.user, self.notebook_id, cell_id=_cell_id(message.cell_id), source=message.source
        )
        return {"revision": change.revision}

    async def on_edit_source(self, message: messages.EditSource) -> dict[str, Any]:
        update = collab.decode_update(message.update)
        change = await database_sync_to_async(services.check_edit_source)(
            self.user, self.notebook_id, cell_id=_cell_id(message.cell_id), update=update
        )
        return {"revision": change.revision}

    async def on_set_language(self, message: messages.SetLanguage) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_set_language)(
            self.user, self.notebook_id, cell_id=_cell_id(message.cell_id), language=message.language,
        )
        return {"revision": change.revision}

    async def on_delete_cell(self, message: messages.DeleteCell) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_delete_cell)(
            self.user, self.notebook_id, cell_id=_cell_id(message.cell_id)
        )
        return {"revision": change.revision}

    async def on_move_cell(self, message: messages.MoveCell) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_move_cell)(
            self.user, self.notebook_id, cell_id=_cell_id(message.cell_id), index=message.index
        )
        return {"revision": change.revision}

    async def on_clear_outputs(self, message: messages.ClearOutputs) -> dict[str, Any]:
        cell_id = None if message.cell_id is None else _cell_id(message.cell_id)
        change = await database_sync_to_async(services.check_clear_outputs)(
            self.user, self.notebook_id, cell_id=cell_id
        )
        assert isinstance(change.result, messages.OutputsCleared)
        return {"revision": change.revision, "cell_ids": change.result.cell_ids}

    async def on_set_hidden(self, message: messages.SetHidden) -> dict[str, Any]:
        change = await database_sync_to_async(services.check_set_hidden)(
            self.user, self.notebook_id, cell_id=_cell_id(message.cell_id), part=message.part, hidden=message.hidden,
        )
        return {"revision": change.revision}

    async def _run(self, *, scope: str, cell_id: str | None = None) -> dict[str, Any]:
        live = self.kernel_channel is not None and self.kernel_state in ("idle", "busy") and scope != "stale"
        if asyncio.get_running_loop().time() - self.draft.read_at > DRAFT_FRESH_S:
            self.draft.forget()
        queued = await running.submit_run(
            self.user, self.notebook_id, scope=scope, cell_id=cell_id,
            live_channel=self.kernel_channel if live else None, role=await self._current_role() if live else None,
            draft=self.draft, route=self.kernel_route if live else None,
        )
        return {"queued": queued.cell_ids, "execution_ids": [str(e) for e in queued.execution_ids]}

    async def on_run_cell(self, message: messages.RunCell) -> dict[str, Any]:
        return await self._run(scope="cell", cell_id=_cell_id(message.cell_id))

    async def on_run_from(self, message: messages.RunFrom) -> dict[str, Any]:
        return await self._run(scope="from", cell_id=_cell_id(message.cell_id))

    async def on_run_all(self, message: messages.RunAll) -> dict[str, Any]:
        return await self._run(scope="all")

    async def on_run_stale(self, message: messages.RunStale) -> dict[str, Any]:
        return await self._run(scope="stale")

    async def on_restart(self, message: messages.Restart) -> dict[str, Any]:
        await database_sync_to_async(running.check_restart)(self.user, self.notebook_id)
        return {}

    async def on_complete(self, message: messages.Complete) -> dict[str, Any] | None:
        return await self._editing_request("complete", message)

    async def on_signature(self, message: messages.Signature) -> dict[str, Any] | None:
        return await self._editing_request("signature", message)

    async def on_hover(self, message: messages.Hover) -> dict[str, Any] | None:
        return await self._editing_request("hover", message)

    async def on_check(self, message: messages.Check) -> dict[str, Any] | None:
        source = check_source(message.source)
        language = check_language(message.language or "python")
        return await self._kernel_request(
            message,
            {"type": "check", "cell_id": _cell_id(message.cell_id), "language": language, "source": source},
        )

    async def _editing_request(
        self, kind: str, message: messages.Complete | messages.Signature | messages.Hover
    ) -> dict[str, Any] | None:
        cell_id = _cell_id(message.cell_id)
        source = check_source(message.source)
        pos = _whole(message.pos, "pos", most=len(source))
        language = check_language(message.language or "python")
        return await self._kernel_request(
            message, {"type": kind, "cell_id": cell_id, "language": language, "source": source, "pos": pos}
        )

    async def on_table_page(self, message: messages.TablePage) -> dict[str, Any] | None:
        offset, page_size = _whole(message.offset, "offset"), _whole(message.page_size, "page_size", least=1, most=1000)
        ref = check_text(message.ref, field="ref")
        if len(ref) > MAX_REF:
            raise InvalidInput(f"a table ref has at most {MAX_REF} characters", field="ref")
        return await self._kernel_request(
            message, {"type": "table_page", "ref": ref, "offset": offset, "page_size": page_size}
        )

    async def on_explore(self, message: messages.Explore) -> dict[str, Any] | None:
        cell_id = _cell_id(message.cell_id)
        if message.op not in EXPLORE_OPS:
            raise InvalidInput(f"op is one of {', '.join(EXPLORE_OPS)}", field="op")
        if message.ref is not None:
            ref = check_text(message.ref, field="ref")
            if len(ref) > MAX_REF:
                raise InvalidInput(f"a table ref has at most {MAX_REF} characters", field="ref")
            target = {"ref": ref}
        else:
            if message.name is None:
                raise InvalidInput("explore names a table output (ref) or a symbol (name)", field="name")
            name = check_text(message.name, field="name")
            if not name or len(name) > MAX_SYMBOL_NAME:
                raise InvalidInput(f"a symbol name has 1 to {MAX_SYMBOL_NAME} characters", field="name")
            target = {"cell_id": cell_id, "name": name}
        return await self._kernel_request(
            message, {"type": "explore", "target": target, "op": message.op, "args": message.args},
            timeout=EXPLORE_REPLY_TIMEOUT_S,
        )

    async def on_inspect_scope(self, message: messages.InspectScope) -> dict[str, Any]:
        return await database_sync_to_async(running.check_inspect_scope)(
            self.user, self.notebook_id, cell_id=_cell_id(message.cell_id)
        )

    async def on_focus(self, message: messages.Focus) -> dict[str, Any]:
        cell_id = None if message.cell_id is None else _cell_id(message.cell_id)
        if cell_id != self.focus:
            # Every viewer hears of a change; a repeat changes nothing, so nobody hears of it.
            self.focus = cell_id
            await self._announce()
        return {}

    async def on_cursor(self, message: messages.CursorMove) -> dict[str, Any] | None:
        """Where this editor's caret and selection are (a cell and two Yjs relative positions), or that they left
        the editor (no cell): relayed to the notebook's other connections. Sent many times a second while typing,
        so it is a notification: answered only when it carries a `req`, and read against the role last read."""
        role = await self._current_role()
        if role < Role.EDITOR:
            if self.caret_shown:  # the role was lost unannounced (read again after ROLE_FRESH_S)
                await self._relay_cursor(None)
            raise Forbidden(f"showing a caret needs the editor role; you are {role.label}")
        if message.cell_id is None:
            if self.caret_shown:  # nothing shown, nothing to take away
                await self._relay_cursor(None)
        else:
            cell_id = _cell_id(message.cell_id)
            position = {"anchor": _position(message.anchor, "anchor"), "head": _position(message.head, "head")}
            await self._relay_cursor(position, cell_id)
        return None if message.req is None else {}

    async def on_interrupt(self, message: messages.Interrupt) -> dict[str, Any]:
        sent = await database_sync_to_async(running.check_interrupt)(self.user, self.notebook_id)
        return {"interrupted": sent}

    async def on_input_reply(self, message: messages.InputReply) -> dict[str, Any]:
        """The answer to a cell's input(): to the kernel's host, which takes it only from the person who ran the
        cell. The ack says whether it was sent (no kernel, nothing to answer)."""
        _cell_id(message.cell_id)
        try:
            exec_id = str(uuid.UUID(message.exec_id))
        except ValueError:
            raise InvalidInput("exec_id names a run (a UUID)", field="exec_id") from None
        value = check_text(message.value, field="value")
        if len(value) > MAX_INPUT_REPLY_CHARS:
            raise InvalidInput(f"an answer has at most {MAX_INPUT_REPLY_CHARS} characters", field="value")
        sent = await database_sync_to_async(running.check_input_reply)(
            self.user, self.notebook_id, exec_id=exec_id, value=value
        )
        return {"sent": sent}

    async def on_shutdown(self, message: messages.Shutdown) -> dict[str, Any]:
        sent = await database_sync_to_async(running.check_shutdown)(self.user, self.notebook_id)
        return {"stopping": sent}


HANDLERS: dict[str, Handler] = {
    "insert_cell": NotebookConsumer.on_insert_cell,
    "update_cell": NotebookConsumer.on_update_cell,
    "edit_source": NotebookConsumer.on_edit_source,
    "set_language": NotebookConsumer.on_set_language,
    "delete_cell": NotebookConsumer.on_delete_cell,
    "move_cell": NotebookConsumer.on_move_cell,
    "clear_outputs": NotebookConsumer.on_clear_outputs,
    "set_hidden": NotebookConsumer.on_set_hidden,
    "run_cell": NotebookConsumer.on_run_cell,
    "run_from": NotebookConsumer.on_run_from,
    "run_all": NotebookConsumer.on_run_all,
    "run_stale": NotebookConsumer.on_run_stale,
    "restart": NotebookConsumer.on_restart,
    "complete": NotebookConsumer.on_complete,
    "signature": NotebookConsumer.on_signature,
    "hover": NotebookConsumer.on_hover,
    "check": NotebookConsumer.on_check,
    "table_page": NotebookConsumer.on_table_page,
    "inspect_scope": NotebookConsumer.on_inspect_scope,
    "explore": NotebookConsumer.on_explore,
    "focus": NotebookConsumer.on_focus,
    "cursor": NotebookConsumer.on_cursor,
    "interrupt": NotebookConsumer.on_interrupt,
    "shutdown": NotebookConsumer.on_shutdown,
    "input_reply": NotebookConsumer.on_input_reply,
}
