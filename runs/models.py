"""Version locks (what a version ran with), runs (a version re-run top to bottom, with its report) and jobs (runs
on a cron schedule)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class VersionLock(models.Model):
    """The environment a version was saved with (runs/locks.py): written once, with the version."""

    version = models.OneToOneField("notebooks.NotebookVersion", on_delete=models.CASCADE, related_name="lock")
    lock = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"lock of {self.version_id}"


class Job(models.Model):
    """A version (or whichever is the latest) run with parameters on a cron schedule, as its owner."""

    notebook = models.ForeignKey("notebooks.Notebook", on_delete=models.CASCADE, related_name="jobs")
    # None: the notebook's latest version when the job fires.
    version = models.ForeignKey("notebooks.NotebookVersion", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="jobs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    # Five fields, minute hour day-of-month month day-of-week, in UTC (Celery's crontab reads them).
    cron = models.CharField(max_length=100)
    parameters = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField()
    last_run = models.ForeignKey("Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Why the last firing or its run failed, for the owner; cleared by a run that ends done.
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["enabled", "next_run_at"])]

    def __str__(self) -> str:
        return f"job {self.pk} of notebook {self.notebook_id} ({self.cron})"


class Run(models.Model):
    """One re-run of a version, owned by the person who asked for it."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notebook = models.ForeignKey("notebooks.Notebook", on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey("notebooks.NotebookVersion", on_delete=models.CASCADE, related_name="runs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="runs")
    parameters = models.JSONField(default=dict)
    # The job that fired it, if a schedule did.
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    # Why a run failed or was cancelled, for its owner.
    reason = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    # [{"id", "language", "source", "injected", "state", "started_at", "outputs", "seconds", "files"}] in notebook
    # order, filled as cells finish.
    cells = models.JSONField(default=list)
    # The environment the run had (runs/locks.py), and its comparison with the version (runs/report.py).
    lock = models.JSONField(default=dict)
    report = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written every few seconds by the worker running it: a running run silent too long lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["notebook", "-created_at"]), models.Index(fields=["requested_by", "-created_at"])]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.version_id} ({self.state})"

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)
