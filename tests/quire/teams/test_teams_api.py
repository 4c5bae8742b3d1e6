"""Teams: creating them, members and team admins, and who may change what."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from quire.teams.models import Membership

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def test_creator_becomes_team_admin(alice) -> None:  # type: ignore[no-untyped-def]
    response = _client(alice).post("/api/teams/", {"name": "Data Science"}, format="json")
    assert response.status_code == 201
    assert response.json()["slug"] == "data-science"
    assert response.json()["members"] == [{"username": "alice", "role": "admin", "joined_at": response.json()["members"][0]["joined_at"]}]
    assert _client(alice).post("/api/teams/", {"name": "data science"}, format="json").status_code == 409


def test_only_team_admins_manage_members(alice, bob, team_acme, site_admin) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="carol", password="x")
    assert _client(bob).post("/api/teams/acme/members/", {"username": "carol"}, format="json").status_code == 403
    assert _client(alice).post("/api/teams/acme/members/", {"username": "carol"}, format="json").status_code == 200
    assert Membership.objects.get(team=team_acme, user__username="carol").role == "member"
    promoted = _client(alice).post("/api/teams/acme/members/", {"username": "bob", "role": "admin"}, format="json")
    assert promoted.json()["role"] == "admin"
    assert _client(alice).post("/api/teams/acme/members/", {"username": "nobody"}, format="json").status_code == 404
    bad_role = _client(alice).post("/api/teams/acme/members/", {"username": "carol", "role": "king"}, format="json")
    assert bad_role.status_code == 400 and bad_role.json()["field"] == "role"


def test_the_last_admin_cannot_leave(alice, team_acme) -> None:  # type: ignore[no-untyped-def]
    assert _client(alice).delete("/api/teams/acme/members/alice/").status_code == 409
    assert _client(alice).delete("/api/teams/acme/members/bob/").status_code == 204


def test_strangers_do_not_see_teams(team_acme, site_admin) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    stranger = get_user_model().objects.create_user(username="eve", password="x")
    assert _client(stranger).get("/api/teams/").json()["results"] == []
    assert _client(stranger).get("/api/teams/acme/").status_code == 404
    assert _client(site_admin).get("/api/teams/acme/").status_code == 200
