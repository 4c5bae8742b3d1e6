"""Celery tasks of runs: one re-run of a version, on the kernels queue (it holds a sandboxed kernel throughout), and
beat's round that starts the jobs that are due."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections

from runs.execution import do_reap_lost_runs, do_run
from runs.jobs import do_fire_due_jobs
from runs.services import RUN_TASK


@shared_task(name=RUN_TASK, ignore_result=True)
def run_version(run_id: str) -> str:
    """Run a queued run to its end; returns at once if it is gone or no longer queued."""
    close_old_connections()
    try:
        return do_run(run_id)
    finally:
        close_old_connections()


@shared_task(name="runs.fire_due_jobs", ignore_result=True)
def fire_due_jobs() -> int:
    """Start a run for every scheduled job that is due (run by Celery beat every few seconds)."""
    return do_fire_due_jobs()


@shared_task(name="runs.reap_lost_runs", ignore_result=True)
def reap_lost_runs() -> int:
    """Fail the runs whose worker went silent (run by Celery beat)."""
    return do_reap_lost_runs()
