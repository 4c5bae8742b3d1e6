"""REST conventions every /api/ route keeps: JSON errors of one shape, Location on 201, bounded pages, the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from notebooks.limits import MAX_PAGE_SIZE
from tests.notebooks.conftest import DATA, client_for

pytestmark = pytest.mark.django_db


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body.get("code"), str) and isinstance(body.get("detail"), str), body
    return dict(body)


def test_401_404_405_415_are_json_of_one_shape(carol) -> None:  # type: ignore[no-untyped-def]
    _error(APIClient().get("/api/notebooks/"), 401)
    client = client_for(carol)
    _error(client.get("/api/notebooks/999999/"), 404)
    _error(client.get("/api/no-such-thing/"), 404)
    wrong = _error(client.delete("/api/notebooks/import/"), 405)
    assert wrong["code"] == "method_not_allowed"
    assert "POST" in client.delete("/api/notebooks/import/")["Allow"]
    _error(client.post("/api/notebooks/", "title=x", content_type="text/csv"), 415)


def test_post_without_the_trailing_slash_creates_the_notebook(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    response = client.post("/api/notebooks", {"title": "No slash"}, format="json")
    assert response.status_code == 201, response.content[:300]
    assert response.json()["title"] == "No slash"


def test_every_201_carries_location(carol, shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    created = client.post("/api/notebooks/", {"title": "Here"}, format="json")
    assert created.status_code == 201
    assert created["Location"].endswith(f"/api/notebooks/{created.json()['id']}/")
    assert client.get(created["Location"]).status_code == 200
    imported = client.post("/api/notebooks/import/", (DATA / "jupyter.ipynb").read_bytes(),
                           content_type="application/json")
    assert imported.status_code == 201
    assert imported["Location"].endswith(f"/api/notebooks/{imported.json()['id']}/")
    owner = client_for(olga)
    version = owner.post(f"/api/notebooks/{shared_notebook.pk}/versions/", {"message": "m"}, format="json")
    assert version.status_code == 201, version.content
    assert version["Location"].endswith(f"/api/notebooks/{shared_notebook.pk}/versions/{version.json()['number']}/")
    assert owner.get(version["Location"]).status_code == 200
    team = client.post("/api/teams/", {"name": "Data Science"}, format="json")
    assert team.status_code == 201 and team["Location"].endswith(f"/api/teams/{team.json()['slug']}/")
    assert client.get(team["Location"]).status_code == 200
    token = client.post("/api/tokens/", {"name": "ci"}, format="json")
    assert token.status_code == 201 and token["Location"].endswith(f"/api/tokens/{token.json()['id']}/")


def test_lists_are_paginated_with_a_bounded_page(carol) -> None:  # type: ignore[no-untyped-def]
    client = client_for(carol)
    for index in range(3):
        client.post("/api/notebooks/", {"title": f"n{index}"}, format="json")
    page = client.get("/api/notebooks/?limit=2").json()
    assert len(page["results"]) == 2 and page["count"] == 3 and page["next"]
    huge = client.get(f"/api/notebooks/?limit={MAX_PAGE_SIZE * 10}")
    assert huge.status_code == 200


# Every list the API answers: each must come as a page.
LISTS = {
    "/api/notebooks/", "/api/notebooks/{notebook_id}/versions/", "/api/notebooks/{notebook_id}/forks/",
    "/api/notebooks/{notebook_id}/grants/", "/api/notebooks/{notebook_id}/audit/", "/api/tokens/", "/api/teams/",
    "/api/quotas/", "/api/kernels/", "/api/runs/", "/api/notebooks/{notebook_id}/runs/", "/api/jobs/",
    "/api/notebooks/{notebook_id}/jobs/",
}


def test_every_list_endpoint_answers_a_bounded_page(superuser_sue) -> None:  # type: ignore[no-untyped-def]
    client = client_for(superuser_sue)
    notebook = client.post("/api/notebooks/", {"title": "Paged"}, format="json").json()["id"]
    client.post(f"/api/notebooks/{notebook}/versions/", {"message": "v1"}, format="json")
    client.post("/api/tokens/", {"name": "ci"}, format="json")
    client.post("/api/teams/", {"name": "Paging"}, format="json")
    document = json.loads(client.get("/api/schema/?format=json").content)
    paged = set()
    for template, operations in document["paths"].items():
        if "get" not in operations or "{" in template.replace("{notebook_id}", ""):
            continue
        path = template.replace("{notebook_id}", str(notebook))
        response = client.get(path)
        if response.status_code != 200 or not response["Content-Type"].startswith("application/json"):
            continue
        body = response.json()
        assert not isinstance(body, list), f"{template} answers a bare list"
        if "results" not in body:
            continue
        paged.add(template)
        assert isinstance(body["count"], int) and isinstance(body["results"], list), (template, body)
        assert {"next", "previous"} <= body.keys(), (template, body)
        # The link back from offset 1 carries the limit the page used: the maximum, not the one asked for.
        clamped = client.get(f"{path}?limit={MAX_PAGE_SIZE * 10}&offset=1")
        assert clamped.status_code == 200, (template, clamped.content[:200])
        assert f"limit={MAX_PAGE_SIZE}" in clamped.json()["previous"], (template, clamped.json()["previous"])
        assert len(clamped.json()["results"]) <= MAX_PAGE_SIZE
    assert paged >= LISTS, sorted(LISTS - paged)


def test_the_schema_documents_bearer_tokens_and_error_bodies(carol) -> None:  # type: ignore[no-untyped-def]
    schema = client_for(carol).get("/api/schema/?format=json")
    assert schema.status_code == 200, schema.content[:200]
    document = json.loads(schema.content)
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values()), schemes
    notebook = document["paths"]["/api/notebooks/{notebook_id}/"]["get"]["responses"]
    for status in ("401", "403", "404"):
        assert status in notebook, sorted(notebook)
    assert "Error" in document["components"]["schemas"]


def test_the_docs_page_loads_its_assets_from_this_server(carol) -> None:  # type: ignore[no-untyped-def]
    page = client_for(carol).get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower() and "unpkg" not in html.lower()
