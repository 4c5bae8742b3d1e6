"""Every notebook endpoint and method, for every kind of caller, with the exact status each one gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from notebooks.models import Grant, Notebook
from tests.notebooks.conftest import client_for

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "stranger", "viewer", "runner", "editor", "owner", "team_member", "team_admin", "site_admin")
FIXTURES = {
    "stranger": "stranger_sam", "viewer": "viewer_vic", "runner": "runner_rita", "editor": "editor_ed",
    "owner": "olga", "team_member": "member_mo", "team_admin": "admin_ada", "site_admin": "superuser_sue",
}
SMALL_IPYNB = {"cells": [{"cell_type": "code", "source": "1", "metadata": {}, "outputs": []}], "metadata": {},
               "nbformat": 4, "nbformat_minor": 5}

# endpoint: (method, path, body, statuses in PERSONAS order)
#                                                     anon strgr view  run   edit  own   membr tadm  site
MATRIX: dict[str, tuple[str, str, Any, tuple[int, ...]]] = {
    "list":           ("get", "/api/notebooks/", None, (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    "create":         ("post", "/api/notebooks/", {"title": "New"}, (401, 201, 201, 201, 201, 201, 201, 201, 201)),
    "import":         ("post", "/api/notebooks/import/", SMALL_IPYNB, (401, 201, 201, 201, 201, 201, 201, 201, 201)),
    "detail":         ("get", "{nb}", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "rename":         ("patch", "{nb}", {"title": "Renamed"}, (401, 404, 403, 403, 403, 200, 403, 200, 200)),
    "delete":         ("delete", "{nb}", None, (401, 404, 403, 403, 403, 204, 403, 204, 204)),
    "draft":          ("put", "{nb}draft/", "DRAFT", (401, 404, 403, 403, 200, 200, 200, 200, 200)),
    "clear_outputs":  ("post", "{nb}outputs/clear/", {}, (401, 404, 403, 403, 200, 200, 200, 200, 200)),
    "output_page":    ("get", "{nb}cells/{cell}/outputs/0/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "versions":       ("get", "{nb}versions/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "save_version":   ("post", "{nb}versions/", {"message": "m"}, (401, 404, 403, 403, 201, 201, 201, 201, 201)),
    "version":        ("get", "{nb}versions/1/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "diff":           ("get", "{nb}diff/?from=1&to=draft", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "restore":        ("post", "{nb}versions/1/restore/", None, (401, 404, 403, 403, 200, 200, 200, 200, 200)),
    "fork":           ("post", "{nb}versions/1/fork/", {}, (401, 404, 201, 201, 201, 201, 201, 201, 201)),
    "forks":          ("get", "{nb}forks/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "export":         ("get", "{nb}export/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "grants":         ("get", "{nb}grants/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "share":          ("post", "{nb}grants/", {"user": "carol", "role": "viewer"},
                       (401, 404, 403, 403, 403, 201, 403, 201, 201)),
    "change_role":    ("patch", "{nb}grants/{grant}/", {"role": "editor"}, (401, 404, 403, 403, 403, 200, 403, 200, 200)),
    "unshare":        ("delete", "{nb}grants/{grant}/", None, (401, 404, 403, 403, 403, 204, 403, 204, 204)),
    "audit":          ("get", "{nb}audit/", None, (401, 404, 403, 403, 403, 200, 403, 200, 200)),
    "config":         ("get", "{nb}config/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "set_config":     ("put", "{nb}config/", {"config": {"env": {"GREETING": "hi"}}},
                       (401, 404, 403, 403, 200, 200, 200, 200, 200)),
    "rebuild":        ("post", "{nb}config/rebuild/", None, (401, 404, 403, 403, 202, 202, 202, 202, 202)),
}

CASES = [
    pytest.param(persona, endpoint, statuses[index], id=f"{endpoint}-{persona}")
    for endpoint, (_, _, _, statuses) in MATRIX.items()
    for index, persona in enumerate(PERSONAS)
]


@pytest.mark.parametrize(("persona", "endpoint", "expected"), CASES)
def test_role_matrix(request, shared_notebook, carol, persona: str, endpoint: str, expected: int) -> None:  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(FIXTURES[persona]) if persona in FIXTURES else None
    method, path, body, _ = MATRIX[endpoint]
    grant = Grant.objects.get(notebook=shared_notebook, user__username="vic")
    cell = shared_notebook.cells[0]
    if endpoint == "output_page":
        # An output stored with the cell, as an import or a fork leaves one.
        shared_notebook.cells = [{**cell, "outputs": [{"output_type": "stream", "name": "stdout", "text": "2\n"}],
                                  "outputs_at": "2026-01-01T00:00:00+00:00"}, *shared_notebook.cells[1:]]
        shared_notebook.save(update_fields=["cells"])
    url = path.format(nb=f"/api/notebooks/{shared_notebook.pk}/", grant=grant.pk, cell=cell["id"])
    if body == "DRAFT":
        body = {"revision": shared_notebook.revision, "cells": [{"language": "python", "source": "y = 1"}], "config": {}}
    client = client_for(user)
    response = getattr(client, method)(url, data=json.dumps(body) if body is not None else None,
                                       content_type="application/json")
    assert response.status_code == expected, response.content[:300]
    if expected == 404:
        assert response.json()["code"] == "not_found"  # the same answer as for a notebook that does not exist


def test_the_matrix_covers_every_route() -> None:
    from notebooks.api_urls import urlpatterns

    covered = {path.split("?")[0].replace("{nb}", "").replace("{grant}", "<int:grant_id>")
               .replace("{cell}", "<str:cell_id>").replace("outputs/0/", "outputs/<int:n>/")
               .replace("1/", "<int:number>/") for _, path, _, _ in MATRIX.values()}
    routes = {str(p.pattern).removeprefix("notebooks/<int:notebook_id>/") for p in urlpatterns}
    assert {r for r in routes if not r.startswith("notebooks/")} <= covered | {""}
    assert len(MATRIX) >= 20


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [("viewer", False), ("runner", True), ("editor", True), ("owner", True), ("team_member", True),
     ("team_admin", True), ("site_admin", True)],
)
def test_running_a_cell_needs_the_runner_role(request, shared_notebook, persona: str, allowed: bool) -> None:  # type: ignore[no-untyped-def]
    """Cells run over the WebSocket, through the kernel service, which asks for the runner role."""
    from notebooks.running import check_run_cell
    from quire.lib.errors import Forbidden

    user = request.getfixturevalue(FIXTURES[persona])
    cell_id = shared_notebook.cells[0]["id"]
    if allowed:
        queued = check_run_cell(user, shared_notebook.pk, cell_id=cell_id)
        # For the host to record under this person's name (it is the only writer of runs).
        [command] = queued.commands
        assert command["cell_id"] == cell_id and command["record"] == {"user_id": user.pk}
    else:
        with pytest.raises(Forbidden):
            check_run_cell(user, shared_notebook.pk, cell_id=cell_id)


def test_a_deleted_notebook_is_gone_for_everyone(shared_notebook, olga, superuser_sue) -> None:  # type: ignore[no-untyped-def]
    assert client_for(olga).delete(f"/api/notebooks/{shared_notebook.pk}/").status_code == 204
    for user in (olga, superuser_sue):
        assert client_for(user).get(f"/api/notebooks/{shared_notebook.pk}/").status_code == 404
        assert shared_notebook.pk not in [n["id"] for n in client_for(user).get("/api/notebooks/").json()["results"]]
    assert Notebook.objects.get(pk=shared_notebook.pk).versions.count() == 1


def test_the_openapi_schema_lists_every_notebook_endpoint(olga) -> None:  # type: ignore[no-untyped-def]
    import yaml

    schema = yaml.safe_load(client_for(olga).get("/api/schema/").content)
    paths = schema["paths"]
    for _, path, _, _ in MATRIX.values():
        route = (path.split("?")[0].replace("{nb}", "/api/notebooks/{notebook_id}/")
                 .replace("{grant}", "{grant_id}").replace("{cell}", "{cell_id}").replace("/0/", "/{n}/")
                 .replace("/1/", "/{number}/"))
        assert route in paths, route
    assert set(paths["/api/notebooks/{notebook_id}/"]) >= {"get", "patch", "delete"}
