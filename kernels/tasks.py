"""Celery tasks of the kernels app: the long-lived kernel host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import uvloop
from celery import shared_task
from django.db import close_old_connections

from kernels import liveness
from kernels.env_services import BUILD_TASK, do_build
from kernels.host import KernelHost
from kernels.services import do_cull_idle_sessions, do_reap_lost_sessions, do_tell_sessions_waiting_for_host

log = logging.getLogger(__name__)


def _host(hosting: Callable[[], Awaitable[None]]) -> None:
    """Run a kernel host (`hosting()`, called in its own event loop) in this worker process until it is done."""
    async def host() -> None:
        try:
            await hosting()
        finally:
            await liveness.close_client()  # the loop ends here: its Redis connections must not stay open

    close_old_connections()
    try:
        # libuv's loop: each event relayed and each command forwarded costs the host less of its loop's own work.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(host())
    finally:
        close_old_connections()


@shared_task(name="kernels.host_kernel", ignore_result=True)
def host_kernel(session_id: str) -> None:
    """Own one sandboxed kernel for one session until it stops; returns at once if the session is gone."""
    _host(lambda: KernelHost(session_id).run())


@shared_task(name="kernels.host_pooled_kernel", ignore_result=True)
def host_pooled_kernel(pooled_id: str) -> None:
    """Start a kernel for a pool and wait for the notebook that claims it, then host it as host_kernel would;
    returns at once if the pooled kernel is gone. Holds a kernel process from the start, as a host does."""
    _host(lambda: KernelHost().run_pooled(pooled_id))


@shared_task(name="kernels.reap_lost_sessions", ignore_result=True)
def reap_lost_sessions() -> int:
    """Mark sessions whose host died or went silent as dead, and tell those waiting for a free host that they wait (run
    every few seconds by Celery beat)."""
    do_tell_sessions_waiting_for_host()
    return do_reap_lost_sessions()


@shared_task(name="kernels.cull_idle_sessions", ignore_result=True)
def cull_idle_sessions() -> int:
    """Shut down kernels idle past their quota (run by Celery beat)."""
    return do_cull_idle_sessions()


@shared_task(name=BUILD_TASK, ignore_result=True)
def build_environment(notebook_id: int, key: str, force: bool = False) -> str:
    """Build a notebook's Python or JVM environment (or find it built) and tell the notebook; safe to repeat.

    Routed to the "builds" queue (CELERY_TASK_ROUTES): away from the kernel hosts, which hold their processes for
    a kernel's life, and from beat's reaping and culling ("maintenance"), which a long build must not delay.
    """
    close_old_connections()
    try:
        return do_build(notebook_id, key, force=force)
    finally:
        close_old_connections()

