"""The Celery application; kernel hosts run as tasks on its "kernels" queue."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")

app = Celery("quire")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="quire.platform_system")
def platform_system() -> str:
    """Report the stdlib platform module's answer, proving the worker's import path does not shadow it."""
    import platform

    return platform.system()
