"""Re-runs through the real path: REST, the Celery worker's kernels queue, a sandboxed kernel; and cancelling one."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from notebooks import services as notebook_services
from notebooks import versioning
from notebooks.roles import Role
from tests.notebooks.conftest import client_for
from tests.support import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


def _version(owner, *cells: tuple[str, str, str]) -> int:  # type: ignore[no-untyped-def]
    """A notebook and a version of it saved with the outputs its kernel gave: (id, source, stdout)."""
    notebook = notebook_services.do_create_notebook(
        owner, title="Live rerun", cells=[{"id": i, "language": "python", "source": s, "metadata": {}} for i, s, _ in cells])
    saved = [{"id": i, "language": "python", "source": s, "metadata": {},
              "outputs": [{"output_type": "stream", "name": "stdout", "text": out}] if out else []} for i, s, out in cells]
    with transaction.atomic():
        locked = notebook_services.locked_notebook(owner, notebook.pk, Role.EDITOR)
        versioning.do_snapshot_version(locked, author=owner, message="by hand", cells=saved, config={})
    return notebook.pk


def _run(client, run_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/runs/{run_id}/")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_a_rerun_asked_over_rest_runs_on_the_worker(alice, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook_id = _version(alice, ("a", "x = 20", ""), ("b", "print(x + n)", "22\n"))
    client = client_for(alice)
    started = client.post(f"/api/notebooks/{notebook_id}/versions/1/runs/", {"parameters": {"n": 2}}, format="json")
    assert started.status_code == 201, started.content
    run_id = started.json()["id"]
    wait_until(lambda: _run(client, run_id)["state"] not in ("queued", "running"), timeout=120,
               what="the run to end")
    run = _run(client, run_id)
    assert run["state"] == "done", (run["reason"], celery_worker.output())
    assert run["report"]["summary"] == {"reproduced": 2, "differs": 0, "failed": 0}
    assert run["lock"]["platform"]["python"] and run["duration_s"] > 0
    assert [r["id"] for r in client.get(f"/api/notebooks/{notebook_id}/runs/").json()["results"]] == [run_id]
    assert run["cells"][-1]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "22\n"}]
    light = client.get(f"/api/runs/{run_id}/?outputs=0").json()
    assert "outputs" not in light["cells"][-1] and light["report"] == run["report"]


def test_cancelling_a_running_rerun_interrupts_its_cell(alice, celery_worker) -> None:  # type: ignore[no-untyped-def]
    notebook_id = _version(alice, ("wait", "import time\nprint('started', flush=True)\ntime.sleep(600)", "started\n"),
                           ("after", "print('after')", "after\n"))
    client = client_for(alice)
    run_id = client.post(f"/api/notebooks/{notebook_id}/versions/1/runs/", {}, format="json").json()["id"]
    wait_until(lambda: _run(client, run_id)["state"] == "running" and _run(client, run_id)["lock"] != {},
               timeout=120, what="the run to start")
    assert client.post(f"/api/runs/{run_id}/cancel/").status_code == 202
    wait_until(lambda: _run(client, run_id)["state"] == "cancelled", timeout=60, what="the run to be cancelled")
    run = _run(client, run_id)
    assert run["reason"] == "cancelled by its owner" and run["finished_at"]


def test_a_one_minute_job_fires_from_beat_and_leaves_a_run_record(alice, celery_worker) -> None:  # type: ignore[no-untyped-def]
    from runs.jobs import check_create_job
    from runs.models import Run

    notebook_id = _version(alice, ("hello", "print('scheduled')", "scheduled\n"))
    job = check_create_job(alice, notebook_id, cron="* * * * *")
    # Beat's round comes every 10 s; the cron's next minute is at most 60 s away.
    wait_until(lambda: Run.objects.filter(job=job).exists(), timeout=100, what="beat to fire the job")
    run = Run.objects.get(job=job)
    assert run.requested_by == alice and run.version.number == 1
    wait_until(lambda: Run.objects.get(pk=run.pk).state not in ("queued", "running"), timeout=120,
               what="the scheduled run to end")
    run.refresh_from_db()
    assert run.state == "done", (run.reason, celery_worker.output())
    assert run.report["summary"]["reproduced"] == 1
