"""Jobs: a notebook version (or the latest) re-run with parameters on a cron schedule stored in PostgreSQL.

Celery beat fires `runs.fire_due_jobs` every few seconds; each due job starts a run as its owner, through the same
checks as a run asked for by hand (role, quota), and its next time is computed with Celery's own crontab. A job
that cannot start, or whose run fails, keeps the reason in `last_error` and its notebook's open pages are told.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery.schedules import crontab
from django.db import transaction
from django.utils import timezone

from kernels import events, messages
from notebooks.roles import Role, role_for
from notebooks.services import get_notebook
from notebooks.versioning import version_of
from quire.accounts.admins import is_site_admin
from quire.lib.errors import InvalidInput, NotFound, QuireError
from quire.lib.users import Account, Caller
from runs import services
from runs.models import Job, Run

log = logging.getLogger(__name__)

# A job fires at most once a minute (cron's own resolution); how many a round of beat starts at most.
MAX_FIRED_PER_ROUND = 100


def schedule_of(cron: str) -> crontab:
    """Celery's crontab for a five-field cron line; InvalidInput naming `cron` when it is not one."""
    fields = cron.split() if isinstance(cron, str) else []
    if len(fields) != 5:
        raise InvalidInput("cron has five fields: minute hour day-of-month month day-of-week", field="cron")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                       day_of_week=day_of_week)
    except (ValueError, TypeError, IndexError) as exc:
        raise InvalidInput(f"cron {cron!r} is not a schedule: {exc}", field="cron") from None


def next_time(cron: str, after: datetime) -> datetime:
    """The first time after `after` the schedule names."""
    schedule = schedule_of(cron)
    start, delta, _ = schedule.remaining_delta(after)
    return start + delta  # type: ignore[no-any-return]


def _check_manage(user: Caller, job: Job) -> None:
    """Editors and owners of the job's notebook (site admins are owners of every notebook) manage its jobs."""
    role = role_for(user, job.notebook)
    if role is None or role < Role.EDITOR or job.notebook.deleted_at is not None:
        raise NotFound("no such job")


@transaction.atomic
def check_create_job(user: Account, notebook_id: int, *, cron: str, version: int | None = None,
                     parameters: Any = None) -> Job:
    """Schedule runs of a version (None: the latest when it fires), as the caller (editors and owners)."""
    notebook, _ = get_notebook(user, notebook_id, need=Role.EDITOR)
    pinned = version_of(notebook, version) if version is not None else None
    now = timezone.now()
    return Job.objects.create(notebook=notebook, version=pinned, owner=user, cron=" ".join(cron.split()),
                              parameters=services.check_parameters(parameters), next_run_at=next_time(cron, now))


def list_jobs(user: Account, *, notebook_id: int | None = None, everyone: bool = False) -> list[Job]:
    """A notebook's jobs (its readers); else the caller's own, or every job for site admins asking for all."""
    jobs = Job.objects.select_related("notebook", "version", "owner", "last_run")
    if notebook_id is not None:
        notebook, _ = get_notebook(user, notebook_id)
        jobs = jobs.filter(notebook=notebook)
    elif everyone and is_site_admin(user):
        jobs = jobs.filter(notebook__deleted_at__isnull=True)
    else:
        jobs = jobs.filter(owner=user, notebook__deleted_at__isnull=True)
    return list(jobs.order_by("created_at"))


@transaction.atomic
def check_update_job(user: Account, job_id: int, *, enabled: bool | None = None, cron: str | None = None,
                     parameters: Any = None) -> Job:
    job = Job.objects.select_for_update(of=("self",)).select_related("notebook", "version", "owner").filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such job")
    _check_manage(user, job)
    if cron is not None:
        job.cron = " ".join(cron.split())
        job.next_run_at = next_time(job.cron, timezone.now())
    if parameters is not None:
        job.parameters = services.check_parameters(parameters)
    if enabled is not None:
        if enabled and not job.enabled:
            job.next_run_at = next_time(job.cron, timezone.now())
        job.enabled = enabled
    job.save()
    return job


@transaction.atomic
def check_delete_job(user: Account, job_id: int) -> None:
    job = Job.objects.select_related("notebook").filter(pk=job_id).first()
    if job is None:
        raise NotFound("no such job")
    _check_manage(user, job)
    job.delete()


def _tell(job: Job, message: str) -> None:
    events.publish(job.notebook_id, messages.Notice(level="error", message=message))


def do_fire_due_jobs(now: datetime | None = None) -> int:
    """Start a run for each enabled job that is due (one firing per job however late beat is); how many started."""
    now = now or timezone.now()
    started = 0
    with transaction.atomic():
        # SKIP LOCKED: two beats (or a slow round and the next) never fire one job twice.
        due = list(Job.objects.select_for_update(skip_locked=True, of=("self",)).select_related("notebook", "owner", "version")
                   .filter(enabled=True, next_run_at__lte=now).order_by("next_run_at")[:MAX_FIRED_PER_ROUND])
        for job in due:
            job.next_run_at = next_time(job.cron, now)
            try:
                with transaction.atomic():
                    number = job.version.number if job.version is not None else _latest(job)
                    run = services.check_start_run(job.owner, job.notebook_id, number, parameters=job.parameters,
                                                   job=job)
                job.last_run = run
                started += 1
            except QuireError as exc:
                job.last_error = f"the scheduled run at {now:%Y-%m-%d %H:%M} UTC did not start: {exc}"
                log.info("job %s: %s", job.pk, job.last_error)
                _tell(job, job.last_error)
            job.save(update_fields=["next_run_at", "last_run", "last_error"])
    return started


def _latest(job: Job) -> int:
    head = job.notebook.head_version
    if head is None:
        raise InvalidInput("the notebook has no version to run yet", field="version")
    return head.number


def do_record_job_outcome(run: Run) -> None:
    """After a scheduled run ends: a failure is kept on its job and told to the notebook's pages."""
    if run.job_id is None:
        return
    if run.state == Run.State.DONE:
        Job.objects.filter(pk=run.job_id).update(last_error="")
        return
    message = f"the scheduled run of version {run.version.number} {run.state}: {run.reason}"
    Job.objects.filter(pk=run.job_id).update(last_error=message)
    events.publish(run.notebook_id, messages.Notice(level="error", message=message))


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "notebook_id": job.notebook_id,
        "notebook_title": job.notebook.title,
        "version": job.version.number if job.version is not None else None,
        "owner": job.owner.get_username(),
        "cron": job.cron,
        "parameters": job.parameters,
        "enabled": job.enabled,
        "next_run_at": job.next_run_at.isoformat(),
        "last_run": str(job.last_run_id) if job.last_run_id else None,
        "last_error": job.last_error,
        "created_at": job.created_at.isoformat(),
    }
