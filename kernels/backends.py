"""Where kernel hosts run: a Celery task (on the "kernels" queue), or a task in this process's event loop."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings

from kernels import maintenance
from kernels.host import KernelHost
from kernels.tasks import host_kernel, host_pooled_kernel

log = logging.getLogger(__name__)

# Strong references: the event loop keeps only weak ones to its tasks.
_INPROCESS_HOSTS: set[asyncio.Task[None]] = set()


def _start_with_celery(session_id: uuid.UUID) -> None:
    host_kernel.apply_async(args=[str(session_id)])  # routed to "kernels" (CELERY_TASK_ROUTES)


def _start_pooled_with_celery(pooled_id: uuid.UUID) -> None:
    host_pooled_kernel.apply_async(args=[str(pooled_id)])  # routed to "kernels" too: it holds a kernel process


def _in_this_loop(name: str, hosting: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # Embedded mode has no beat: the server runs its schedule itself from its first kernel on.
    maintenance.start_in_this_loop()
    # A fresh context: the caller's belongs to a short-lived async_to_sync call whose thread executor is gone
    # by the time the host makes its own database calls.
    task = asyncio.get_running_loop().create_task(hosting(), name=name, context=contextvars.Context())
    _INPROCESS_HOSTS.add(task)
    task.add_done_callback(_INPROCESS_HOSTS.discard)


async def _spawn_inprocess(session_id: str) -> None:
    _in_this_loop(f"kernel-host-{session_id}", KernelHost(session_id).run)


async def _spawn_pooled_inprocess(pooled_id: str) -> None:
    _in_this_loop(f"pooled-kernel-host-{pooled_id}", lambda: KernelHost().run_pooled(pooled_id))


def _start_inprocess(session_id: uuid.UUID) -> None:
    # Called from sync code running under the server's event loop (a consumer's database thread), so
    # async_to_sync schedules onto that loop, where the host then lives beside the in-memory channel layer.
    async_to_sync(_spawn_inprocess)(str(session_id))


def _start_pooled_inprocess(pooled_id: uuid.UUID) -> None:
    # As _start_inprocess; also called from the embedded maintenance schedule, which runs under that loop too.
    async_to_sync(_spawn_pooled_inprocess)(str(pooled_id))


HOST_BACKENDS: dict[str, Callable[[uuid.UUID], None]] = {
    "celery": _start_with_celery,
    "inprocess": _start_inprocess,
}
POOLED_HOST_BACKENDS: dict[str, Callable[[uuid.UUID], None]] = {
    "celery": _start_pooled_with_celery,
    "inprocess": _start_pooled_inprocess,
}


def start_host(session_id: uuid.UUID) -> None:
    backend = HOST_BACKENDS[settings.QUIRE_KERNEL_HOST]
    log.info("starting kernel host for session %s (%s)", session_id, settings.QUIRE_KERNEL_HOST)
    backend(session_id)


def start_pooled_host(pooled_id: uuid.UUID) -> None:
    """Start the host of a pooled kernel (kernels/pools.py), where session hosts start."""
    log.info("starting a pooled kernel %s (%s)", pooled_id, settings.QUIRE_KERNEL_HOST)
    POOLED_HOST_BACKENDS[settings.QUIRE_KERNEL_HOST](pooled_id)


async def serve_maintenance() -> None:
    """Embedded mode: from the first notebook a page opens on, this process runs beat's schedule (which fills the
    kernel pools), so that notebook's first run may find a kernel waiting. Celery beat does it otherwise."""
    if settings.QUIRE_KERNEL_HOST == "inprocess":
        maintenance.start_in_this_loop()
