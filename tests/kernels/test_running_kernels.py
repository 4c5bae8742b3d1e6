"""The running-kernels panel's REST endpoints: each person sees and stops their own kernels; site admins, anyone's."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from kernels.models import KernelSession
from notebooks.services import do_create_notebook
from quire.quotas.models import Quota

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def _kernel(user, title: str, *, state: str = "idle", host: str = "worker:4242") -> KernelSession:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(user, title=title)
    return KernelSession.objects.create(notebook=notebook, started_by=user, state=state, host=host,
                                        channel=f"kernel.test-{title.lower().replace(' ', '-')}",
                                        rss_bytes=50_000_000, cpu_seconds=1.5)


def test_each_person_lists_their_own_running_kernels(alice, bob) -> None:  # type: ignore[no-untyped-def]
    Quota.objects.create(scope="user", user=alice, max_kernels=3)
    mine = _kernel(alice, "Churn")
    _kernel(bob, "Bob's")
    ended = _kernel(alice, "Old")
    KernelSession.objects.filter(pk=ended.pk).update(state="stopped")

    listing = _client(alice).get("/api/kernels/")
    assert listing.status_code == 200
    body = listing.json()
    assert body["max_kernels"] == 3
    [row] = body["results"]
    assert row["id"] == str(mine.pk)
    assert row["notebook_id"] == mine.notebook_id and row["notebook_title"] == "Churn"
    assert row["state"] == "idle" and row["started_by"] == "alice"
    assert row["memory_bytes"] == 50_000_000 and row["cpu_seconds"] == 1.5
    assert row["started_at"]


def test_everyone_s_kernels_are_for_site_admins_only(alice, bob, site_admin) -> None:  # type: ignore[no-untyped-def]
    _kernel(alice, "Churn")
    _kernel(bob, "Bob's")
    assert _client(alice).get("/api/kernels/?all=1").status_code == 403
    every = _client(site_admin).get("/api/kernels/?all=1").json()["results"]
    assert sorted(row["started_by"] for row in every) == ["alice", "bob"]
    assert APIClient().get("/api/kernels/").status_code in (401, 403)


def test_shutting_down_a_hosted_kernel_asks_its_host(alice, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    session = _kernel(alice, "Churn")
    with django_capture_on_commit_callbacks(execute=True):
        stopped = _client(alice).post(f"/api/kernels/{session.pk}/shutdown/")
    assert stopped.status_code == 202
    layer = get_channel_layer()
    assert layer is not None
    message = async_to_sync(layer.receive)(session.channel)
    assert message["command"] == {"type": "shutdown"}


def test_a_kernel_waiting_for_a_host_stops_at_once(alice, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    session = _kernel(alice, "Waiting", state="starting", host="")
    with django_capture_on_commit_callbacks(execute=True):
        assert _client(alice).post(f"/api/kernels/{session.pk}/shutdown/").status_code == 202
    session.refresh_from_db()
    assert session.state == "stopped" and session.reason == "shut down"
    assert _client(alice).get("/api/kernels/").json()["results"] == []


def test_another_person_s_kernel_cannot_be_stopped_but_by_a_site_admin(alice, bob, site_admin) -> None:  # type: ignore[no-untyped-def]
    session = _kernel(alice, "Churn", state="starting", host="")
    assert _client(bob).post(f"/api/kernels/{session.pk}/shutdown/").status_code == 404
    session.refresh_from_db()
    assert session.state == "starting"
    assert _client(site_admin).post(f"/api/kernels/{session.pk}/shutdown/").status_code == 202
    session.refresh_from_db()
    assert session.state == "stopped"


def test_the_openapi_schema_lists_the_kernel_endpoints(alice) -> None:  # type: ignore[no-untyped-def]
    import yaml

    paths = yaml.safe_load(_client(alice).get("/api/schema/").content)["paths"]
    assert "get" in paths["/api/kernels/"]
    assert "post" in paths["/api/kernels/{session_id}/shutdown/"]
