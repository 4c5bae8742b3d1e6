"""Roles on a notebook, ordered viewer < runner < editor < owner, and who holds which.

A user's role is the highest of: owning the notebook (owner), being a site admin (owner), being an
admin of the notebook's team (owner) or a member of it (editor), a grant to the user, and a grant to
any team the user belongs to. Nobody else may even read a notebook.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from django.db.models import Q

from kernels.messages import RoleName, role_name
from notebooks.models import Grant, Notebook
from quire.accounts.admins import is_site_admin
from quire.lib.users import Caller
from quire.teams.models import Membership


class Role(IntEnum):
    VIEWER = 1
    RUNNER = 2
    EDITOR = 3
    OWNER = 4

    @property
    def label(self) -> RoleName:
        return role_name(self.name.lower())

    @classmethod
    def from_label(cls, label: str) -> Role | None:
        return next((role for role in cls if role.label == label), None)


LABELS = tuple(role.label for role in Role)


def _team_role(membership_role: str) -> Role:
    # Team admins manage their team's notebooks; members work in them.
    return Role.OWNER if membership_role == Membership.Role.ADMIN else Role.EDITOR


def role_for(user: Caller, notebook: Notebook) -> Role | None:
    """The caller's role on `notebook`, or None when they may not even read it."""
    if not user.is_authenticated or not user.is_active:
        return None
    if is_site_admin(user) or notebook.owner_id == user.pk:
        return Role.OWNER
    return roles_for_many(user, [notebook]).get(notebook.pk)


def roles_for_many(user: Caller, notebooks: Iterable[Notebook]) -> dict[int, Role]:
    """The caller's role on each notebook they may read, in two queries whatever the count."""
    notebooks = list(notebooks)
    if not notebooks or not user.is_authenticated or not user.is_active:
        return {}
    if is_site_admin(user):
        return {notebook.pk: Role.OWNER for notebook in notebooks}
    memberships = dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
    roles: dict[int, Role] = {}

    def offer(notebook_id: int, role: Role) -> None:
        if role > roles.get(notebook_id, 0):
            roles[notebook_id] = role

    for notebook in notebooks:
        if notebook.owner_id == user.pk:
            offer(notebook.pk, Role.OWNER)
        elif notebook.team_id in memberships:
            offer(notebook.pk, _team_role(memberships[notebook.team_id]))
    grants = Grant.objects.filter(notebook_id__in=[n.pk for n in notebooks]).filter(
        Q(user=user) | Q(team_id__in=list(memberships))
    )
    for notebook_id, role in grants.values_list("notebook_id", "role"):
        offer(notebook_id, Role(role))
    return roles
