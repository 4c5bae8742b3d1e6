"""What the host of a pooled kernel reads and writes: its pooled kernel's row while it waits, and the claim that
hands it to one session. Below the host; claiming and filling the pools live above it (kernels/pools.py)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kernels.models import KernelPool, PooledKernel
from kernels.services import KernelLimits
from kernels.spark_limits import SparkQuota, clamp
from quire.celery import app

# The task that brings the pools to their sizes (kernels/pools.py, which sits above the hosts), sent by name.
FILL_TASK = "kernels.fill_pools"
# A refill after a claim waits this long: the new kernel's start (a few hundred ms of CPU on a 2-core machine)
# then does not compete with the first cells of the notebook that took the last one.
REFILL_AFTER_S = 2.0

# The message a claimer puts on a pooled kernel's channel: the session it now hosts, with all its host needs to
# know of it (kernels.services.SessionInfo), so the host reads nothing before it takes it. Its host reads nothing
# else there until then, and the runs queued on the session follow the claim in that queue.
CLAIM = "kernel.claim"
# The message that sends a pooled kernel away unused (the pool shrank, the default quota changed, or sessions wait
# for a free kernel process).
RETIRE = "kernel.retire"


# The languages whose first cell waits for a JVM: a run of one of them claims a pooled kernel with a warm JVM.
JVM_LANGUAGES = frozenset({"scala"})
# What a pool keeps of its last failed warm-up's reason (the end of it: where a JVM's trace says what went wrong).
MAX_WARM_UP_ERROR = 4000


@dataclass(frozen=True)
class PooledInfo:
    pooled_id: uuid.UUID
    environment: str
    limits: KernelLimits
    channel: str
    warm: str = PooledKernel.Warm.PYTHON
    jvm_config: dict[str, Any] | None = None


def jvm_config(config: dict[str, Any], *, quota: SparkQuota) -> dict[str, Any]:
    """What the JVM of a kernel for a notebook with `config` starts with, as the kernel's `configure` carries it:
    the notebook's Spark settings within the Spark `quota` (the host clamps them so), and its env vars, which the
    JVM inherits when it starts. A pooled kernel's JVM is started with this and serves only a notebook for which
    it is the same."""
    env = config.get("env") or {}
    return {"sparkConfig": clamp(config.get("sparkConfig") or {}, quota)[0],
            "env": {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}}


def load_pooled_for_host(pooled_id: str) -> PooledInfo | None:
    """What the host of a pooled kernel starts it with; None when the pooled kernel is gone or already hosted."""
    taken = PooledKernel.objects.filter(pk=pooled_id, state=PooledKernel.State.STARTING, host="").update(
        host=f"{socket.gethostname()}:{os.getpid()}", heartbeat_at=timezone.now()
    )
    if not taken:
        return None
    pooled = PooledKernel.objects.get(pk=pooled_id)
    return PooledInfo(pooled_id=pooled.pk, environment=pooled.environment,
                      limits=KernelLimits.from_key(pooled.limits), channel=pooled.channel, warm=pooled.warm,
                      jvm_config=pooled.jvm_config)


def do_pool_ready(pooled_id: uuid.UUID, *, pid: int, jvm_pid: int | None = None) -> bool:
    """The pooled kernel is up (and warmed up, its JVM being `jvm_pid`) and may be claimed; False when it was retired
    while it started (it must go). A warm JVM ends its pool's run of failed warm-ups."""
    now = timezone.now()
    ready = bool(PooledKernel.objects.filter(pk=pooled_id, state=PooledKernel.State.STARTING).update(
        state=PooledKernel.State.READY, pid=pid, jvm_pid=jvm_pid, ready_at=now, heartbeat_at=now
    ))
    if jvm_pid is not None:
        environment = PooledKernel.objects.filter(pk=pooled_id).values_list("environment", flat=True).first()
        KernelPool.objects.filter(environment=environment, jvm_failures__gt=0).update(jvm_failures=0, jvm_error="")
    return ready


def do_warm_up_failed(environment: str, error: str) -> None:
    """A JVM kernel of `environment`'s pool did not warm up: counted, with why, so that the pool waits before the
    next (kernels/pools.py) and site admins see it."""
    KernelPool.objects.filter(environment=environment).update(
        jvm_failures=F("jvm_failures") + 1, jvm_failed_at=timezone.now(), jvm_error=error[-MAX_WARM_UP_ERROR:]
    )


def do_pool_heartbeat(pooled_id: uuid.UUID, *, rss_bytes: int | None, cpu_seconds: float | None) -> str | None:
    """Record that a pooled kernel's host is alive, with its memory: the pool's cost, shown to site admins. Its
    state (a claimed one waits for its claim message), or None when it was retired or reaped (it must go)."""
    PooledKernel.objects.filter(pk=pooled_id).exclude(state=PooledKernel.State.CLAIMED).update(
        heartbeat_at=timezone.now(), rss_bytes=rss_bytes, cpu_seconds=cpu_seconds
    )
    return PooledKernel.objects.filter(pk=pooled_id).values_list("state", flat=True).first()


def do_withdraw(pooled_id: uuid.UUID) -> bool:
    """Take a pooled kernel whose kernel died out of the pool, unless a session has claimed it already: True when
    no claim can take it any more, False when one came first (its claim message is on its way to the host)."""
    deleted, _ = PooledKernel.objects.filter(pk=pooled_id).exclude(state=PooledKernel.State.CLAIMED).delete()
    return deleted > 0 or not PooledKernel.objects.filter(pk=pooled_id).exists()


@transaction.atomic
def do_discard(pooled_id: uuid.UUID) -> None:
    """The pooled kernel's host is done with it (handed over, retired, or its kernel died): its row goes, and the
    pool counts one kernel fewer."""
    PooledKernel.objects.filter(pk=pooled_id).delete()


def fill_soon() -> None:
    """Fill the pools shortly, in the background (the maintenance queue). Embedded mode's own schedule fills them
    at each round instead."""
    if settings.QUIRE_KERNEL_HOST == "celery":
        app.send_task(FILL_TASK, countdown=REFILL_AFTER_S)
