"""Jobs: a version re-run on a cron schedule, managed by editors and owners, fired by beat's round as its owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quire.quotas.models import Quota
from runs import jobs
from runs.models import Job, Run
from tests.notebooks.conftest import client_for

pytestmark = pytest.mark.django_db


def test_editors_schedule_a_version_and_readers_see_it(shared_notebook, editor_ed, runner_rita, viewer_vic) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/notebooks/{shared_notebook.pk}/jobs/"
    body = {"cron": "*/5 * * * *", "version": 1, "parameters": {"n": 2}}
    assert client_for(viewer_vic).post(url, body, format="json").status_code == 403
    assert client_for(runner_rita).post(url, body, format="json").status_code == 403
    created = client_for(editor_ed).post(url, body, format="json")
    assert created.status_code == 201, created.content
    job = created.json()
    assert job["cron"] == "*/5 * * * *" and job["version"] == 1 and job["owner"] == "ed" and job["enabled"]
    next_run = datetime.fromisoformat(job["next_run_at"])
    assert next_run.minute % 5 == 0 and next_run.second == 0 and next_run > datetime.now(UTC)
    assert [j["id"] for j in client_for(viewer_vic).get(url).json()["results"]] == [job["id"]]
    assert [j["id"] for j in client_for(editor_ed).get("/api/jobs/").json()["results"]] == [job["id"]]
    assert client_for(viewer_vic).get("/api/jobs/").json()["results"] == []
    assert client_for(viewer_vic).patch(f"/api/jobs/{job['id']}/", {"enabled": False}, format="json").status_code == 404


@pytest.mark.parametrize("cron", ["", "* * * *", "61 * * * *", "* * * * * *", "every minute please"])
def test_a_schedule_that_is_not_cron_is_refused(shared_notebook, olga_client, cron) -> None:  # type: ignore[no-untyped-def]
    response = olga_client.post(f"/api/notebooks/{shared_notebook.pk}/jobs/", {"cron": cron}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "cron", response.content


def test_site_admins_see_every_job(shared_notebook, olga, superuser_sue, editor_ed) -> None:  # type: ignore[no-untyped-def]
    job = jobs.check_create_job(olga, shared_notebook.pk, cron="0 3 * * *")
    assert [j["id"] for j in client_for(superuser_sue).get("/api/jobs/?all=1").json()["results"]] == [job.pk]
    assert client_for(editor_ed).get("/api/jobs/?all=1").json()["results"] == []


def test_a_due_job_starts_one_run_as_its_owner_and_moves_on(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    job = jobs.check_create_job(olga, shared_notebook.pk, cron="* * * * *", parameters={"n": 3})
    due = job.next_run_at + timedelta(seconds=5)
    assert jobs.do_fire_due_jobs(job.next_run_at - timedelta(seconds=30)) == 0
    assert jobs.do_fire_due_jobs(due) == 1
    run = Run.objects.get(job=job)
    assert run.requested_by == olga and run.parameters == {"n": 3} and run.state == "queued"
    # The latest version: the job names none.
    assert run.version_id == shared_notebook.head_version_id
    job.refresh_from_db()
    assert job.last_run_id == run.pk and job.next_run_at > due and job.last_error == ""
    # Fired once per time, however often beat comes round.
    assert jobs.do_fire_due_jobs(due) == 0


def test_a_job_that_cannot_start_says_why(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    Quota.objects.create(scope=Quota.Scope.USER, user=olga, max_kernels=0)
    job = jobs.check_create_job(olga, shared_notebook.pk, cron="* * * * *")
    assert jobs.do_fire_due_jobs(job.next_run_at) == 0
    job.refresh_from_db()
    assert "did not start: your quota allows 0 running kernels" in job.last_error
    assert not Run.objects.filter(job=job).exists()


def test_disabling_stops_firing_and_owners_delete(shared_notebook, olga_client, olga) -> None:  # type: ignore[no-untyped-def]
    job = jobs.check_create_job(olga, shared_notebook.pk, cron="* * * * *")
    assert olga_client.patch(f"/api/jobs/{job.pk}/", {"enabled": False}, format="json").json()["enabled"] is False
    assert jobs.do_fire_due_jobs(job.next_run_at + timedelta(minutes=5)) == 0
    assert olga_client.delete(f"/api/jobs/{job.pk}/").status_code == 204
    assert not Job.objects.filter(pk=job.pk).exists()
