"""Sharing: grants of a role on a notebook to a user or a team, and reading the notebook's audit log."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from kernels import events
from notebooks.audit import do_record, entries_for
from notebooks.models import AuditEntry, Grant, Notebook
from notebooks.roles import LABELS, Role
from notebooks.services import get_notebook
from quire.lib import ratelimit
from quire.lib.errors import Conflict, InvalidInput, NotFound
from quire.lib.ratelimit import RateLimited
from quire.lib.users import Account, Caller
from quire.teams.models import Team


def check_role_label(label: object) -> Role:
    role = Role.from_label(label) if isinstance(label, str) else None
    if role is None:
        raise InvalidInput(f"role is one of {', '.join(LABELS)}", field="role")
    return role


def list_grants(user: Caller, notebook_id: int) -> list[Grant]:
    """Who else holds a role on the notebook; anyone who can read it may see this."""
    notebook, _ = get_notebook(user, notebook_id)
    return list(Grant.objects.filter(notebook=notebook).select_related("user", "team"))


def _grant(notebook: Notebook, grant_id: int) -> Grant:
    grant = (
        Grant.objects.select_for_update(of=("self",)).select_related("user", "team")
        .filter(notebook=notebook, pk=grant_id).first()
    )
    if grant is None:
        raise NotFound("no such grant on this notebook", field="grant_id")
    return grant


@transaction.atomic
def check_share(
    user: Account, notebook_id: int, *, username: str | None = None, team_slug: str | None = None,
    role: str,
) -> Grant:
    """Give a user or a team a role on the notebook (owners only); one grant per grantee."""
    notebook, _ = get_notebook(user, notebook_id, need=Role.OWNER)
    level = check_role_label(role)
    if bool(username) == bool(team_slug):
        raise InvalidInput("share with either a 'user' (username) or a 'team' (slug)", field="user")
    # Whether a name exists is learnt by naming it: a caller who named too many unknown ones is refused before
    # any lookup, so that the refusal itself tells nothing.
    guesser = f"user:{user.pk}"
    blocked = ratelimit.blocked("share_unknown_grantee", guesser)
    if blocked is not None:
        raise RateLimited(
            f"too many shares with unknown users or teams; try again in {blocked.retry_after} s",
            retry_after=blocked.retry_after,
        )
    grant = Grant(notebook=notebook, role=level, created_by=user)
    if username:
        grantee = get_user_model().objects.filter(username=username, is_active=True).first()
        if grantee is None:
            # One answer for a name nobody has and for a deactivated account.
            ratelimit.hit("share_unknown_grantee", guesser)
            raise InvalidInput(f"no user {username!r}", field="user")
        if grantee.pk == notebook.owner_id:
            raise InvalidInput(f"{username} owns this notebook already", field="user")
        existing = Grant.objects.filter(notebook=notebook, user=grantee).first()
        grant.user = grantee
    else:
        team = Team.objects.filter(slug=team_slug).first()
        if team is None:
            ratelimit.hit("share_unknown_grantee", guesser)
            raise InvalidInput(f"no team {team_slug!r}", field="team")
        existing = Grant.objects.filter(notebook=notebook, team=team).first()
        grant.team = team
    if existing is not None:
        raise Conflict(
            "this notebook is already shared with them; change that grant's role instead",
            field="user" if username else "team", extra={"grant_id": existing.pk},
        )
    grant.save()
    do_record(notebook, actor=user, action=AuditEntry.Action.SHARED, target=grant.grantee,
              detail={"role": level.label, "grant_id": grant.pk})
    events.publish_access_change(notebook.pk)
    return grant


@transaction.atomic
def check_change_grant(user: Account, notebook_id: int, grant_id: int, *, role: str) -> Grant:
    notebook, _ = get_notebook(user, notebook_id, need=Role.OWNER)
    level = check_role_label(role)
    grant = _grant(notebook, grant_id)
    old = Role(grant.role)
    if old != level:
        grant.role = level
        grant.save(update_fields=["role"])
        do_record(notebook, actor=user, action=AuditEntry.Action.ROLE_CHANGED, target=grant.grantee,
                  detail={"from": old.label, "to": level.label, "grant_id": grant.pk})
        events.publish_access_change(notebook.pk)
    return grant


@transaction.atomic
def check_unshare(user: Account, notebook_id: int, grant_id: int) -> None:
    notebook, _ = get_notebook(user, notebook_id, need=Role.OWNER)
    grant = _grant(notebook, grant_id)
    target, role = grant.grantee, Role(grant.role)
    grant.delete()
    do_record(notebook, actor=user, action=AuditEntry.Action.UNSHARED, target=target,
              detail={"role": role.label, "grant_id": grant_id})
    events.publish_access_change(notebook.pk)


def list_audit(user: Caller, notebook_id: int) -> list[AuditEntry]:
    """The notebook's audit log, newest first: owners (team admins and site admins included) only."""
    notebook, _ = get_notebook(user, notebook_id, need=Role.OWNER)
    return entries_for(notebook)
