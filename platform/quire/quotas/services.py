"""Which quota applies: the user's own, else their notebook team's, else the site default."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from quire.accounts.admins import is_site_admin
from quire.lib.errors import Conflict, Forbidden, InvalidInput, NotFound
from quire.lib.users import Account
from quire.quotas.models import Quota
from quire.teams.models import Team

log = logging.getLogger("quire.audit")


@dataclass(frozen=True)
class Limits:
    max_kernels: int
    memory_mb: int
    disk_mb: int
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


def effective_limits(user: Account | None, *, team_id: int | None) -> Limits:
    if user is not None:
        own = Quota.objects.filter(scope=Quota.Scope.USER, user=user).first()
        if own is not None:
            return Limits.from_quota(own)
    if team_id is not None:
        team_quota = Quota.objects.filter(scope=Quota.Scope.TEAM, team_id=team_id).first()
        if team_quota is not None:
            return Limits.from_quota(team_quota)
    return Limits.from_quota(site_default())


LIMIT_FIELDS = [f.name for f in fields(Limits)]


def get_quota(quota_id: int) -> Quota:
    quota = Quota.objects.select_related("team", "user").filter(pk=quota_id).first()
    if quota is None:
        raise NotFound("no such quota")
    return quota


def _check_admin(actor: Account) -> None:
    if not is_site_admin(actor):
        raise Forbidden("only site admins set quotas")


def check_create_quota(
    actor: Account, *, scope: str, team: str | None = None, user: str | None = None,
    limits: dict[str, Any],
) -> Quota:
    _check_admin(actor)
    target: dict[str, Any] = {"scope": scope}
    if scope == Quota.Scope.TEAM:
        target["team"] = Team.objects.filter(slug=team or "").first()
        if target["team"] is None:
            raise InvalidInput(f"no team {team!r}", field="team")
    elif scope == Quota.Scope.USER:
        target["user"] = get_user_model().objects.filter(username=user or "").first()
        if target["user"] is None:
            raise InvalidInput(f"no user {user!r}", field="user")
    try:
        with transaction.atomic():
            quota = Quota.objects.create(**target, **limits)
    except IntegrityError as exc:
        raise Conflict("that target has a quota already; change it instead", field="scope") from exc
    log.info("quota created by %s: %s %s", actor, quota, limits)
    return quota


def check_update_quota(actor: Account, quota_id: int, *, limits: dict[str, Any]) -> Quota:
    _check_admin(actor)
    quota = get_quota(quota_id)
    for name, value in limits.items():
        setattr(quota, name, value)
    quota.save()
    log.info("quota %s changed by %s: %s", quota.pk, actor, limits)
    return quota


def check_delete_quota(actor: Account, quota_id: int) -> None:
    _check_admin(actor)
    quota = get_quota(quota_id)
    if quota.scope == Quota.Scope.DEFAULT:
        raise Conflict("the site default stays; change it instead")
    quota.delete()
    log.info("quota %s deleted by %s", quota_id, actor)
