"""Roles on a notebook, ordered viewer < runner < editor < owner, and who holds which."""

from __future__ import annotations

from enum import IntEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from notebooks.models import Notebook
from quire.teams.models import Membership


class Role(IntEnum):
    VIEWER = 1
    RUNNER = 2
    EDITOR = 3
    OWNER = 4

    @property
    def label(self) -> str:
        return self.name.lower()


def role_for(user: AbstractBaseUser | AnonymousUser, notebook: Notebook) -> Role | None:
    """The caller's role on `notebook`, or None when they may not even read it."""
    if not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False) or notebook.owner_id == user.pk:
        return Role.OWNER
    if notebook.team_id is not None:
        membership = Membership.objects.filter(team_id=notebook.team_id, user=user).first()
        if membership is not None:
            # Team admins manage their team's notebooks; members work in them.
            return Role.OWNER if membership.role == Membership.Role.ADMIN else Role.EDITOR
    return None
