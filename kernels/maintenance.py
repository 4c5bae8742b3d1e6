"""Beat's schedule (reaping, culling) run by the server itself in embedded mode, where no Celery runs."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from kernels import tasks  # noqa: F401  (registers the scheduled tasks with the Celery app)
from quire.celery import app

log = logging.getLogger(__name__)

# Strong reference (the event loop keeps only weak ones); one schedule per process, started with its first kernel
# or notebook page (kernels/backends.py).
_RUNNING: asyncio.Task[None] | None = None


async def _every(period: float, name: str, task: Any) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            await sync_to_async(task)()
        except Exception:  # a loop that must outlive one failed round, like beat's own
            log.exception("embedded maintenance: %s failed", name)


async def _run_schedule() -> None:
    rounds = []
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        task = app.tasks.get(entry["task"])
        if task is None:
            log.error("embedded maintenance: no task %s for %s", entry["task"], name)
            continue
        schedule = entry["schedule"]
        assert isinstance(schedule, (int, float)), f"{name}: beat's schedule here is a number of seconds"
        rounds.append(_every(float(schedule), name, task))
    await asyncio.gather(*rounds)


def start_in_this_loop() -> None:
    """Run CELERY_BEAT_SCHEDULE in the running event loop from now on (once per process): embedded mode has no
    beat, and without it idle kernels would never be culled, nor kernel pools filled."""
    global _RUNNING
    if _RUNNING is not None and not _RUNNING.done():
        return
    _RUNNING = asyncio.get_running_loop().create_task(
        _run_schedule(), name="embedded-maintenance", context=contextvars.Context()
    )
