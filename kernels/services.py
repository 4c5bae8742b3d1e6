"""Kernel actions: queue a cell run, interrupt, shut down, and record what the kernel host reports."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from kernels import backends
from kernels.models import LIVE_STATES, Execution, KernelSession
from notebooks import events
from notebooks.models import Notebook
from notebooks.roles import Role
from notebooks.services import get_notebook
from quire.lib.errors import InvalidInput, NotFound, QuotaExceeded
from quire.quotas.services import effective_limits

log = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser
FINAL_STATES = ("done", "error", "interrupted")


def send_command(channel: str, command: dict[str, Any]) -> None:
    """Hand a command to the session's host (buffered by the channel layer until the host reads it)."""
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS must be configured"
    async_to_sync(layer.send)(channel, {"type": "kernel.command", "command": command})


def live_session(notebook_id: int) -> KernelSession | None:
    return KernelSession.objects.filter(notebook_id=notebook_id, state__in=LIVE_STATES).first()


def _start_session(notebook: Notebook, user: User) -> KernelSession:
    limits = effective_limits(user if user.is_authenticated else None, team_id=notebook.team_id)
    running = KernelSession.objects.filter(started_by=user, state__in=LIVE_STATES).count()
    if running >= limits.max_kernels:
        raise QuotaExceeded(
            f"you have {running} running kernels and your quota allows {limits.max_kernels}; "
            "shut one down first"
        )
    session = KernelSession.objects.create(
        notebook=notebook, started_by=user, channel=f"kernel.{secrets.token_hex(8)}"
    )
    events.publish(notebook.pk, {"type": "kernel_status", "state": session.state})
    transaction.on_commit(lambda: backends.start_host(session.pk))
    return session


@dataclass(frozen=True)
class QueuedRun:
    execution_id: uuid.UUID
    cell_id: str


@transaction.atomic
def check_run_cell(user: User, notebook_id: int, *, cell_id: str) -> QueuedRun:
    """Queue one cell on the notebook's kernel, starting the kernel if there is none."""
    get_notebook(user, notebook_id, need=Role.RUNNER)
    # The row lock serialises kernel starts: two people running at once get one kernel.
    notebook = Notebook.objects.select_for_update().get(pk=notebook_id)
    found = notebook.find_cell(cell_id)
    if found is None:
        raise NotFound(f"no cell {cell_id!r} in this notebook", field="cell_id")
    _, cell = found
    language, source = str(cell["language"]), str(cell["source"])
    if language == "text":
        raise InvalidInput("text cells are not run", field="cell_id")
    session = live_session(notebook.pk) or _start_session(notebook, user)
    execution = Execution.objects.create(
        notebook=notebook,
        session=session,
        cell_id=cell_id,
        user=user if user.is_authenticated else None,
        language=language,
        source=source,
        code_hash=hashlib.sha256(source.encode()).hexdigest(),
    )
    command = {
        "type": "execute",
        "exec_id": str(execution.pk),
        "cell_id": cell_id,
        "language": language,
        "source": source,
        "order": notebook.cell_ids(),
    }
    channel = session.channel
    events.publish(notebook.pk, {"type": "cell_status", "cell_id": cell_id, "state": "queued"})
    transaction.on_commit(lambda: send_command(channel, command))
    return QueuedRun(execution_id=execution.pk, cell_id=cell_id)


def check_interrupt(user: User, notebook_id: int) -> bool:
    """Interrupt the running cell and drop the queued ones; False when there is no kernel."""
    get_notebook(user, notebook_id, need=Role.RUNNER)
    session = live_session(notebook_id)
    if session is None:
        return False
    send_command(session.channel, {"type": "interrupt"})
    return True


def check_shutdown(user: User, notebook_id: int) -> bool:
    get_notebook(user, notebook_id, need=Role.RUNNER)
    session = live_session(notebook_id)
    if session is None:
        return False
    send_command(session.channel, {"type": "shutdown"})
    return True


def kernel_state(notebook_id: int) -> str:
    session = live_session(notebook_id)
    return session.state if session is not None else "not_started"


