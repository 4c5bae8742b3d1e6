"""The Celery application; kernel hosts run as tasks on its "kernels" queue."""

from __future__ import annotations

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")

app = Celery("quire")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_: Any) -> None:
    """In each worker process, before it hosts a kernel: what was loaded at start is kept out of the garbage
    collector's full passes, which would otherwise stall a host's relay of live events for tens of ms."""
    gc.freeze()


@app.task(name="quire.platform_system")
def platform_system() -> str:
    """Report the stdlib platform module's answer, proving the worker's import path does not shadow it."""
    import platform

    return platform.system()
