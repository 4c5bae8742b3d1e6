"""Kernels a person can see and stop: their own running kernels (site admins: everyone's), and shutting one down."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from kernels.models import LIVE_STATES, KernelSession
from kernels.services import do_stop_session
from quire.accounts.admins import is_site_admin
from quire.lib.errors import Forbidden, NotFound
from quire.lib.users import Account, Caller
from quire.quotas.services import effective_limits


@dataclass(frozen=True)
class RunningKernel:
    """One row of the running-kernels panel; memory and CPU as of the host's last heartbeat (every 2 s)."""

    id: str
    notebook_id: int
    notebook_title: str
    started_by: str | None
    state: str
    reason: str
    memory_bytes: int | None
    cpu_seconds: float | None
    started_at: datetime
    ready_at: datetime | None
    last_activity_at: datetime | None


def _row(session: KernelSession) -> RunningKernel:
    return RunningKernel(
        id=str(session.pk), notebook_id=session.notebook_id, notebook_title=session.notebook.title,
        started_by=session.started_by.get_username() if session.started_by else None,
        state=session.state, reason=session.reason, memory_bytes=session.rss_bytes, cpu_seconds=session.cpu_seconds,
        started_at=session.created_at, ready_at=session.ready_at, last_activity_at=session.last_activity_at,
    )


def list_running_kernels(user: Caller, *, everyone: bool = False) -> dict[str, Any]:
    """The caller's running kernels, oldest first, with their kernel limit; `everyone` (site admins only) lists
    every user's. Kernels count against whoever started them, so they are listed by who started them."""
    if not user.is_authenticated:
        raise Forbidden("sign in first")
    if everyone and not is_site_admin(user):
        raise Forbidden("only site admins see everyone's kernels")
    sessions = KernelSession.objects.filter(state__in=LIVE_STATES).select_related("notebook", "started_by")
    if not everyone:
        sessions = sessions.filter(started_by=user)
    limits = effective_limits(user, team_id=None)
    return {
        "max_kernels": limits.max_kernels,
        "kernels": [asdict(_row(s)) for s in sessions.order_by("created_at")],
    }


@transaction.atomic
def check_shutdown_kernel(user: Caller, session_id: uuid.UUID) -> None:
    """Shut down a running kernel the caller started (site admins: anyone's). Another person's kernel is not
    found, as one that never existed: its id tells nothing about their notebooks."""
    if not user.is_authenticated:
        raise Forbidden("sign in first")
    session = KernelSession.objects.select_for_update().filter(pk=session_id, state__in=LIVE_STATES).first()
    if session is None or (session.started_by_id != user.pk and not is_site_admin(user)):
        raise NotFound("no such running kernel")
    do_stop_session(session)


def usage_report(user: Account) -> dict[str, Any]:
    """The caller's limits (their own quota, else the site default) and what they use now: counted here, beside
    the kernels it counts."""
    live = KernelSession.objects.filter(started_by=user, state__in=LIVE_STATES)
    memory = sum(s.rss_bytes or 0 for s in live)
    return {
        "limits": asdict(effective_limits(user, team_id=None)),
        "usage": {"kernels": live.count(), "kernel_memory_bytes": memory},
    }
