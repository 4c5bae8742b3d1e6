"""Kernel actions: queue a cell run, interrupt, shut down, and record what the kernel host reports."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from kernels import direct, events, liveness, messages
from kernels.core.output_list import apply_output
from kernels.limits import MAX_SNAPSHOT_OUTPUT_BYTES
from kernels.models import LIVE_STATES, Execution, KernelSession
from kernels.outputs import heads
from kernels.runbook import FINAL_STATES, RunRecord
from quire.lib.db import relax_commit
from quire.lib.live import send_heard
from quire.lib.text import storable
from quire.quotas.services import Limits, effective_limits

log = logging.getLogger(__name__)

# The error that ends a run whose kernel went away before it finished.
KERNEL_DIED = "KernelDied"
# The error that ends a run whose kernel host died (its process killed, its machine gone), and the session's reason.
HOST_LOST = "KernelHostLost"
HOST_DIED = "the kernel host died"
HOST_SILENT = "the kernel host stopped responding"


def send_command(channel: str, command: dict[str, Any], *, reply_to: str | None = None) -> None:
    """Hand a command to the session's host (buffered by the channel layer until the host reads it)."""
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS must be configured"
    message: dict[str, Any] = {"type": "kernel.command", "command": command}
    if reply_to:
        message["reply_to"] = reply_to
    async_to_sync(layer.send)(channel, message)


def request_sync(notebook_id: int, *, reply_to: str) -> tuple[str, str] | None:
    """Ask the notebook's kernel host (if any) to send `reply_to` the cells it is running and queuing; the live
    session's command channel and state, or None."""
    session = live_session(notebook_id)
    if session is None:
        return None
    send_command(session.channel, {"type": "sync"}, reply_to=reply_to)
    return session.channel, session.state


# A host beats every HEARTBEAT_S; one silent for LOST_AFTER is gone (its worker was killed, or its machine).
HEARTBEAT_S = 2.0
LOST_AFTER = timedelta(seconds=10)
# Without having seen a host's lease held (the reaper, a lookup by notebook), a lapsed lease ends it only once its
# heartbeat is late too: two witnesses, since a host started before leases existed (a rolling upgrade) holds none.
# The servers' watch, which saw the lease held, needs no second one (kernels/watch.py).
MISSED_BEAT = timedelta(seconds=2 * HEARTBEAT_S)
# A session still "starting" after this never got a host (no worker took the task, or it died at once).
START_TIMEOUT = timedelta(seconds=120)
# A session no host took within this is waiting for a free one (every kernel process hosts a kernel): its viewers
# are told, since its kernel may not start for a long while.
HOST_WAIT_NOTICE_AFTER = timedelta(seconds=3)
WAITING_FOR_HOST = (
    "waiting for a free kernel host: every one is hosting a kernel. This kernel starts as soon as one frees up "
    f"(or fails after {int(START_TIMEOUT.total_seconds())} s); kernels shut down or culled when idle free them"
)
NO_HOST = (
    f"no kernel host was free within {int(START_TIMEOUT.total_seconds())} s; shut down a kernel you no longer need "
    "or try again later"
)


def _is_lost(session: KernelSession, now: Any) -> bool:
    if session.heartbeat_at is not None:
        return now - session.heartbeat_at > LOST_AFTER
    return now - session.created_at > START_TIMEOUT


def _lost_reason(session: KernelSession) -> str:
    if session.heartbeat_at is None and not session.host:
        return NO_HOST
    return HOST_SILENT


def live_session(notebook_id: int) -> KernelSession | None:
    """The notebook's running kernel; a session whose host died or went silent is marked dead here, never
    returned."""
    session = KernelSession.objects.filter(notebook_id=notebook_id, state__in=LIVE_STATES).first()
    if session is None:
        return None
    if _is_lost(session, timezone.now()):
        do_set_session_state(session.pk, state=KernelSession.State.DEAD, reason=_lost_reason(session))
        return None
    if (session.state != KernelSession.State.STARTING and timezone.now() - _last_beat(session) > MISSED_BEAT
            and not liveness.leases_held([session.channel])[0]):
        do_set_session_state(session.pk, state=KernelSession.State.DEAD, reason=HOST_DIED)
        return None
    return session


