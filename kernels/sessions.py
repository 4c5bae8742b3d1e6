"""Starting kernel sessions and queuing runs on them: the step that starts a kernel host, so it sits above the
host (kernels/backends.py runs it) and below the notebooks' services, which check the caller's role first."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from kernels import backends, events, messages, pools
from kernels.core.python_names import reads_spark
from kernels.models import LIVE_STATES, KernelSession
from kernels.pool_records import JVM_LANGUAGES
from kernels.services import (
    QueuedRun,
    do_set_session_state,
    live_session,
    send_command,
    session_info,
)
from quire.lib.db import relax_commit
from quire.lib.errors import Forbidden, QuotaExceeded
from quire.lib.users import Account, Caller
from quire.quotas.services import effective_limits


def do_start_session(
    notebook_id: int, *, team_id: int | None, user: Caller, config: dict[str, Any], jvm: bool = False
) -> KernelSession:
    """A new session for the notebook (whose configuration is `config`), refused past the user's kernel quota and
    to anyone signed out (a kernel counts against a person's quota). A pooled kernel that fits is claimed for it
    (kernels/pools.py; `jvm`: its first run needs the JVM, so one whose JVM is warm is preferred); otherwise its
    host starts once the transaction commits. Needs the notebook's row lock."""
    if not isinstance(user, Account):
        raise Forbidden("sign in to start a kernel")
    limits = effective_limits(user, team_id=team_id)
    running = KernelSession.objects.filter(started_by=user, state__in=LIVE_STATES).count()
    if running >= limits.max_kernels:
        # The page opens its Kernels panel on this error (code quota_exceeded): the message says why and what to do.
        raise QuotaExceeded(
            f"your quota allows {limits.max_kernels} running kernel{'s' if limits.max_kernels != 1 else ''} and you "
            f"have {running}: shut one down in the Kernels panel, then run again"
        )
    pooled = pools.claim(config=config, limits=limits, jvm=jvm)
    if pooled is None:
        session = KernelSession.objects.create(
            notebook_id=notebook_id, started_by=user, channel=f"kernel.{secrets.token_hex(8)}"
        )
        transaction.on_commit(lambda: backends.start_host(session.pk))
    else:
        # Its host is up and beating: the session is taken, on the channel that host reads.
        session = KernelSession.objects.create(
            notebook_id=notebook_id, started_by=user, channel=pooled.channel, host=pooled.host,
            heartbeat_at=timezone.now(),
        )
        pools.hand_over(pooled, session_info(session, limits=limits, config=config))
    events.publish(notebook_id, messages.KernelStatus(state=messages.kernel_state(session.state)),
                   kernel_channel=session.channel)
    return session


def starts_jvm(cell: dict[str, Any]) -> bool:
    """Whether running this cell first in a fresh kernel starts its JVM: a Scala cell, or a Python one that reads
    Spark's session."""
    language = str(cell["language"])
    return language in JVM_LANGUAGES or (language == "python" and reads_spark(str(cell["source"])))


def do_queue_runs(
    notebook_id: int, *, team_id: int | None, user: Caller, cells: list[dict[str, Any]], order: list[str],
    config: dict[str, Any],
) -> QueuedRun:
    """Runs of `cells` (in `order`, the notebook's cell ids) for the notebook's kernel, starting one (within the
    user's quota) if none is live. Nothing is recorded here nor sent: the caller journals and sends them
    (`dispatch_run`, `send_runs`) and the kernel's host records them when it reads them, as it does every run.
    Needs the notebook's row lock (which serialises kernel starts: two people running at once get one kernel) and
    a caller whose runner role is checked."""
    relax_commit()
    session = live_session(notebook_id) or do_start_session(
        notebook_id, team_id=team_id, user=user, config=config,
        # Only when the run's first cell starts the JVM anyway: a kernel with Spark up runs SQL on Spark, not DuckDB.
        jvm=bool(cells) and starts_jvm(cells[0]),
    )
    queued = QueuedRun(notebook_id=notebook_id, execution_ids=[], cell_ids=[], channel=session.channel)
    for cell in cells:
        queued.add(uuid.uuid4(), cell, order, user_id=user.pk, username=user.get_username(), recorded=False)
    return queued


@transaction.atomic
def do_restart_session(notebook_id: int, *, team_id: int | None, user: Caller, config: dict[str, Any]) -> None:
    """Stop the notebook's kernel (if any) and start a fresh one; needs the notebook's row lock."""
    old = live_session(notebook_id)
    if old is not None:
        channel = old.channel
        # Leave the live states now, so the new session may start while the old kernel winds down.
        do_set_session_state(old.pk, state=KernelSession.State.STOPPED, reason="restarted")
        transaction.on_commit(lambda: send_command(channel, {"type": "shutdown"}))
    do_start_session(notebook_id, team_id=team_id, user=user, config=config)
