"""Sharing: grants to users and teams, the highest role winning, filtered lists, the audit log, soft delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notebooks import services
from notebooks.models import AuditEntry, Grant, Notebook, NotebookVersion
from notebooks.roles import Role, role_for
from notebooks.services import do_create_notebook
from tests.notebooks.conftest import client_for

pytestmark = pytest.mark.django_db


def test_owner_shares_with_a_user_changes_the_role_and_unshares(shared_notebook, olga, carol) -> None:  # type: ignore[no-untyped-def]
    owner, url = client_for(olga), f"/api/notebooks/{shared_notebook.pk}/grants/"
    assert client_for(carol).get(f"/api/notebooks/{shared_notebook.pk}/").status_code == 404
    created = owner.post(url, {"user": "carol", "role": "viewer"}, format="json")
    assert created.status_code == 201
    grant = created.json()
    assert (grant["user"], grant["team"], grant["role"]) == ("carol", None, "viewer")
    assert client_for(carol).get(f"/api/notebooks/{shared_notebook.pk}/").json()["role"] == "viewer"

    assert owner.patch(f"{url}{grant['id']}/", {"role": "editor"}, format="json").json()["role"] == "editor"
    assert role_for(carol, shared_notebook) == Role.EDITOR
    assert owner.delete(f"{url}{grant['id']}/").status_code == 204
    assert client_for(carol).get(f"/api/notebooks/{shared_notebook.pk}/").status_code == 404

    audit = owner.get(f"/api/notebooks/{shared_notebook.pk}/audit/").json()["results"]
    assert [(e["action"], e["actor"], e["target"]) for e in audit[:3]] == [
        ("unshared", "olga", "user:carol"), ("role_changed", "olga", "user:carol"), ("shared", "olga", "user:carol"),
    ]
    assert audit[1]["detail"]["from"] == "viewer" and audit[1]["detail"]["to"] == "editor"


def test_sharing_refusals_name_their_field(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    owner, url = client_for(olga), f"/api/notebooks/{shared_notebook.pk}/grants/"
    cases = [
        ({"user": "nobody", "role": "viewer"}, 400, "user"),
        ({"team": "nope", "role": "viewer"}, 400, "team"),
        ({"user": "olga", "role": "viewer"}, 400, "user"),
        ({"user": "vic", "team": "globex", "role": "viewer"}, 400, "user"),
        ({"user": "vic", "role": "boss"}, 400, "role"),
        ({"user": "vic", "role": "editor"}, 409, "user"),
    ]
    for body, status, field in cases:
        response = owner.post(url, body, format="json")
        assert (response.status_code, response.json().get("field")) == (status, field), body
    assert owner.patch(f"{url}999999/", {"role": "viewer"}, format="json").status_code == 404


def test_a_team_grant_reaches_its_members_and_the_highest_role_wins(shared_notebook, olga, carol) -> None:  # type: ignore[no-untyped-def]
    from quire.teams.models import Membership, Team

    initech = Team.objects.create(name="Initech", slug="initech")
    Membership.objects.create(team=initech, user=carol)
    owner = client_for(olga)
    assert owner.post(f"/api/notebooks/{shared_notebook.pk}/grants/", {"team": "initech", "role": "runner"},
                      format="json").status_code == 201
    assert role_for(carol, shared_notebook) == Role.RUNNER
    owner.post(f"/api/notebooks/{shared_notebook.pk}/grants/", {"user": "carol", "role": "viewer"}, format="json")
    assert role_for(carol, shared_notebook) == Role.RUNNER  # her own viewer grant does not lower the team's
    grants = client_for(carol).get(f"/api/notebooks/{shared_notebook.pk}/grants/").json()["results"]
    assert {(g["user"], g["team"], g["role"]) for g in grants} >= {("carol", None, "viewer"), (None, "initech", "runner")}


def test_listing_filters_and_search(shared_notebook, olga, viewer_vic, member_mo, carol) -> None:  # type: ignore[no-untyped-def]
    do_create_notebook(viewer_vic, title="Vic's scratch")
    do_create_notebook(carol, title="Carol's secret")
    vic = client_for(viewer_vic)

    def titles(query: str) -> list[str]:
        return sorted(n["title"] for n in vic.get(f"/api/notebooks/{query}").json()["results"])

    assert titles("") == ["Forecast", "Vic's scratch"]
    assert titles("?filter=mine") == ["Vic's scratch"]
    assert titles("?filter=shared") == ["Forecast"]
    assert titles("?q=fore") == ["Forecast"]
    listing = vic.get("/api/notebooks/?filter=shared").json()
    assert set(listing) == {"count", "next", "previous", "results"}
    assert listing["results"][0]["role"] == "viewer" and listing["results"][0]["team"] == "globex"
    mo = client_for(member_mo)
    assert [n["title"] for n in mo.get("/api/notebooks/?filter=team&team=globex").json()["results"]] == ["Forecast"]
    assert mo.get("/api/notebooks/?filter=team").json()["results"][0]["role"] == "editor"
    bad = vic.get("/api/notebooks/?filter=everything")
    assert bad.status_code == 400 and bad.json()["field"] == "filter"


def test_create_in_a_team_by_slug(olga, team_globex, carol) -> None:  # type: ignore[no-untyped-def]
    created = client_for(olga).post("/api/notebooks/", {"title": "Team plan", "team": "globex"}, format="json")
    assert created.status_code == 201 and created.json()["team"] == "globex" and created.json()["role"] == "owner"
    refused = client_for(carol).post("/api/notebooks/", {"title": "x", "team": "globex"}, format="json")
    assert refused.status_code == 403 and refused.json()["field"] == "team"


def test_listing_costs_the_same_queries_for_many_notebooks(olga, team_globex, viewer_vic) -> None:  # type: ignore[no-untyped-def]
    from notebooks.sharing import check_share

    def queries() -> int:
        client = client_for(viewer_vic)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/notebooks/").status_code == 200
        return len(captured)

    for index in range(3):
        check_share(olga, do_create_notebook(olga, title=f"n{index}", team_id=team_globex.pk).pk,
                    username="vic", role="viewer")
    few = queries()
    for index in range(30):
        check_share(olga, do_create_notebook(olga, title=f"m{index}").pk, username="vic", role="runner")
    assert queries() == few, few


def test_opening_costs_the_same_queries_for_many_cells(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    def queries() -> int:
        client = client_for(olga)
        with CaptureQueriesContext(connection) as captured:
            for path in ("", "versions/", "versions/1/", "grants/", "forks/"):
                assert client.get(f"/api/notebooks/{shared_notebook.pk}/{path}").status_code == 200
        return len(captured)

    few = queries()
    for index in range(40):
        services.check_insert_cell(olga, shared_notebook.pk, index=0, language="python", source=str(index))
    assert queries() == few, few


def test_deleted_notebooks_are_recovered_by_an_admin_and_purged_after_retention(shared_notebook, olga, superuser_sue) -> None:  # type: ignore[no-untyped-def]
    client_for(olga).delete(f"/api/notebooks/{shared_notebook.pk}/")
    deleted = Notebook.objects.get(pk=shared_notebook.pk)
    assert deleted.deleted_at is not None and deleted.deleted_by == olga
    with pytest.raises(services.NotFound):
        services.get_notebook(olga, shared_notebook.pk)

    admin = client_for(superuser_sue)
    page = admin.get("/admin/notebooks/notebook/?deleted=yes")
    assert page.status_code == 200 and b"Forecast" in page.content
    admin.post("/admin/notebooks/notebook/", {"action": "recover", "_selected_action": [shared_notebook.pk]})
    assert client_for(olga).get(f"/api/notebooks/{shared_notebook.pk}/").status_code == 200
    actions = list(AuditEntry.objects.filter(notebook=shared_notebook).values_list("action", flat=True)[:2])
    assert actions == ["recovered", "deleted"]

    services.check_delete_notebook(olga, shared_notebook.pk)
    call_command("purge_deleted_notebooks", days=30)
    assert Notebook.objects.filter(pk=shared_notebook.pk).exists()  # still within the retention period
    Notebook.objects.filter(pk=shared_notebook.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    call_command("purge_deleted_notebooks", days=30)
    assert not Notebook.objects.filter(pk=shared_notebook.pk).exists()
    assert not NotebookVersion.objects.filter(notebook_id=shared_notebook.pk).exists()
    # The audit log outlives the notebook.
    assert AuditEntry.objects.filter(notebook_title="Forecast", action="deleted").count() == 2


def test_the_audit_log_records_forks_restores_and_deletes(shared_notebook, olga, editor_ed, viewer_vic) -> None:  # type: ignore[no-untyped-def]
    client_for(viewer_vic).post(f"/api/notebooks/{shared_notebook.pk}/versions/1/fork/", {}, format="json")
    client_for(editor_ed).post(f"/api/notebooks/{shared_notebook.pk}/versions/1/restore/")
    audit = client_for(olga).get(f"/api/notebooks/{shared_notebook.pk}/audit/").json()["results"]
    assert [(e["action"], e["actor"]) for e in audit[:2]] == [("restored", "ed"), ("forked", "vic")]
    assert audit[0]["target"] == "version:1" and audit[1]["target"].startswith("notebook:")
    assert set(audit[0]) == {"action", "actor", "target", "detail", "created_at"}


def test_guessing_user_names_through_sharing_is_refused(shared_notebook, olga, carol, stranger_sam) -> None:  # type: ignore[no-untyped-def]
    from django.test.utils import override_settings

    from quire.config import Rate

    carol.is_active = False
    carol.save()
    owner, url = client_for(olga), f"/api/notebooks/{shared_notebook.pk}/grants/"
    nobody = owner.post(url, {"user": "nobody", "role": "viewer"}, format="json")
    deactivated = owner.post(url, {"user": "carol", "role": "viewer"}, format="json")
    # A deactivated account answers like a name nobody has (apart from the name echoed back).
    assert (nobody.status_code, deactivated.status_code) == (400, 400)
    assert nobody.json()["detail"].replace("nobody", "X") == deactivated.json()["detail"].replace("carol", "X")

    limits = {**settings.QUIRE_RATE_LIMITS, "share_unknown_grantee": Rate(5, 3600)}
    with override_settings(QUIRE_RATE_LIMITS=limits):
        statuses = [
            owner.post(url, {"user": f"guess-{n}", "role": "viewer"}, format="json").status_code for n in range(3)
        ]
        assert statuses == [400, 400, 400]  # with the two above: five unknown names
        # Now every share by name is refused before any lookup, a real one included: nothing to learn.
        for body in ({"user": "guess-9", "role": "viewer"}, {"user": "sam", "role": "viewer"},
                     {"team": "nope", "role": "viewer"}):
            refused = owner.post(url, body, format="json")
            assert refused.status_code == 429, body
            assert refused.json()["code"] == "rate_limited" and int(refused["Retry-After"]) > 0
        assert not Grant.objects.filter(notebook=shared_notebook, user=stranger_sam).exists()
        # Other owners are not held back by olga's guesses.
        other = do_create_notebook(stranger_sam, title="Sam's")
        assert client_for(stranger_sam).post(
            f"/api/notebooks/{other.pk}/grants/", {"user": "olga", "role": "viewer"}, format="json"
        ).status_code == 201
