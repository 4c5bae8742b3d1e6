"""Team actions: create a team, add, change and remove members; every write checks the caller is a team admin."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from quire.accounts.admins import is_site_admin
from quire.lib.errors import Conflict, Forbidden, InvalidInput, NotFound
from quire.lib.live import publish_access_changed
from quire.lib.users import Account
from quire.teams.models import Membership, Team


def is_team_admin(user: Account, team: Team) -> bool:
    if is_site_admin(user):
        return True
    return Membership.objects.filter(team=team, user=user, role=Membership.Role.ADMIN).exists()


def visible_teams(user: Account):  # type: ignore[no-untyped-def]
    if is_site_admin(user):
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user)


def get_team(user: Account, slug: str) -> Team:
    team = visible_teams(user).filter(slug=slug).first()
    if team is None:
        raise NotFound(f"no team {slug!r}")
    return team


def do_create_team(creator: Account, *, name: str) -> Team:
    """Create a team; its creator becomes its first admin."""
    name = name.strip()
    slug = slugify(name)
    if not name or not slug:
        raise InvalidInput("a team needs a name with letters or digits", field="name")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, slug=slug)
            Membership.objects.create(team=team, user=creator, role=Membership.Role.ADMIN)
    except IntegrityError as exc:
        raise Conflict(f"a team named {slug!r} exists already", field="name") from exc
    return team


def check_set_member(actor: Account, team: Team, *, username: str, role: str) -> Membership:
    """Add a member or change their role; only team admins may."""
    if not is_team_admin(actor, team):
        raise Forbidden("only team admins manage members")
    if role not in Membership.Role.values:
        raise InvalidInput(f"role must be one of {', '.join(Membership.Role.values)}", field="role")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"no user {username!r}", field="username")
    with transaction.atomic():
        membership, _ = Membership.objects.select_for_update().get_or_create(team=team, user=user)
        if membership.role != role:
            _refuse_losing_last_admin(team, membership, new_role=role)
            membership.role = role
            membership.save(update_fields=["role"])
        publish_access_changed(user.pk)
    return membership


def check_remove_member(actor: Account, team: Team, *, username: str) -> None:
    if not is_team_admin(actor, team) and actor.get_username() != username:
        raise Forbidden("only team admins remove other members")
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(team=team, user__username=username).first()
        )
        if membership is None:
            raise NotFound(f"{username!r} is not a member", field="username")
        _refuse_losing_last_admin(team, membership, new_role=None)
        membership.delete()
        publish_access_changed(membership.user_id)


def _refuse_losing_last_admin(team: Team, membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Membership.Role.ADMIN or new_role == Membership.Role.ADMIN:
        return
    admins = Membership.objects.filter(team=team, role=Membership.Role.ADMIN).exclude(pk=membership.pk)
    if not admins.exists():
        raise Conflict("a team keeps at least one admin")