def do_reap_lost_sessions() -> int:
    """Mark every live session whose host died or went silent as dead, and end the runs left in the journals of
    ended sessions; how many sessions were marked. The servers see a lost lease sooner (kernels/watch.py): this is
    the backstop for notebooks nobody has open."""
    now = timezone.now()
    live = list(KernelSession.objects.filter(state__in=LIVE_STATES))
    up = [s for s in live if s.state != KernelSession.State.STARTING]
    held = dict(zip([s.pk for s in up], liveness.leases_held([s.channel for s in up]), strict=True))
    lost = 0
    for session in live:
        if _is_lost(session, now):
            do_set_session_state(session.pk, state=KernelSession.State.DEAD, reason=_lost_reason(session))
            lost += 1
        elif not held.get(session.pk, True) and now - _last_beat(session) > MISSED_BEAT:
            lost += do_end_lost_host(session.channel, seen=True)
    live_channels = {s.channel for s in KernelSession.objects.filter(state__in=LIVE_STATES)}
    for channel in liveness.journaled_channels():
        if channel not in live_channels:
            do_sweep_journal(channel)
    return lost


def _last_beat(session: KernelSession) -> Any:
    return session.heartbeat_at or session.ready_at or session.created_at


def do_end_lost_host(channel: str, *, seen: bool) -> bool:
    """The host reading `channel` is dead if its lease is gone: its session ends (every page hears `dead`) and each
    of its runs ends with what it printed and why. `seen`: the caller saw the lease held before (a session still
    starting may have no host yet). True when this call ended the session; a session already ended has the runs
    left in its journal ended. Safe to call from several processes at once."""
    session = KernelSession.objects.filter(channel=channel).first()
    if session is None:
        liveness.take_journal(channel)
        return False
    if not session.is_live:
        do_sweep_journal(channel)
        return False
    if session.state == KernelSession.State.STARTING and not seen:
        return False
    if liveness.leases_held([channel])[0]:
        return False
    log.warning("kernel session %s: its host's lease lapsed; the host is dead", session.pk)
    do_set_session_state(session.pk, state=KernelSession.State.DEAD, reason=HOST_DIED)
    return True


@transaction.atomic
def do_sweep_journal(channel: str) -> None:
    """End the journaled runs of a session that has ended (runs acked while its host was dying)."""
    session = KernelSession.objects.select_for_update().filter(channel=channel).first()
    if session is None:
        liveness.take_journal(channel)
    elif not session.is_live:
        _end_pending_executions(session, reason=session.reason or f"the kernel is {session.state}")


def sessions_waiting_for_host() -> int:
    """How many sessions no host has taken for a while: every kernel process is busy (kernels/pools.py gives
    up its pooled kernels' processes to them)."""
    return KernelSession.objects.filter(
        state=KernelSession.State.STARTING, host="", created_at__lt=timezone.now() - HOST_WAIT_NOTICE_AFTER
    ).count()


def do_tell_sessions_waiting_for_host() -> int:
    """Tell the viewers of each kernel that no host has taken for a few seconds that it waits for a free one (once
    per session: the reason stays on the row until a host takes it); how many were told."""
    waiting = KernelSession.objects.filter(
        state=KernelSession.State.STARTING, host="", reason="",
        created_at__lt=timezone.now() - HOST_WAIT_NOTICE_AFTER,
    )
    told = 0
    for session in waiting:
        if KernelSession.objects.filter(pk=session.pk, state=KernelSession.State.STARTING, host="", reason="").update(
            reason=WAITING_FOR_HOST
        ):
            events.publish(session.notebook_id, messages.KernelStatus(state=messages.kernel_state(session.state), reason=WAITING_FOR_HOST),
                           kernel_channel=session.channel)
            told += 1
    return told