def latest_executions(notebook_id: int, cell_ids: list[str]) -> dict[str, Execution]:
    """The newest execution of each cell, in one query."""
    rows = (
        Execution.objects.filter(notebook_id=notebook_id, cell_id__in=cell_ids)
        .order_by("cell_id", "-queued_at")
        .only("cell_id", "state", "outputs", "symbols", "queued_at")
    )
    latest: dict[str, Execution] = {}
    for row in rows:
        latest.setdefault(row.cell_id, row)
    return latest


# ------------------------------------------------------------------ what the kernel host reports


@dataclass(frozen=True)
class SessionInfo:
    session_id: uuid.UUID
    notebook_id: int
    channel: str
    memory_mb: int
    cpu_seconds: int
    cell_time_limit_s: int
    network: bool


def load_session_for_host(session_id: str) -> SessionInfo | None:
    """What a host needs to start; None when the session is gone or no longer waiting for a host."""
    session = KernelSession.objects.select_related("notebook", "started_by").filter(pk=session_id).first()
    if session is None or session.state != KernelSession.State.STARTING:
        return None
    limits = effective_limits(session.started_by, team_id=session.notebook.team_id)
    return SessionInfo(
        session_id=session.pk,
        notebook_id=session.notebook_id,
        channel=session.channel,
        memory_mb=limits.memory_mb,
        cpu_seconds=limits.cpu_seconds,
        cell_time_limit_s=limits.cell_time_limit_s,
        network=limits.network,
    )


@transaction.atomic
def do_set_session_state(session_id: uuid.UUID, *, state: str, reason: str = "", **fields: Any) -> None:
    """Record a state change of a live session and tell the notebook's viewers; a finished session stays so."""
    session = KernelSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None or not session.is_live:
        return
    now = timezone.now()
    session.state = state
    session.last_activity_at = now
    if state == KernelSession.State.IDLE and session.ready_at is None:
        session.ready_at = now
    if state in (KernelSession.State.DEAD, KernelSession.State.STOPPED):
        session.ended_at = now
        session.reason = reason
    for name, value in fields.items():
        setattr(session, name, value)
    session.save()
    event: dict[str, Any] = {"type": "kernel_status", "state": state}
    if reason:
        event["reason"] = reason
    events.publish(session.notebook_id, event)
    if state in (KernelSession.State.DEAD, KernelSession.State.STOPPED):
        _end_pending_executions(session, reason=reason or f"the kernel is {state}")


def _end_pending_executions(session: KernelSession, *, reason: str) -> None:
    pending = Execution.objects.filter(session=session, state__in=("queued", "running"))
    for execution in pending:
        execution.state = Execution.State.ERROR if execution.state == "running" else Execution.State.INTERRUPTED
        execution.outputs = [*execution.outputs, {"output_type": "error", "ename": "KernelDied",
                                                  "evalue": reason, "traceback": []}]
        execution.finished_at = timezone.now()
        execution.save(update_fields=["state", "outputs", "finished_at"])
        events.publish(session.notebook_id, {"type": "cell_status", "cell_id": execution.cell_id,
                                             "state": execution.state, "outputs": execution.outputs})


def do_mark_running(execution_id: str) -> None:
    Execution.objects.filter(pk=execution_id, state="queued").update(state="running", started_at=timezone.now())


@transaction.atomic
def do_finish_execution(
    execution_id: str, *, state: str, outputs: list[dict[str, Any]], symbols: list[dict[str, Any]]
) -> None:
    """Store a finished cell's outputs and symbols, then tell the viewers it is finished."""
    if state not in FINAL_STATES:
        raise ValueError(f"not a final state: {state}")
    execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
    if execution is None:
        log.info("execution %s is gone; its result is dropped", execution_id)
        return
    execution.state = state
    execution.outputs = outputs
    execution.symbols = symbols
    execution.finished_at = timezone.now()
    execution.save(update_fields=["state", "outputs", "symbols", "finished_at"])
    KernelSession.objects.filter(pk=execution.session_id).update(last_activity_at=execution.finished_at)
    events.publish(execution.notebook_id, {"type": "cell_status", "cell_id": execution.cell_id, "state": state})
