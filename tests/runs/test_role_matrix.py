"""Every runs endpoint and method, for every kind of caller, with the exact status each one gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runs import jobs, services
from tests.notebooks.conftest import client_for
from tests.notebooks.test_role_matrix import FIXTURES, PERSONAS

pytestmark = pytest.mark.django_db

# endpoint: (method, path, body, statuses in PERSONAS order)
#                                                     anon strgr view  run   edit  own   membr tadm  site
MATRIX: dict[str, tuple[str, str, Any, tuple[int, ...]]] = {
    "lock":        ("get", "{nb}versions/1/lock/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "lock_diff":   ("get", "{nb}lock-diff/?from=1&to=1", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "rerun":       ("post", "{nb}versions/1/runs/", {}, (401, 404, 403, 201, 201, 201, 201, 201, 201)),
    "runs":        ("get", "{nb}runs/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "jobs":        ("get", "{nb}jobs/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    "schedule":    ("post", "{nb}jobs/", {"cron": "0 6 * * *"}, (401, 404, 403, 403, 201, 201, 201, 201, 201)),
    "run":         ("get", "/api/runs/{run}/", None, (401, 404, 200, 200, 200, 200, 200, 200, 200)),
    # Who asked for it (olga, the owner), the notebook's owners (a team admin is one) and site admins.
    "cancel":      ("post", "/api/runs/{run}/cancel/", None, (401, 404, 404, 404, 404, 202, 404, 202, 202)),
    "pause_job":   ("patch", "/api/jobs/{job}/", {"enabled": False}, (401, 404, 404, 404, 200, 200, 200, 200, 200)),
    "delete_job":  ("delete", "/api/jobs/{job}/", None, (401, 404, 404, 404, 204, 204, 204, 204, 204)),
    "my_runs":     ("get", "/api/runs/", None, (401, 200, 200, 200, 200, 200, 200, 200, 200)),
    "my_jobs":     ("get", "/api/jobs/", None, (401, 200, 200, 200, 200, 200, 200, 200, 200)),
}

CASES = [
    pytest.param(persona, endpoint, statuses[index], id=f"{endpoint}-{persona}")
    for endpoint, (_, _, _, statuses) in MATRIX.items()
    for index, persona in enumerate(PERSONAS)
]


@pytest.mark.parametrize(("persona", "endpoint", "expected"), CASES)
def test_runs_role_matrix(request, shared_notebook, olga, persona: str, endpoint: str, expected: int) -> None:  # type: ignore[no-untyped-def]
    user = request.getfixturevalue(FIXTURES[persona]) if persona in FIXTURES else None
    method, path, body, _ = MATRIX[endpoint]
    run = services.check_start_run(olga, shared_notebook.pk, 1)
    job = jobs.check_create_job(olga, shared_notebook.pk, cron="0 6 * * *")
    url = path.format(nb=f"/api/notebooks/{shared_notebook.pk}/", run=run.pk, job=job.pk)
    response = getattr(client_for(user), method)(url, data=json.dumps(body) if body is not None else None,
                                                 content_type="application/json")
    assert response.status_code == expected, response.content[:300]
    if expected == 404:
        assert response.json()["code"] == "not_found"


def test_the_matrix_covers_every_route() -> None:
    from runs.api_urls import urlpatterns

    covered = {path.split("?")[0].replace("{nb}", "notebooks/<int:notebook_id>/").replace("/api/", "")
               .replace("{run}", "<uuid:run_id>").replace("{job}", "<int:job_id>").replace("/1/", "/<int:number>/")
               for _, path, _, _ in MATRIX.values()}
    assert {str(p.pattern) for p in urlpatterns} <= covered