def do_cull_idle_sessions() -> int:
    """Ask the hosts of kernels that look idle for longer than their quota allows to shut them down; how many
    were asked. The database records a run's start a moment late (see the host's ledger), so each host checks
    against its own knowledge and keeps a kernel that is busy or was used within the limit."""
    now = timezone.now()
    asked = 0
    for session in KernelSession.objects.filter(state=KernelSession.State.IDLE).select_related("notebook", "started_by"):
        limits = effective_limits(session.started_by, team_id=session.notebook.team_id)
        last = session.last_activity_at or session.ready_at or session.created_at
        if now - last > timedelta(seconds=limits.idle_timeout_s):
            log.info("asking kernel %s to shut down: idle since %s", session.pk, last)
            send_command(session.channel, {"type": "cull", "idle_s": limits.idle_timeout_s})
            asked += 1
    return asked


def do_heartbeat(session_id: uuid.UUID, *, rss_bytes: int | None, cpu_seconds: float | None) -> bool:
    """Record that a host is alive; False when its session has been ended meanwhile (the host should stop)."""
    updated = KernelSession.objects.filter(pk=session_id, state__in=LIVE_STATES).update(
        heartbeat_at=timezone.now(), rss_bytes=rss_bytes, cpu_seconds=cpu_seconds
    )
    return bool(updated)


@dataclass(frozen=True)
class QueuedRun:
    """Runs asked for; `commands` still have to reach the kernel host, which records them (see `dispatch_run`)."""

    notebook_id: int
    execution_ids: list[uuid.UUID]
    cell_ids: list[str]
    channel: str | None = None
    commands: list[dict[str, Any]] = field(default_factory=list)

    def add(self, exec_id: uuid.UUID, cell: dict[str, Any], order: list[str], *, user_id: int | None = None,
            username: str = "", recorded: bool = True) -> None:
        """One cell's run by `user_id` (`username`); `recorded` False when it has no database row yet (its host
        writes one for `user_id`)."""
        command: dict[str, Any] = {
            "type": "execute", "exec_id": str(exec_id), "cell_id": cell["id"], "language": str(cell["language"]),
            "source": str(cell["source"]), "order": order,
            # Not for the kernel either: who may answer the cell's input() and whose name the page shows.
            "runner": {"user_id": user_id, "username": username},
        }
        if not recorded:
            # Not for the kernel: the host records the run under this user (and strips it before sending).
            command["record"] = {"user_id": user_id}
        self.commands.append(command)
        self.execution_ids.append(exec_id)
        self.cell_ids.append(cell["id"])


def code_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def plan_live_runs(
    notebook_id: int, *, user_id: int | None, username: str, channel: str, cells: list[dict[str, Any]],
    order: list[str],
) -> QueuedRun:
    """Runs for a kernel known to be up (its host reads `channel`) with no write on the caller's path: the host
    forwards each run to the kernel first and records it afterwards (see `do_record_runs`)."""
    queued = QueuedRun(notebook_id=notebook_id, execution_ids=[], cell_ids=[], channel=channel)
    for cell in cells:
        queued.add(uuid.uuid4(), cell, order, user_id=user_id, username=username, recorded=False)
    return queued


def send_input_reply(notebook_id: int, *, exec_id: str, value: str, user_id: int | None) -> bool:
    """Hand the answer to a cell's input() to the notebook's kernel host, saying who gave it: the host forwards it
    only from the person who ran that cell. False when there is no kernel."""
    session = live_session(notebook_id)
    if session is None:
        return False
    send_command(session.channel, {"type": "input_reply", "exec_id": exec_id, "value": value, "user_id": user_id})
    return True


def interrupt(notebook_id: int) -> bool:
    """Interrupt the running cell and drop the queued ones; False when there is no kernel."""
    session = live_session(notebook_id)
    if session is None:
        return False
    send_command(session.channel, {"type": "interrupt"})
    return True


def stop(notebook_id: int) -> bool:
    """Stop the notebook's live kernel (see `do_stop_session`); False when there is none."""
    session = live_session(notebook_id)
    if session is None:
        return False
    do_stop_session(session)
    return True


def live_command_channel(channel: str) -> str:
    """Where a host that is up also takes commands: a pub/sub channel, faster than its queue but holding nothing
    for a host not yet listening (hosts listen before they report idle)."""
    return f"{channel}.live"


