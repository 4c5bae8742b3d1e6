"""Signing in and out with Django sessions, API tokens for scripts, and the demo admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from quire.accounts.models import ApiToken
from quire.accounts.services import ensure_demo_admin
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_pages_need_sign_in() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_sign_in_and_out(alice) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    wrong = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b"didn't match" in wrong.content
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/me/").json()["username"] == "alice"
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_api_tokens_are_shown_once_and_authenticate_scripts(alice) -> None:  # type: ignore[no-untyped-def]
    session = APIClient()
    session.force_login(alice)
    created = session.post("/api/tokens/", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("qt_")
    assert "key" not in session.get("/api/tokens/").json()["results"][0]
    assert not ApiToken.objects.filter(key_hash=key).exists()  # only a hash is stored

    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert script.get("/api/me/").json()["username"] == "alice"

    assert session.delete(f"/api/tokens/{created.json()['id']}/").status_code == 204
    assert script.get("/api/me/").status_code == 401


def test_bad_token_is_refused() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer qt_nope")
    assert client.get("/api/me/").status_code == 401
    assert APIClient().get("/api/me/").status_code in (401, 403)


def test_token_needs_a_name(alice) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(alice)
    response = client.post("/api/tokens/", {"name": "   "}, format="json")
    assert response.status_code == 400


def test_demo_admin_only_on_an_empty_database(capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("ensure_demo_admin")
    out = capsys.readouterr().out
    assert "username: admin" in out
    password = out.split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert ensure_demo_admin() is None


def test_admin_site_is_enabled(site_admin) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(site_admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/quotas/quota/").status_code == 200


def test_the_sign_in_page_is_styled_like_the_app_and_every_page_has_a_favicon(alice) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert '/static/assets/app.css' in page and 'class="top-bar"' in page and 'class="button primary"' in page
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    client.login(username="alice", password=PASSWORD)
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").content.decode()
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)  # type: ignore[attr-defined]
