"""Warm pools: sandboxed kernels started ahead of any notebook, so a notebook's first run finds one waiting.

A pooled kernel is started by a host of its own (`KernelHost.run_pooled`, where session hosts run) with the
launch limits of the site's default quota, in the base environment or a built Python environment, and waits.
A notebook's first run claims one that fits (`claim`, inside the session's start): the notebook's environment,
and exactly the launch limits of the user's own quota, since a sandbox's /tmp, network namespace, rlimits and
cell time limit are fixed when it starts (applying a quota at hand-over could change the rlimits, not the rest).
The claim makes it that notebook's session, on the kernel's own channel; its host reads the claim, then hosts
the session as any host does. It never serves anyone else: a session's kernel ends with its session. Users
with another quota, and notebooks with JVM dependencies, start a kernel as before.

A pool also keeps kernels with a warm JVM (`jvm_size`): their host has the kernel start Spark's session with the
pool's settings (the default notebook's, within the default quota's Spark limits) and warm up the Scala compiler
before it reports them ready. A run whose first cell is Scala claims one of those when its notebook would start the very
same JVM (`pool_records.jvm_config`: its Spark settings after the user's quota, no env vars), else a Python one.

Sizes are a site admin's setting per environment (`KernelPool`); pools fill in the background, at each round
of beat's schedule (embedded mode runs it itself) and soon after a claim or a change of size.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from kernels import backends, liveness
from kernels.config import uses_spark
from kernels.core.spark import spark_available
from kernels.env_services import BASE_POOL, pool_environment, pool_launch
from kernels.models import Environment, KernelPool, PooledKernel
from kernels.pool_records import CLAIM, FILL_TASK, RETIRE, fill_soon, jvm_config
from kernels.services import (
    LOST_AFTER,
    MISSED_BEAT,
    START_TIMEOUT,
    KernelLimits,
    SessionInfo,
    sessions_waiting_for_host,
)
from kernels.spark_limits import SparkQuota
from quire.accounts.admins import is_site_admin
from quire.lib.errors import Forbidden, InvalidInput
from quire.quotas.services import Limits, effective_limits

log = logging.getLogger(__name__)

# The most kernels one pool may keep: each holds a kernel process and its memory.
MAX_POOL_SIZE = 20
# The wait before a pool starts another JVM kernel after its warm-ups failed: doubling from the first to the last.
JVM_RETRY_FIRST_S = 30.0
JVM_RETRY_MAX_S = 1800.0


# ------------------------------------------------------------------ claiming


def claim(*, config: dict[str, Any], limits: Limits, jvm: bool = False) -> PooledKernel | None:
    """A ready pooled kernel for a new session of a notebook with `config` started by a user with `limits`, now
    claimed for it (None when none fits). `jvm`: its first cell needs the JVM (Scala), so one with a warm JVM
    started as the notebook's would be is taken first; otherwise only Python ones are (a JVM's memory is not spent
    on a notebook that may never use it). Call inside the session's start; `hand_over` once the session exists."""
    environment = pool_environment(config)
    if environment is None:
        return None
    fits = PooledKernel.objects.filter(
        environment=environment, state=PooledKernel.State.READY, limits=KernelLimits.of(limits).key(),
        heartbeat_at__gte=timezone.now() - MISSED_BEAT,
    )
    if jvm and uses_spark(config):
        warm = _claim_one(fits.filter(warm=PooledKernel.Warm.JVM,
                                      jvm_config=jvm_config(config, quota=spark_quota(limits))))
        if warm is not None:
            return warm
    return _claim_one(fits.filter(warm=PooledKernel.Warm.PYTHON))


def spark_quota(limits: Limits) -> SparkQuota:
    """The Spark limits a kernel of a user with `limits` starts Spark within (as its host clamps them)."""
    return SparkQuota.for_kernel(executors=limits.spark_executors, cores=limits.spark_cores,
                                 memory_mb=limits.spark_memory_mb, kernel_memory_mb=limits.memory_mb)


def _claim_one(fits: Any) -> PooledKernel | None:
    candidates = list(fits.order_by("ready_at")[:3])
    for pooled, held in zip(candidates, liveness.leases_held([p.channel for p in candidates]), strict=True):
        # Whoever flips it first has it: a claim racing another, or a retirement, finds it gone.
        if held and PooledKernel.objects.filter(pk=pooled.pk, state=PooledKernel.State.READY).update(
            state=PooledKernel.State.CLAIMED
        ):
            return pooled
    return None


def hand_over(pooled: PooledKernel, info: SessionInfo) -> None:
    """Tell the claimed kernel's host which session it hosts, once the session is committed (its host then has the
    pool refilled, away from this request)."""
    PooledKernel.objects.filter(pk=pooled.pk).update(session_id=info.session_id)
    message = {"type": CLAIM, "session": info.to_message()}
    transaction.on_commit(lambda: _send(pooled.channel, message))


