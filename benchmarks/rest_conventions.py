"""How many of issue 19's 45 REST-convention cases the API keeps: error bodies of one shape, paths without their
trailing slash, Location on 201s, bounded pages, the OpenAPI schema and an offline /api/docs/.

Runs Django's test client against a database of its own (`test_<DATABASE_URL's name>_restbench`, made and dropped
here; needs PostgreSQL and Redis as `env.sh` names them; the cache in Redis is cleared, for the rate counters).
`--root` measures another checkout of the project (benchmarks/_checkout.py), e.g. an older commit unpacked with
`git archive <commit> | tar -x -C /tmp/before`, with this venv's packages:

    .venv/bin/python benchmarks/rest_conventions.py [--root /tmp/before]
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _checkout import main as checkout_main

Check = Callable[[], bool]


def _json(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def shaped(response: Any, status: int) -> bool:
    """The status, as JSON with a string `code` and a string `detail`."""
    body = _json(response)
    return (response.status_code == status and response.get("Content-Type", "").startswith("application/json")
            and isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(body.get("detail"), str))


def cases(root: Path) -> list[tuple[str, Check]]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory, override_settings
    from django.urls import get_resolver
    from rest_framework.test import APIClient

    from quire.config import Rate

    users = {name: get_user_model().objects.create_user(name, password="pw-" + uuid.uuid4().hex)
             for name in ("owner", "viewer", "stranger", "limited")}

    def client(name: str | None) -> APIClient:
        made = APIClient()
        if name is not None:
            made.force_login(users[name])
        return made

    owner, viewer, stranger, anonymous = client("owner"), client("viewer"), client("stranger"), client(None)
    created = owner.post("/api/notebooks/", {"title": "Conventions"}, format="json")
    nb = _json(created)["id"]
    owner.post(f"/api/notebooks/{nb}/grants/", {"user": "viewer", "role": "viewer"}, format="json")
    one = f"/api/notebooks/{nb}/"
    ipynb = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "a1", "metadata": {}, "source": "1", "outputs": [], "execution_count": None}]})

    def schema() -> dict[str, Any]:
        return _json(owner.get("/api/schema/?format=json")) or {}

    def error_responses_documented() -> bool:
        document = schema()
        responses = document.get("paths", {}).get("/api/notebooks/{notebook_id}/", {}).get("get", {}).get("responses", {})
        return {"401", "403", "404"} <= responses.keys() and "Error" in document.get("components", {}).get("schemas", {})

    def bearer_documented() -> bool:
        schemes = schema().get("components", {}).get("securitySchemes", {})
        return any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())

    def docs_page() -> str:
        page = owner.get("/api/docs/")
        return page.content.decode() if page.status_code == 200 else ""

    def docs_offline() -> bool:
        html = docs_page().lower()
        return "swagger" in html and not any(cdn in html for cdn in ("cdn", "unpkg", "jsdelivr", "https://"))

    def docs_assets_served() -> bool:
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', docs_page())
        scripts = [a for a in assets if a.endswith(".js") and not a.startswith("/api/docs/")]
        return bool(scripts) and all(owner.get(a).status_code == 200 for a in assets if "swagger" in a)

    def rate_limited() -> Any:
        limited = client("limited")
        with override_settings(QUIRE_RATE_LIMITS={**settings.QUIRE_RATE_LIMITS, "api_user": Rate(2, 60)}):
            for _ in range(3):
                response = limited.get("/api/notebooks/")
        return response

    def server_error(path: str) -> Any:
        handler = get_resolver().resolve_error_handler(500)
        return handler(RequestFactory().get(path))

    def paged(path: str) -> bool:
        body = _json(owner.get(path))
        return isinstance(body, dict) and isinstance(body.get("results"), list) and isinstance(body.get("count"), int)

    def clamped() -> bool:
        body = _json(owner.get("/api/notebooks/?limit=100000&offset=1")) or {}
        previous = str(body.get("previous") or "") if isinstance(body, dict) else ""
        return bool(previous) and "limit=100000" not in previous

    def located(response: Any, pattern: str) -> bool:
        return response.status_code == 201 and re.search(pattern, response.get("Location", "")) is not None

    return [
        ("401 GET /api/notebooks/ anonymous", lambda: shaped(anonymous.get("/api/notebooks/"), 401)),
        ("401 GET /api/notebooks/<id>/ anonymous", lambda: shaped(anonymous.get(one), 401)),
        ("401 GET /api/teams/ anonymous", lambda: shaped(anonymous.get("/api/teams/"), 401)),
        ("401 GET /api/tokens/ anonymous", lambda: shaped(anonymous.get("/api/tokens/"), 401)),
        ("401 GET /api/me/ anonymous", lambda: shaped(anonymous.get("/api/me/"), 401)),
        ("401 an unknown Bearer token", lambda: shaped(
            APIClient().get("/api/notebooks/", HTTP_AUTHORIZATION="Bearer not-a-token"), 401)),
        ("403 viewer PATCH notebook", lambda: shaped(viewer.patch(one, {"title": "x"}, format="json"), 403)),
        ("403 viewer DELETE notebook", lambda: shaped(viewer.delete(one), 403)),
        ("403 viewer POST version", lambda: shaped(viewer.post(one + "versions/", {"message": "m"}, format="json"), 403)),
        ("403 viewer POST grant", lambda: shaped(
            viewer.post(one + "grants/", {"user": "stranger", "role": "viewer"}, format="json"), 403)),
        ("403 viewer GET audit", lambda: shaped(viewer.get(one + "audit/"), 403)),
        ("404 unknown notebook", lambda: shaped(owner.get("/api/notebooks/999999/"), 404)),
        ("404 a stranger's view of a private notebook", lambda: shaped(stranger.get(one), 404)),
        ("404 unknown /api/ path", lambda: shaped(owner.get("/api/no-such-thing/"), 404)),
        ("404 unknown team", lambda: shaped(owner.get("/api/teams/no-such-team/"), 404)),
        ("404 unknown version", lambda: shaped(owner.get(one + "versions/999/"), 404)),
        ("404 unknown run", lambda: shaped(owner.get(f"/api/runs/{uuid.uuid4()}/"), 404)),
        ("405 DELETE /api/notebooks/import/", lambda: shaped(owner.delete("/api/notebooks/import/"), 405)),
        ("405 PUT /api/me/", lambda: shaped(owner.put("/api/me/", {}, format="json"), 405)),
        ("405 DELETE the notebook list", lambda: shaped(owner.delete("/api/notebooks/"), 405)),
        ("405 POST a diff", lambda: shaped(owner.post(one + "diff/", {}, format="json"), 405)),
        ("405 names what is allowed (Allow)", lambda: "POST" in owner.delete("/api/notebooks/import/").get("Allow", "")),
        ("415 POST notebook as text/csv", lambda: shaped(
            owner.post("/api/notebooks/", "title=x", content_type="text/csv"), 415)),
        ("415 PATCH notebook as text/plain", lambda: shaped(owner.patch(one, "title", content_type="text/plain"), 415)),
        ("415 POST team as text/xml", lambda: shaped(owner.post("/api/teams/", "<t/>", content_type="text/xml"), 415)),
        ("429 past the caller's rate", lambda: shaped(rate_limited(), 429)),
        ("429 says when to retry (Retry-After)", lambda: rate_limited().get("Retry-After", "").isdigit()),
        ("500 under /api/ is JSON", lambda: shaped(server_error("/api/notebooks/"), 500)),
        ("400 names the field", lambda: (lambda r: r.status_code == 400 and (_json(r) or {}).get("field") == "title"
                                         and shaped(r, 400))(owner.post("/api/notebooks/", {"title": 5 * [1]}, format="json"))),
        ("POST /api/notebooks without the slash creates", lambda: owner.post(
            "/api/notebooks", {"title": "No slash"}, format="json").status_code == 201),
        ("GET /api/notebooks without the slash lists", lambda: owner.get("/api/notebooks").status_code == 200),
        ("GET /api/teams without the slash lists", lambda: owner.get("/api/teams").status_code == 200),
        ("POST /api/teams without the slash creates", lambda: owner.post(
            "/api/teams", {"name": "Slashless"}, format="json").status_code == 201),
        ("201 notebook has Location", lambda: located(
            owner.post("/api/notebooks/", {"title": "L"}, format="json"), r"/api/notebooks/\d+/$")),
        ("201 import has Location", lambda: located(
            owner.post("/api/notebooks/import/", ipynb, content_type="application/json"), r"/api/notebooks/\d+/$")),
        ("201 version has Location", lambda: located(
            owner.post(one + "versions/", {"message": "v"}, format="json"), rf"/api/notebooks/{nb}/versions/\d+/$")),
        ("201 team has Location", lambda: located(
            owner.post("/api/teams/", {"name": "Located"}, format="json"), r"/api/teams/[\w-]+/$")),
        ("201 token has Location", lambda: located(
            owner.post("/api/tokens/", {"name": "ci"}, format="json"), r"/api/tokens/\d+/$")),
        ("the notebook list answers a page", lambda: paged("/api/notebooks/")),
        ("the other lists answer pages", lambda: all(
            paged(p) for p in ("/api/tokens/", "/api/teams/", one + "versions/", one + "grants/", one + "forks/"))),
        ("a larger limit is lowered", clamped),
        ("the schema documents Bearer tokens", bearer_documented),
        ("the schema documents error responses", error_responses_documented),
        ("/api/docs/ loads nothing from a CDN", docs_offline),
        ("/api/docs/ assets are served here", docs_assets_served),
    ]


def run(root: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    database: dict[str, Any] = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_restbench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    cache.clear()
    try:
        kept = 0
        listed = cases(root)
        assert len(listed) == 45
        for name, check in listed:
            try:
                ok = bool(check())
            except Exception as exc:  # a case that crashes the client is a case not kept
                ok = False
                name += f" ({type(exc).__name__}: {str(exc)[:80]})"
            kept += ok
            print(f"{'kept' if ok else 'NOT ':5} {name}")
        print(f"\n{len(listed)} REST-convention cases: {kept} kept ({root})")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    checkout_main(__file__, __doc__.splitlines()[0], run)