def _journal_entries(queued: QueuedRun) -> list[dict[str, Any]]:
    """What the journal keeps of each run that has no row yet: enough to record and end it without its host."""
    return [
        {"exec_id": c["exec_id"], "cell_id": c["cell_id"], "user_id": c["record"].get("user_id"),
         "language": c["language"], "source": c["source"]}
        for c in queued.commands if "record" in c
    ]


async def dispatch_run(
    queued: QueuedRun, *, live: bool = False, route: dict[str, Any] | None = None
) -> None:
    """After `prepare_run` committed (or `plan_live_run` checked): the commands to the kernel host, from the
    caller's event loop (which saves the database thread two hops back into it); `live` for a host known to be up.
    The host records the runs when it reads them, its kernel up or still starting. Viewers learn of the queue
    from the host's `tasks` events, relayed in order with the kernel's own, so news of the queue never overtakes
    a run's output.

    Runs without a row are journaled first (kernels/liveness.py): once this returns they are durably accepted,
    and end visibly whatever happens to the host."""
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS must be configured"
    channel = str(queued.channel)
    unrecorded = _journal_entries(queued)
    # Journaled in the same round trip as the first publish, or on its own before the queue is used.
    journal = liveness.journal_into(channel, unrecorded)
    if live and route is not None and queued.commands:
        # Straight to the host over its direct line, the journal written meanwhile: this returns (and the caller
        # acks) once both are done. A line that failed leaves the runs to the pub/sub way below, journaled already.
        messages = [{"type": "kernel.command", "command": command} for command in queued.commands]
        # The line's write first: the host starts on the run while Redis stores the journal entry.
        sent, _ = await asyncio.gather(direct.send(route, messages), liveness.journal_runs(channel, unrecorded))
        if sent:
            return
        journal = None
    # Only a host known to be up holds a lease to check; a session still starting may have no host yet.
    unheard, up = False, live
    for command in queued.commands:
        message = {"type": "kernel.command", "command": command}
        if live:
            heard = await send_heard(live_command_channel(channel), message, before=journal)
            journal = None
            if heard:
                continue
        if journal is not None:
            await liveness.journal_runs(channel, unrecorded)
            journal = None
        # No one heard it on the live channel (the host is subscribing again after a Redis restart, or gone):
        # the queue keeps it, and the rest of the run follows it there, in order.
        live, unheard = False, True
        await layer.send(channel, message)
    if up and unheard and unrecorded and not (await liveness.leases_held_async([channel]))[0]:
        # Its host is gone and may not be known to be yet: its session and these runs end now, not at a sweep.
        await database_sync_to_async(do_end_lost_host)(channel, seen=True)


def send_runs(queued: QueuedRun) -> None:
    """`dispatch_run` from synchronous code, once the runs' session is committed: journaled, then sent to the
    host's queue."""
    if not queued.commands:
        return
    channel = str(queued.channel)
    liveness.journal_runs_now(channel, _journal_entries(queued))
    for command in queued.commands:
        send_command(channel, command)


def do_stop_session(session: KernelSession) -> None:
    """Stop a live session: one whose kernel is not up yet ends here and now, since nobody reads a shutdown until
    it is (it may wait for a free host, or minutes for the notebook's environment): a host that comes later finds
    nothing to do, and one that took it stops when it next looks (do_heartbeat, do_announce_ready). A kernel that
    is up is asked to shut down by its host, which reports it stopped."""
    if session.state == KernelSession.State.STARTING:
        do_set_session_state(session.pk, state=KernelSession.State.STOPPED, reason="shut down")
        return
    channel = session.channel
    transaction.on_commit(lambda: send_command(channel, {"type": "shutdown"}))


def forget_deleted_cells(notebook_id: int, cell_ids: list[str], *, order: list[str]) -> None:
    """Tell the notebook's kernel, if one runs, to drop what deleted cells left in it (their values, tables and
    sources): it keeps them for the cells below until told. `order` is the notebook's cells before the delete:
    the kernel answers with the cells below that read what they defined (`cells_stale`). Runs after the delete
    committed."""
    try:
        session = live_session(notebook_id)
        if session is None:
            return
        for cell_id in cell_ids:
            send_command(session.channel, {"type": "forget", "cell_id": cell_id, "order": order})
    except Exception:  # the delete is stored: Redis or the database away costs memory until a restart, not the delete
        log.warning("notebook %s: could not tell its kernel to forget deleted cells %s", notebook_id, cell_ids,
                    exc_info=True)


