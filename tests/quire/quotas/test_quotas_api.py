"""Quotas: site admins set them per site, team and user; everyone sees their own limits and use."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from quire.quotas.models import Quota
from quire.quotas.services import effective_limits

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def test_users_see_their_limits_and_use(alice) -> None:  # type: ignore[no-untyped-def]
    report = _client(alice).get("/api/me/quota/").json()
    assert report["limits"]["max_kernels"] == 2
    assert report["usage"] == {"kernels": 0, "kernel_memory_bytes": 0}


def test_only_site_admins_manage_quotas(alice, site_admin, team_acme) -> None:  # type: ignore[no-untyped-def]
    assert _client(alice).get("/api/quotas/").status_code == 403
    assert _client(alice).post("/api/quotas/", {"scope": "user", "user": "alice", "max_kernels": 9}).status_code == 403
    admin = _client(site_admin)
    created = admin.post("/api/quotas/", {"scope": "user", "user": "alice", "max_kernels": 5, "network": True}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["user"] == "alice"
    assert effective_limits(alice, team_id=None).max_kernels == 5
    assert _client(alice).get("/api/me/quota/").json()["limits"]["network"] is True

    team_quota = admin.post("/api/quotas/", {"scope": "team", "team": "acme", "cell_time_limit_s": 30}, format="json")
    assert team_quota.status_code == 201
    bob_limits = effective_limits(team_acme.members.get(username="bob"), team_id=team_acme.pk)
    assert bob_limits.cell_time_limit_s == 30

    changed = admin.patch(f"/api/quotas/{created.json()['id']}/", {"max_kernels": 1}, format="json")
    assert changed.json()["max_kernels"] == 1
    assert admin.post("/api/quotas/", {"scope": "user", "user": "alice"}, format="json").status_code == 409
    assert admin.post("/api/quotas/", {"scope": "user", "user": "nobody"}, format="json").json()["field"] == "user"
    assert admin.post("/api/quotas/", {"scope": "galaxy"}, format="json").status_code == 400
    assert admin.patch(f"/api/quotas/{created.json()['id']}/", {"max_kernels": -1}, format="json").status_code == 400
    assert admin.delete(f"/api/quotas/{created.json()['id']}/").status_code == 204
    assert effective_limits(alice, team_id=None).max_kernels == 2


def test_the_site_default_cannot_be_deleted(site_admin) -> None:  # type: ignore[no-untyped-def]
    default = Quota.objects.create(scope="default")
    assert _client(site_admin).delete(f"/api/quotas/{default.pk}/").status_code == 409


def test_profile_page(alice) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(alice)
    assert b'data-page="profile"' in client.get("/profile/").content


def test_the_disk_quota_is_set_like_the_others(alice, site_admin) -> None:  # type: ignore[no-untyped-def]
    assert _client(alice).get("/api/me/quota/").json()["limits"]["disk_mb"] == 2048
    admin = _client(site_admin)
    created = admin.post("/api/quotas/", {"scope": "user", "user": "alice", "disk_mb": 512}, format="json")
    assert created.status_code == 201, created.json()
    assert effective_limits(alice, team_id=None).disk_mb == 512
    refused = admin.patch(f"/api/quotas/{created.json()['id']}/", {"disk_mb": 0}, format="json")
    assert refused.status_code == 400 and "disk_mb" in str(refused.json())


@pytest.fixture
def staff_carol(db):  # type: ignore[no-untyped-def]
    """Carol may enter Django admin (staff) but is not a superuser: not a site admin."""
    from tests.conftest import _user

    return _user("carol", is_staff=True)


def test_a_staff_account_that_is_not_a_superuser_cannot_set_quotas(staff_carol, site_admin) -> None:  # type: ignore[no-untyped-def]
    staff = _client(staff_carol)
    refused = staff.post("/api/quotas/", {"scope": "user", "user": "carol", "max_kernels": 50, "network": True}, format="json")
    assert refused.status_code == 403
    assert not Quota.objects.filter(scope="user", user=staff_carol).exists()
    default = Quota.objects.create(scope="default")
    assert staff.patch(f"/api/quotas/{default.pk}/", {"network": True}, format="json").status_code == 403
    assert staff.get("/api/quotas/").status_code == 403
    default.refresh_from_db()
    assert default.network is False
    assert staff.get("/api/me/").json()["is_site_admin"] is False

    admin = _client(site_admin)
    assert admin.patch(f"/api/quotas/{default.pk}/", {"network": True}, format="json").status_code == 200
    default.refresh_from_db()
    assert default.network is True
    assert admin.get("/api/me/").json()["is_site_admin"] is True
