"""Quota rows: one site default, optional overrides per team and per user."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class Quota(models.Model):
    class Scope(models.TextChoices):
        DEFAULT = "default", "Site default"
        TEAM = "team", "Team"
        USER = "user", "User"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    team = models.OneToOneField("teams.Team", null=True, blank=True, on_delete=models.CASCADE)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    max_kernels = models.PositiveIntegerField(default=2, help_text="concurrent kernels")
    # A quarter of it is the kernel's /tmp, the rest its data limit (kernels/launchers.py, KernelSpec.tmp_mb).
    memory_mb = models.PositiveIntegerField(default=2048, help_text="memory per kernel: its data and its /tmp")
    # The host stops a kernel past it (kernels/launchers.py, LaunchedKernel.disk_overrun).
    disk_mb = models.PositiveIntegerField(
        default=2048, validators=[MinValueValidator(1)], help_text="disk per kernel: its work directory and output"
    )
    cpu_seconds = models.PositiveIntegerField(default=3600, help_text="CPU time per kernel process")
    cell_time_limit_s = models.PositiveIntegerField(default=600)
    idle_timeout_s = models.PositiveIntegerField(default=3600)
    network = models.BooleanField(default=False, help_text="kernels may reach the network")
    spark_executors = models.PositiveIntegerField(default=2)
    spark_cores = models.PositiveIntegerField(default=2)
    spark_memory_mb = models.PositiveIntegerField(default=2048)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="default", team__isnull=True, user__isnull=True)
                    | Q(scope="team", team__isnull=False, user__isnull=True)
                    | Q(scope="user", team__isnull=True, user__isnull=False)
                ),
                name="quota_scope_matches_target",
            ),
            models.UniqueConstraint(fields=["scope"], condition=Q(scope="default"), name="one_default_quota"),
        ]

    def __str__(self) -> str:
        target = self.team or self.user or "site"
        return f"quota for {target}"
