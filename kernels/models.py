"""Kernel sessions (one live kernel per notebook) and executions (who ran which cell, and what came out)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

LIVE_STATES = ("starting", "idle", "busy")


class KernelSession(models.Model):
    class State(models.TextChoices):
        STARTING = "starting"
        IDLE = "idle"
        BUSY = "busy"
        DEAD = "dead"
        STOPPED = "stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notebook = models.ForeignKey("notebooks.Notebook", on_delete=models.CASCADE, related_name="kernel_sessions")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.STARTING)
    # The channel-layer name the session's host reads commands from.
    channel = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=200, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Resource use of the kernel's process tree, as of the last heartbeat.
    rss_bytes = models.BigIntegerField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["notebook"], condition=Q(state__in=LIVE_STATES), name="one_live_kernel_per_notebook"
            )
        ]

    def __str__(self) -> str:
        return f"kernel {self.pk} ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES


class Execution(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        ERROR = "error"
        INTERRUPTED = "interrupted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notebook = models.ForeignKey("notebooks.Notebook", on_delete=models.CASCADE, related_name="executions")
    session = models.ForeignKey(KernelSession, null=True, on_delete=models.SET_NULL, related_name="executions")
    cell_id = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    language = models.CharField(max_length=10)
    source = models.TextField()
    code_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    outputs = models.JSONField(default=list)
    symbols = models.JSONField(default=list)
    # Set when a cell above re-ran and rebound a name this run read; cleared by running the cell again.
    stale = models.BooleanField(default=False)
    # Jupyter's `[n]`: the order the run started in, in its kernel session (kernels.runbook); null until it
    # started, and for a run that never did.
    execution_count = models.PositiveIntegerField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at"]
        indexes = [models.Index(fields=["notebook", "cell_id", "-queued_at"])]

    def __str__(self) -> str:
        return f"execution of {self.cell_id} ({self.state})"


class Environment(models.Model):
    """A built (or building) notebook environment on disk, shared by every notebook whose config hashes to `key`."""

    class Kind(models.TextChoices):
        PYTHON = "python"
        JVM = "jvm"

    class State(models.TextChoices):
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    # "py-<sha256>" or "ivy-<sha256>" of the normalised requirements and repositories (kernels.config).
    key = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    spec = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.BUILDING)
    # The installer's or resolver's output of the last build (its tail when long).
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    build_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class NotebookEnvironment(models.Model):
    """The last environment of one kind that built for a notebook: what its kernel uses while a newer one builds
    or after a newer one failed."""

    notebook = models.ForeignKey("notebooks.Notebook", on_delete=models.CASCADE, related_name="environments")
    kind = models.CharField(max_length=8, choices=Environment.Kind.choices)
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notebook", "kind"], name="one_working_env_per_kind")]

    def __str__(self) -> str:
        return f"{self.notebook_id} {self.kind}: {self.environment_id}"


class KernelPool(models.Model):
    """How many kernels to keep started and waiting for notebooks of one environment: a site admin's setting. No
    row (or size 0) keeps no pool, and the first run of a notebook starts its kernel then."""

    # "base" (the platform's own Python, for notebooks that ask for no packages) or a Python environment's key.
    environment = models.CharField(max_length=80, unique=True)
    size = models.PositiveSmallIntegerField(default=0)
    # Kernels kept with their JVM warm (Spark's session started with the pool's settings, the Scala compiler up),
    # for notebooks' first Scala cells; each holds a JVM's memory, so these are sized apart.
    jvm_size = models.PositiveSmallIntegerField(default=0)
    # JVM warm-ups that failed in a row (kernels/pools.py waits longer after each before starting another), when
    # the last did and why: shown to site admins with the pool.
    jvm_failures = models.PositiveIntegerField(default=0)
    jvm_failed_at = models.DateTimeField(null=True, blank=True)
    jvm_error = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"pool of {self.size} (+{self.jvm_size} JVM) for {self.environment}"


class PooledKernel(models.Model):
    """A sandboxed kernel started ahead of any notebook, waiting for the first that fits (kernels/pools.py). Its
    sandbox is built with `limits` (a quota's launch limits, kernels.services.KernelLimits), and it serves only a
    user whose quota has exactly those. Claimed, it becomes that notebook's session on the same channel and host;
    it is never handed to anyone else."""

    class State(models.TextChoices):
        STARTING = "starting"
        READY = "ready"
        CLAIMED = "claimed"

    class Warm(models.TextChoices):
        # Python started and waiting; any language's first cell starts the rest.
        PYTHON = "python"
        # Also its JVM: Spark's session with `jvm_config`, and the Scala compiler, warmed up before it was ready.
        JVM = "jvm"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    environment = models.CharField(max_length=80)
    limits = models.CharField(max_length=200)
    warm = models.CharField(max_length=10, choices=Warm.choices, default=Warm.PYTHON)
    # What the JVM was started with (kernels.pool_records.jvm_config): claimed only by a notebook that would start
    # its own JVM with exactly this. Null for Python ones.
    jvm_config = models.JSONField(null=True, blank=True)
    # The JVM's process, as its host found it in the sandbox once the warm-up was done.
    jvm_pid = models.IntegerField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.STARTING)
    # The channel its host reads the claim on; the session that claims it keeps it.
    channel = models.CharField(max_length=100, unique=True)
    session = models.OneToOneField(KernelSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    host = models.CharField(max_length=200, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    rss_bytes = models.BigIntegerField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"pooled kernel {self.pk} ({self.environment}, {self.state})"
