"""Which quota applies: the user's own, else their notebook team's, else the site default."""

from __future__ import annotations

from dataclasses import dataclass, fields

from django.contrib.auth.models import AbstractBaseUser

from quire.quotas.models import Quota


@dataclass(frozen=True)
class Limits:
    max_kernels: int
    memory_mb: int
    cpu_seconds: int
    cell_time_limit_s: int
    idle_timeout_s: int
    network: bool
    spark_executors: int
    spark_cores: int
    spark_memory_mb: int

    @classmethod
    def from_quota(cls, quota: Quota) -> Limits:
        return cls(**{f.name: getattr(quota, f.name) for f in fields(cls)})


def site_default() -> Quota:
    quota, _ = Quota.objects.get_or_create(scope=Quota.Scope.DEFAULT)
    return quota


def effective_limits(user: AbstractBaseUser | None, *, team_id: int | None) -> Limits:
    if user is not None:
        own = Quota.objects.filter(scope=Quota.Scope.USER, user=user).first()
        if own is not None:
            return Limits.from_quota(own)
    if team_id is not None:
        team_quota = Quota.objects.filter(scope=Quota.Scope.TEAM, team_id=team_id).first()
        if team_quota is not None:
            return Limits.from_quota(team_quota)
    return Limits.from_quota(site_default())