def unrecorded_runs(notebook_id: int) -> dict[str, str]:
    """Runs of the notebook's live kernel that were acked but that its host has not recorded yet (one that has not
    taken the session, say: every kernel process is busy), from its journal: cell id -> execution id."""
    session = KernelSession.objects.filter(notebook_id=notebook_id, state__in=LIVE_STATES).only("channel").first()
    if session is None:
        return {}
    journal = liveness.journaled_runs(session.channel)
    if not journal:
        return {}
    known = {str(pk) for pk in Execution.objects.filter(pk__in=list(journal)).values_list("pk", flat=True)}
    return {str(entry["cell_id"]): exec_id for exec_id, entry in journal.items() if exec_id not in known}


def kernel_state(notebook_id: int) -> str:
    session = live_session(notebook_id)
    return session.state if session is not None else "not_started"


def kernel_summary(notebook_id: int) -> messages.KernelInfo:
    """The notebook's kernel state for a snapshot, with why it is still starting when it waits for a host."""
    session = live_session(notebook_id)
    if session is None:
        return messages.KernelInfo(state="not_started")
    if session.reason:
        return messages.KernelInfo(state=messages.kernel_state(session.state), reason=session.reason)
    return messages.KernelInfo(state=messages.kernel_state(session.state))


def _mark_latest_stale(notebook_id: int, cell_ids: list[str]) -> dict[str, Execution]:
    """Marks stale each cell's newest finished run, in two queries; the newest run of each cell that has one."""
    latest = latest_executions(notebook_id, cell_ids)
    marked = [execution.pk for execution in latest.values() if not execution.stale and execution.state in FINAL_STATES]
    if marked:
        Execution.objects.filter(pk__in=marked).update(stale=True)
    return latest


@transaction.atomic
def do_mark_cells_stale(notebook_id: int, cell_ids: list[str]) -> list[str]:
    """Mark stale the cells that read what a deleted cell defined (the kernel's answer to `forget`); returns those
    with a stored run, for the host to announce as `cells_stale` after this commits. (A page ignores the mark of a
    cell it no longer has: one deleted meanwhile costs nothing.)"""
    latest = _mark_latest_stale(notebook_id, cell_ids)
    return [cell for cell in cell_ids if cell in latest]


def latest_executions(notebook_id: int, cell_ids: list[str]) -> dict[str, Execution]:
    """The newest execution of each cell, in one query."""
    rows = (
        Execution.objects.filter(notebook_id=notebook_id, cell_id__in=cell_ids)
        .order_by("cell_id", "-queued_at")
        .only("cell_id", "state", "outputs", "symbols", "stale", "queued_at", "execution_count")
    )
    latest: dict[str, Execution] = {}
    for row in rows:
        latest.setdefault(row.cell_id, row)
    return latest


# ------------------------------------------------------------------ what the kernel host reports


