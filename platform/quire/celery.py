"""The Celery application; kernel hosts run as tasks on its "kernels" queue."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")

log = logging.getLogger(__name__)

# prctl(2): the signal a process gets when the thread that created it exits.
PR_SET_PDEATHSIG = 1

app = Celery("quire")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_: Any) -> None:
    """In each worker process, before it hosts a kernel: what was loaded at start is kept out of the garbage
    collector's full passes, which would otherwise stall a host's relay of live events for tens of ms."""
    gc.freeze()


@worker_process_init.connect
def _die_with_the_worker(**_: Any) -> None:
    """A pool process dies with the worker's main process (SIGKILL from the kernel when its parent goes): left
    alone it would go on hosting a kernel that no worker answers for, after its unit was restarted. Its kernel's
    sandbox dies with it (bwrap --die-with-parent), its lease lapses and the servers end its session
    (kernels/liveness.py)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("could not tie this pool process to the worker: errno %d", ctypes.get_errno())
    if os.getppid() == 1:  # the worker died before the tie was made
        os._exit(1)


@app.task(name="quire.platform_system")
def platform_system() -> str:
    """Report the stdlib platform module's answer, proving the worker's import path does not shadow it."""
    import platform

    return platform.system()
