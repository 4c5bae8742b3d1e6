"""Where kernel hosts run: a Celery task (on the "kernels" queue), or a task in this process's event loop."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings

from kernels import maintenance
from kernels.host import KernelHost
from kernels.tasks import host_kernel

log = logging.getLogger(__name__)

# Strong references: the event loop keeps only weak ones to its tasks.
_INPROCESS_HOSTS: set[asyncio.Task[None]] = set()


def _start_with_celery(session_id: uuid.UUID) -> None:
    host_kernel.apply_async(args=[str(session_id)])  # routed to "kernels" (CELERY_TASK_ROUTES)


async def _spawn_inprocess(session_id: str) -> None:
    # Embedded mode has no beat: the server runs its schedule itself from its first kernel on.
    maintenance.start_in_this_loop()
    # A fresh context: the caller's belongs to a short-lived async_to_sync call whose thread executor is gone
    # by the time the host makes its own database calls.
    task = asyncio.get_running_loop().create_task(
        KernelHost(session_id).run(), name=f"kernel-host-{session_id}", context=contextvars.Context()
    )
    _INPROCESS_HOSTS.add(task)
    task.add_done_callback(_INPROCESS_HOSTS.discard)


def _start_inprocess(session_id: uuid.UUID) -> None:
    # Called from sync code running under the server's event loop (a consumer's database thread), so
    # async_to_sync schedules onto that loop, where the host then lives beside the in-memory channel layer.
    async_to_sync(_spawn_inprocess)(str(session_id))


HOST_BACKENDS: dict[str, Callable[[uuid.UUID], None]] = {
    "celery": _start_with_celery,
    "inprocess": _start_inprocess,
}


def start_host(session_id: uuid.UUID) -> None:
    backend = HOST_BACKENDS[settings.QUIRE_KERNEL_HOST]
    log.info("starting kernel host for session %s (%s)", session_id, settings.QUIRE_KERNEL_HOST)
    backend(session_id)