@dataclass(frozen=True)
class KernelLimits:
    """The limits a kernel's sandbox is built with: its /tmp's size, its network namespace, its rlimits and its
    cell time limit are all fixed when it starts, so a kernel started ahead of its user (kernels/pools.py) serves
    only users whose quota has exactly these."""

    memory_mb: int
    disk_mb: int
    cpu_seconds: int
    cell_time_limit_s: int
    network: bool

    @classmethod
    def of(cls, limits: Limits) -> KernelLimits:
        return cls(memory_mb=limits.memory_mb, disk_mb=limits.disk_mb, cpu_seconds=limits.cpu_seconds,
                   cell_time_limit_s=limits.cell_time_limit_s, network=limits.network)

    def key(self) -> str:
        """One string per set of limits, stored with a pooled kernel and compared when one is claimed."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_key(cls, key: str) -> KernelLimits:
        return cls(**json.loads(key))


@dataclass(frozen=True)
class SessionInfo:
    session_id: uuid.UUID
    notebook_id: int
    channel: str
    memory_mb: int
    disk_mb: int
    cpu_seconds: int
    cell_time_limit_s: int
    network: bool
    spark_executors: int
    spark_cores: int
    spark_memory_mb: int
    # The notebook's configuration when its session was taken: what its environments and Spark are built from.
    config: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        """As a channel-layer message carries it (a pooled kernel's claim, kernels/pools.py)."""
        return {**asdict(self), "session_id": str(self.session_id)}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> SessionInfo:
        return cls(**{**data, "session_id": uuid.UUID(str(data["session_id"]))})

    @property
    def kernel_limits(self) -> KernelLimits:
        return KernelLimits(memory_mb=self.memory_mb, disk_mb=self.disk_mb, cpu_seconds=self.cpu_seconds,
                            cell_time_limit_s=self.cell_time_limit_s, network=self.network)


def load_session_for_host(session_id: str) -> SessionInfo | None:
    """What a host needs to start; None when the session is gone or no longer waiting for a host."""
    session = KernelSession.objects.select_related("notebook", "started_by").filter(pk=session_id).first()
    if session is None or session.state != KernelSession.State.STARTING:
        return None
    # Taken: no longer waiting for a host (do_tell_sessions_waiting_for_host), nor lost for want of one.
    KernelSession.objects.filter(pk=session.pk, state=KernelSession.State.STARTING).update(
        host=f"{socket.gethostname()}:{os.getpid()}", reason=""
    )
    limits = effective_limits(session.started_by, team_id=session.notebook.team_id)
    return session_info(session, limits=limits, config=dict(session.notebook.config))


def session_info(session: KernelSession, *, limits: Limits, config: dict[str, Any]) -> SessionInfo:
    """What a host needs to start `session`, whose user's quota is `limits` and notebook's configuration `config`."""
    return SessionInfo(
        session_id=session.pk,
        notebook_id=session.notebook_id,
        channel=session.channel,
        memory_mb=limits.memory_mb,
        disk_mb=limits.disk_mb,
        cpu_seconds=limits.cpu_seconds,
        cell_time_limit_s=limits.cell_time_limit_s,
        network=limits.network,
        spark_executors=limits.spark_executors,
        spark_cores=limits.spark_cores,
        spark_memory_mb=limits.spark_memory_mb,
        config=config,
    )


@transaction.atomic
def do_set_session_state(session_id: uuid.UUID, *, state: str, reason: str = "", **fields: Any) -> None:
    """Record a state change of a live session and tell the notebook's viewers; a finished session stays so."""
    relax_commit()
    session = KernelSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None or not session.is_live:
        return
    now = timezone.now()
    session.state = state
    session.last_activity_at = now
    if state in (KernelSession.State.IDLE, KernelSession.State.BUSY) and session.ready_at is None:
        session.ready_at = now
    if state in (KernelSession.State.DEAD, KernelSession.State.STOPPED):
        session.ended_at = now
        session.reason = reason
    for name, value in fields.items():
        setattr(session, name, value)
    session.save()
    events.publish(session.notebook_id, messages.KernelStatus(state=messages.kernel_state(state), reason=reason or messages.UNSET),
                   kernel_channel=session.channel)
    if state in (KernelSession.State.DEAD, KernelSession.State.STOPPED):
        _end_pending_executions(session, reason=reason or f"the kernel is {state}")


@transaction.atomic
def do_note_starting(session_id: uuid.UUID, *, reason: str) -> None:
    """Say why a starting session's kernel is not up yet (its page's badge and the running-kernels list show it);
    do_announce_ready clears it."""
    session = KernelSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None or session.state != KernelSession.State.STARTING or session.reason == reason:
        return
    session.reason = reason
    session.save(update_fields=["reason"])
    events.publish(session.notebook_id, messages.KernelStatus(state=messages.kernel_state(session.state), reason=reason),
                   kernel_channel=session.channel)


@transaction.atomic
def do_announce_ready(session_id: uuid.UUID, *, host: str, pid: int | None, busy: bool) -> bool:
    """The host's kernel is up: the session goes busy when runs wait for it (`busy`: those that started it, which
    the host read and recorded meanwhile), idle otherwise, so its viewers never see idle before the first run ends.
    False when the session ended while its kernel started (the kernel must go)."""
    session = KernelSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None or not session.is_live:
        return False
    if session.reason:
        KernelSession.objects.filter(pk=session_id).update(reason="")
    state = KernelSession.State.BUSY if busy else KernelSession.State.IDLE
    do_set_session_state(session_id, state=state, host=host, pid=pid)
    return True


@transaction.atomic
def do_fail_waiting_runs(session_id: uuid.UUID, *, ename: str, message: str, details: str = "") -> None:
    """A session whose kernel will not start (its environment failed to build): the runs waiting for it end in
    error with `message` (and `details`, the installer's output, as their traceback), then the session stops."""
    session = KernelSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None or not session.is_live:
        return
    _end_pending_executions(session, reason=message, ename=ename, queued_state=Execution.State.ERROR,
                            details=details.splitlines())
    do_set_session_state(session_id, state=KernelSession.State.STOPPED, reason=message)


def _end_pending_executions(
    session: KernelSession, *, reason: str, ename: str = KERNEL_DIED,
    queued_state: str = Execution.State.INTERRUPTED, details: list[str] | None = None,
) -> None:
    """Every run of an ended session that has not ended: those with a row, and those acked without one (the host's
    journal); each keeps the outputs its host relayed, then the error that says why it ended (`ename`, with
    `details` as its traceback; a queued run ends `queued_state`)."""
    journal = liveness.take_journal(session.channel)
    known = set(Execution.objects.filter(pk__in=list(journal)).values_list("pk", flat=True)) if journal else set()
    now = timezone.now()
    Execution.objects.bulk_create([
        Execution(id=exec_id, notebook_id=session.notebook_id, session=session, cell_id=str(entry["cell_id"]),
                  user_id=entry.get("user_id"), language=str(entry.get("language", "")),
                  source=str(entry.get("source", "")), code_hash=code_hash(str(entry.get("source", ""))),
                  state=Execution.State.QUEUED)
        for exec_id, entry in journal.items() if uuid.UUID(exec_id) not in known
    ], ignore_conflicts=True)
    pending = list(Execution.objects.filter(session=session, state__in=("queued", "running")).order_by("queued_at"))
    kept = liveness.kept_outputs([str(e.pk) for e in pending])
    host_died = reason in (HOST_DIED, HOST_SILENT)
    for execution in pending:
        started, outputs = kept.get(str(execution.pk), (False, []))
        running = execution.state == "running" or started
        execution.state = Execution.State.ERROR if running else queued_state
        error = ({"output_type": "error", "ename": HOST_LOST, "evalue": f"lost: {reason}", "traceback": []}
                 if host_died else {"output_type": "error", "ename": ename, "evalue": reason, "traceback": details or []})
        execution.outputs = storable([*(outputs or execution.outputs), error])
        execution.finished_at = now
        execution.save(update_fields=["state", "outputs", "finished_at"])
        # Heads only, as every event: the stored run is read in pages.
        shown, _ = heads(execution.outputs, budget=MAX_SNAPSHOT_OUTPUT_BYTES)
        events.publish(session.notebook_id, messages.CellStatus(
            cell_id=execution.cell_id, state=messages.cell_state(execution.state), outputs=shown, outputs_total=len(execution.outputs)
        ))
    liveness.drop_outputs([str(e.pk) for e in pending])


def _update_displays(displays: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Apply display updates to the stored outputs of the runs that showed them (after the runs of the same write,
    so a run stored in it has them too)."""
    updates: dict[str, list[dict[str, Any]]] = {}
    for exec_id, output in displays:
        updates.setdefault(exec_id, []).append(output)
    for execution in Execution.objects.select_for_update().filter(pk__in=list(updates)).only("pk", "outputs"):
        outputs = list(execution.outputs or [])
        for output in updates[str(execution.pk)]:
            apply_output(outputs, output)
        Execution.objects.filter(pk=execution.pk).update(outputs=storable(outputs))


def _ended_late(run: RunRecord, session: KernelSession) -> RunRecord:
    """A run that reached its host after its session ended: it ends as the session's queued runs did."""
    reason = session.reason or f"the kernel is {session.state}"
    if reason in (HOST_DIED, HOST_SILENT):
        error = {"output_type": "error", "ename": HOST_LOST, "evalue": f"lost: {reason}", "traceback": []}
    else:
        error = {"output_type": "error", "ename": KERNEL_DIED, "evalue": reason, "traceback": []}
    return dataclasses.replace(run, state=Execution.State.INTERRUPTED, outputs=[error], ended_late=True)


@transaction.atomic
def do_record_runs(
    session_id: uuid.UUID, notebook_id: int, runs: list[RunRecord], *, kernel_state: str | None = None,
    displays: Sequence[tuple[str, dict[str, Any]]] = (),
) -> list[messages.ServerMessage]:
    """Write what a host reports of its runs (new ones, started ones, finished ones), display updates of earlier
    runs' outputs (exec id, update) and, when given, the kernel's busy/idle state, in one transaction. Returns
    the events that announce the finished runs, in order, for the host to relay after the commit: a cell's final
    state reaches its viewers only once it is stored.

    The host is the only writer of new runs. A new run of a session that has ended meanwhile (read by a host whose
    kernel never came up) is written ended, as the session's end ended the others; a row written by that end
    (from the journal) is left as it is."""
    relax_commit()
    # The session's row first, as its end takes it (do_set_session_state): either that end sees the rows written
    # here, or this sees the session ended.
    session = KernelSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None:
        return []
    now = timezone.now()
    announce: list[messages.ServerMessage] = []
    if not session.is_live:
        # Those its end wrote already (from the journal) are as that end left them.
        written = {str(pk) for pk in Execution.objects.filter(pk__in=[r.exec_id for r in runs if r.new])
                   .values_list("pk", flat=True)}
        runs = [_ended_late(run, session) if run.new and run.state not in FINAL_STATES else run
                for run in runs if not (run.new and run.exec_id in written)]
    created = [
        Execution(
            id=run.exec_id, notebook_id=notebook_id, session_id=session_id, cell_id=run.cell_id,
            user_id=run.user_id, language=run.language, source=run.source,
            code_hash=code_hash(run.source), state=run.state,
            started_at=now if run.started else None,
            finished_at=now if run.state in FINAL_STATES else None,
            outputs=storable(run.outputs), symbols=storable(run.symbols), execution_count=run.execution_count,
        )
        for run in runs if run.new
    ]
    Execution.objects.bulk_create(created, ignore_conflicts=True)
    for run in runs:
        if run.new:
            continue
        if run.state in FINAL_STATES:
            Execution.objects.filter(pk=run.exec_id).update(
                state=run.state, outputs=storable(run.outputs), symbols=storable(run.symbols), finished_at=now,
                execution_count=run.execution_count, **({"started_at": now} if run.started else {}),
            )
        elif run.started:
            Execution.objects.filter(pk=run.exec_id, state="queued").update(
                state="running", started_at=now, execution_count=run.execution_count)
    finished = sorted((run for run in runs if run.state in FINAL_STATES), key=lambda run: run.seq)
    for run in finished:
        if run.ended_late:
            shown, _ = heads(run.outputs, budget=MAX_SNAPSHOT_OUTPUT_BYTES)
            announce.append(messages.CellStatus(cell_id=run.cell_id, state=messages.cell_state(run.state),
                                                outputs=shown, outputs_total=len(run.outputs)))
            continue
        announce.append(messages.CellStatus(cell_id=run.cell_id, state=messages.cell_state(run.state)))
        if not run.stale:
            continue
        # A run marks the cells below it that read what it rebound, as they were when it finished: a cell that
        # ran again after it (in this same batch) is not stale.
        fresh = {later.cell_id for later in finished if later.seq > run.seq}
        _mark_latest_stale(notebook_id, [cell for cell in run.stale if cell not in fresh])
        announce.append(messages.CellsStale(cell_ids=run.stale))
    if displays:
        _update_displays(displays)
    # Busy and idle only: starting, dead and stopped go through do_set_session_state. A session ended meanwhile
    # stays ended.
    fields: dict[str, Any] = {"last_activity_at": now}
    if kernel_state is not None:
        fields["state"] = kernel_state
    KernelSession.objects.filter(
        pk=session_id, state__in=(KernelSession.State.IDLE, KernelSession.State.BUSY)
    ).update(**fields)
    return announce