def _send(channel: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS must be configured"
    async_to_sync(layer.send)(channel, message)


# ------------------------------------------------------------------ filling


def default_limits() -> KernelLimits:
    """The launch limits pooled kernels get: the site default quota's, which most users have."""
    return KernelLimits.of(effective_limits(None, team_id=None))


def default_jvm_config() -> dict[str, Any]:
    """What pooled kernels' JVMs start with: a notebook's that sets no Spark settings nor env vars, within the site
    default quota's Spark limits."""
    return jvm_config({}, quota=spark_quota(effective_limits(None, team_id=None)))


def jvm_retry_at(failures: int, failed_at: datetime | None) -> datetime | None:
    """When a pool whose JVM warm-ups failed `failures` times in a row, the last at `failed_at`, starts another:
    JVM_RETRY_FIRST_S after the first failure, twice as long after each next one, at most JVM_RETRY_MAX_S. A warm-up
    costs a JVM's start and seconds of CPU: one that keeps failing (Java broken, Spark misconfigured) must not
    take a core away from the running cells every few seconds."""
    if failures <= 0 or failed_at is None:
        return None
    return failed_at + timedelta(seconds=min(JVM_RETRY_MAX_S, JVM_RETRY_FIRST_S * 2 ** (failures - 1)))


def pool_sizes() -> dict[tuple[str, str], int]:
    """The admins' setting: how many kernels each environment's pool keeps, by warmth (sizes of 0 left out)."""
    sizes: dict[tuple[str, str], int] = {}
    for environment, size, jvm_size in KernelPool.objects.values_list("environment", "size", "jvm_size"):
        for warm, wanted in ((PooledKernel.Warm.PYTHON, size), (PooledKernel.Warm.JVM, jvm_size)):
            if wanted > 0:
                sizes[(environment, warm)] = wanted
    return sizes


@transaction.atomic
def do_fill_pools() -> int:
    """Bring every pool to its size: end pooled kernels that are lost, no longer wanted (their pool shrank, or the
    default quota changed), or in the way (sessions wait for a free kernel process, which pooled kernels hold),
    then start the missing ones; how many were started."""
    # One fill at a time (beat's round and a refill after a claim may meet): each counts what the last left.
    list(KernelPool.objects.select_for_update().order_by("pk"))
    _reap_lost()
    sizes = pool_sizes()
    unclaimed = list(PooledKernel.objects.exclude(state=PooledKernel.State.CLAIMED).order_by("-created_at"))
    if not sizes and not unclaimed:
        return 0  # no pools: nothing to read, not even the default quota (reading it creates it)
    limits = default_limits().key()
    jvm = default_jvm_config()
    waiting = sessions_waiting_for_host() > 0
    kept: Counter[tuple[str, str]] = Counter()
    for pooled in unclaimed:
        pool = (pooled.environment, pooled.warm)
        if (waiting or pooled.limits != limits or kept[pool] >= sizes.get(pool, 0)
                or (pooled.warm == PooledKernel.Warm.JVM and pooled.jvm_config != jvm)):
            _retire(pooled)
        else:
            kept[pool] += 1
    if waiting:
        return 0
    started = 0
    now = timezone.now()
    waiting_out = {environment for environment, failures, failed_at in
                   KernelPool.objects.filter(jvm_failures__gt=0).values_list("environment", "jvm_failures",
                                                                             "jvm_failed_at")
                   if (retry := jvm_retry_at(failures, failed_at)) is not None and retry > now}
    for (environment, warm), size in sizes.items():
        if size <= kept[(environment, warm)] or pool_launch(environment) is None:
            continue  # full, or its environment is not built (yet)
        if warm == PooledKernel.Warm.JVM and environment in waiting_out:
            continue  # its warm-ups keep failing: the next waits (jvm_retry_at)
        for _ in range(size - kept[(environment, warm)]):
            pooled = PooledKernel.objects.create(
                environment=environment, limits=limits, warm=warm,
                jvm_config=jvm if warm == PooledKernel.Warm.JVM else None, channel=f"kernel.{secrets.token_hex(8)}",
            )
            transaction.on_commit(functools.partial(backends.start_pooled_host, pooled.pk))
            started += 1
    return started


def _reap_lost() -> None:
    """Rows of pooled kernels whose host is gone: never taken, silent, or lease lapsed; and claims whose host never
    took the session (the session itself ends as any whose host died)."""
    now = timezone.now()
    claimed = Q(state=PooledKernel.State.CLAIMED)
    PooledKernel.objects.filter(
        Q(heartbeat_at__isnull=True, created_at__lt=now - START_TIMEOUT)
        | (~claimed & Q(heartbeat_at__lt=now - LOST_AFTER))
        # A claimed one stops beating; its host drops it at once unless it died (its last beat was at the claim).
        | (claimed & Q(heartbeat_at__lt=now - START_TIMEOUT))
    ).delete()
    late = list(PooledKernel.objects.filter(heartbeat_at__lt=now - MISSED_BEAT)
                .exclude(state=PooledKernel.State.CLAIMED))
    for pooled, held in zip(late, liveness.leases_held([p.channel for p in late]), strict=True):
        if not held:
            log.warning("pooled kernel %s: its host's lease lapsed; the host is dead", pooled.pk)
            PooledKernel.objects.filter(pk=pooled.pk).exclude(state=PooledKernel.State.CLAIMED).delete()


def _retire(pooled: PooledKernel) -> None:
    """End a pooled kernel unused. A claim that got there first keeps it."""
    if PooledKernel.objects.filter(pk=pooled.pk).exclude(state=PooledKernel.State.CLAIMED).delete()[0]:
        log.info("retiring pooled kernel %s (%s)", pooled.pk, pooled.environment)
        # One still starting finds its row gone when it is ready; one waiting reads this.
        transaction.on_commit(lambda: _send(pooled.channel, {"type": RETIRE}))


@shared_task(name=FILL_TASK, ignore_result=True)
def fill_pools() -> int:
    """Bring the kernel pools to their sizes (run by beat, and after a claim)."""
    close_old_connections()
    try:
        return do_fill_pools()
    finally:
        close_old_connections()


# ------------------------------------------------------------------ the admins' view and setting


@dataclass(frozen=True)
class PooledKernelRow:
    id: str
    environment: str
    state: str
    warm: str
    memory_bytes: int | None
    cpu_seconds: float | None
    started_at: datetime
    ready_at: datetime | None


def pool_report() -> dict[str, Any]:
    """Each pool's sizes and kernels (JVM ones too, their JVM's memory counted in), with their memory from their
    hosts' heartbeats, and the memory of all."""
    sizes = {environment: (size, jvm_size) for environment, size, jvm_size
             in KernelPool.objects.values_list("environment", "size", "jvm_size")}
    failures = {row[0]: row[1:] for row in KernelPool.objects.filter(jvm_failures__gt=0).values_list(
        "environment", "jvm_failures", "jvm_failed_at", "jvm_error")}
    rows = [
        PooledKernelRow(id=str(p.pk), environment=p.environment, state=p.state, warm=p.warm, memory_bytes=p.rss_bytes,
                        cpu_seconds=p.cpu_seconds, started_at=p.created_at, ready_at=p.ready_at)
        for p in PooledKernel.objects.exclude(state=PooledKernel.State.CLAIMED).order_by("created_at")
    ]
    pools = []
    for environment in sorted({*sizes, *(r.environment for r in rows)}):
        kernels = [asdict(r) for r in rows if r.environment == environment]
        size, jvm_size = sizes.get(environment, (0, 0))
        failed, failed_at, error = failures.get(environment, (0, None, ""))
        pools.append({"environment": environment, "size": size, "jvm_size": jvm_size, "kernels": kernels,
                      "memory_bytes": sum(k["memory_bytes"] or 0 for k in kernels),
                      "jvm_failures": failed, "jvm_error": error, "jvm_retry_at": jvm_retry_at(failed, failed_at)})
    return {"pools": pools, "memory_bytes": sum(p["memory_bytes"] for p in pools)}


def check_pool_report(actor: AbstractBaseUser) -> dict[str, Any]:
    if not is_site_admin(actor):
        raise Forbidden("only site admins see the kernel pools")
    return pool_report()


@transaction.atomic
def check_set_pool_size(
    actor: AbstractBaseUser, environment: str, size: Any = None, *, jvm_size: Any = None
) -> dict[str, Any]:
    """Set how many kernels `environment`'s pool keeps (0 keeps none): `size` Python ones, `jvm_size` ones with a
    warm JVM (either may be left out, keeping its setting); the pools follow in the background."""
    if not is_site_admin(actor):
        raise Forbidden("only site admins set kernel pools")
    if size is None and jvm_size is None:
        raise InvalidInput("give size, jvm_size or both", field="size")
    for name, value in (("size", size), ("jvm_size", jvm_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= MAX_POOL_SIZE):
            raise InvalidInput(f"{name} must be a whole number from 0 to {MAX_POOL_SIZE}", field=name)
    if jvm_size and not spark_available():
        raise InvalidInput("kernels with a warm JVM need Java and pyspark, which this server lacks", field="jvm_size")
    if environment != BASE_POOL and not Environment.objects.filter(
        key=environment, kind=Environment.Kind.PYTHON
    ).exists():
        raise InvalidInput(f"pools are kept for {BASE_POOL!r} and for Python environments' keys", field="environment")
    changes: dict[str, Any] = {name: value for name, value in (("size", size), ("jvm_size", jvm_size))
                               if value is not None}
    if jvm_size is not None:
        changes.update(jvm_failures=0, jvm_error="")  # set again: the next warm-up is tried at once
    pool, _ = KernelPool.objects.update_or_create(environment=environment, defaults=changes)
    log.info("kernel pool %s set to %d (+%d with a warm JVM)", environment, pool.size, pool.jvm_size)
    transaction.on_commit(fill_soon)
    return {"environment": environment, "size": pool.size, "jvm_size": pool.jvm_size}

