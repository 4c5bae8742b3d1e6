"""Celery tasks of runs: one re-run of a version, on the kernels queue (it holds a sandboxed kernel throughout)."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections


@shared_task(name="runs.run_version", ignore_result=True)
def run_version(run_id: str) -> str:
    """Run a queued run to its end; returns at once if it is gone or no longer queued."""
    from runs.execution import do_run

    close_old_connections()
    try:
        return do_run(run_id)
    finally:
        close_old_connections()
