"""The notebook REST API: create, list, read and rename, each checking the caller's role."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from notebooks.services import do_create_notebook

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def test_create_list_and_open(alice, bob) -> None:  # type: ignore[no-untyped-def]
    created = _client(alice).post("/api/notebooks/", {"title": "Churn model"}, format="json")
    assert created.status_code == 201
    notebook_id = created.json()["id"]
    listing = _client(alice).get("/api/notebooks/").json()
    assert [n["title"] for n in listing["results"]] == ["Churn model"]
    assert _client(bob).get("/api/notebooks/").json()["results"] == []

    detail = _client(alice).get(f"/api/notebooks/{notebook_id}/").json()
    assert detail["role"] == "owner"
    [cell] = detail["cells"]
    assert cell["language"] == "python" and cell["outputs"] == []
    assert _client(bob).get(f"/api/notebooks/{notebook_id}/").status_code == 404


def test_search_by_title(alice) -> None:  # type: ignore[no-untyped-def]
    for title in ("Sales 2025", "Sales 2026", "Churn"):
        do_create_notebook(alice, title=title)
    results = _client(alice).get("/api/notebooks/?q=sales").json()["results"]
    assert sorted(n["title"] for n in results) == ["Sales 2025", "Sales 2026"]


def test_bad_input_names_the_field(alice) -> None:  # type: ignore[no-untyped-def]
    response = _client(alice).post("/api/notebooks/", {"title": "   "}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "title"
    assert _client(alice).post("/api/notebooks/", "not json", content_type="application/json").status_code == 400


def test_team_notebooks(alice, bob, team_acme) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    created = _client(bob).post("/api/notebooks/", {"title": "Team work", "team": team_acme.pk}, format="json")
    assert created.status_code == 201
    notebook_id = created.json()["id"]
    assert _client(alice).get(f"/api/notebooks/{notebook_id}/").json()["role"] == "owner"  # team admin
    eve = get_user_model().objects.create_user(username="eve", password="x")
    refused = _client(eve).post("/api/notebooks/", {"title": "x", "team": team_acme.pk}, format="json")
    assert refused.status_code == 403


def test_rename_needs_owner(alice, bob, team_acme) -> None:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Old", team_id=team_acme.pk)
    assert _client(bob).patch(f"/api/notebooks/{notebook.pk}/", {"title": "New"}, format="json").status_code == 403
    assert _client(alice).patch(f"/api/notebooks/{notebook.pk}/", {"title": "New"}, format="json").json()["title"] == "New"


def test_anonymous_gets_nothing(alice) -> None:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Private")
    assert APIClient().get("/api/notebooks/").status_code in (401, 403)
    assert APIClient().get(f"/api/notebooks/{notebook.pk}/").status_code in (401, 403)
    assert Client().get(f"/notebooks/{notebook.pk}/").status_code == 302


def test_notebook_page_hides_other_peoples_notebooks(alice, bob) -> None:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Private")
    client = Client()
    client.force_login(bob)
    assert client.get(f"/notebooks/{notebook.pk}/").status_code == 404
    client.force_login(alice)
    page = client.get(f"/notebooks/{notebook.pk}/")
    assert page.status_code == 200 and b'data-page="notebook"' in page.content


def test_openapi_schema(alice) -> None:  # type: ignore[no-untyped-def]
    response = _client(alice).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/notebooks/" in response.content
