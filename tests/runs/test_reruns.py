"""Re-running a version in a fresh sandboxed kernel, and the reproducibility report that names each cell's cause.

The versions here are saved as the platform saves them (`do_snapshot_version`, with the outputs the kernel gave
when the notebook was run by hand); the runs go through `do_run`, the Celery task's body, which launches a real
sandboxed kernel.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from kernels import env_services
from notebooks import services as notebook_services
from notebooks import versioning
from notebooks.roles import Role
from quire.quotas.models import Quota
from runs import services
from runs.execution import do_run
from runs.models import Run
from tests.kernels.artifacts import write_wheel
from tests.notebooks.conftest import client_for

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="make test installs bubblewrap")]


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    path = tmp_path / "shared-data"
    path.mkdir()
    return path


@pytest.fixture
def platform_dirs(settings, file_sources: Path, tmp_path: Path, data_root: Path) -> None:  # type: ignore[no-untyped-def]
    """A var folder of this test's own, the tests' file:// sources allowed, and a shared data folder."""
    settings.QUIRE_FILE_REPOSITORY_ROOTS = (file_sources,)
    settings.QUIRE_VAR_DIR = tmp_path / "var"
    settings.QUIRE_DATA_ROOTS = (data_root,)
    settings.QUIRE_KERNEL_SANDBOX = "bwrap"


def _cell(cell_id: str, source: str, *outputs: dict[str, Any], tags: list[str] | None = None) -> dict[str, Any]:
    return {"id": cell_id, "language": "python", "source": source, "metadata": {"tags": tags or []},
            "outputs": list(outputs)}


def _stdout(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _version(owner, cells: list[dict[str, Any]], config: dict[str, Any] | None = None) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A notebook whose environments are built, and a version of it saved with `cells` (as its kernel left them)."""
    config = config or {}
    notebook = notebook_services.do_create_notebook(owner, title="Rerun", cells=[
        {k: v for k, v in c.items() if k != "outputs"} for c in cells], config=config)
    for env in env_services.do_request_builds(notebook.pk, notebook.config):
        assert env_services.do_build(notebook.pk, env.key) == "ready"
    with transaction.atomic():
        locked = notebook_services.locked_notebook(owner, notebook.pk, Role.EDITOR)
        saved = versioning.do_snapshot_version(locked, author=owner, message="ran by hand", cells=cells, config=config)
    return notebook.pk, saved.version.number


def _run(user, notebook_id: int, number: int, **parameters: Any) -> Run:  # type: ignore[no-untyped-def]
    run = services.check_start_run(user, notebook_id, number, parameters=parameters or None)
    assert do_run(str(run.pk)) in ("done", "failed")
    run.refresh_from_db()
    return run


def _by_cell(run: Run) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in run.report["cells"]}


def test_the_report_names_data_randomness_and_environment_on_the_right_cells(  # type: ignore[no-untyped-def]
    platform_dirs, file_sources, data_root, olga
) -> None:
    index = file_sources / f"rerun-{uuid.uuid4().hex[:8]}"
    write_wheel(index, "quire_demo", "1.0", "GREETING = 'hello from the first build'\n")
    (data_root / "input.txt").write_text("alpha\n")
    config = {"dependencies": {"python": ["quire_demo==1.0"]}, "repositories": [{"pip": {"url": index.as_uri()}}]}
    notebook_id, number = _version(olga, [
        _cell("read", f"print(open({str(data_root / 'input.txt')!r}).read().strip())", _stdout("alpha\n")),
        _cell("draw", "import random\nprint(random.random())", _stdout("0.8444218515250481\n")),
        _cell("greet", "import quire_demo\nprint(quire_demo.GREETING)", _stdout("hello from the first build\n")),
        _cell("seeded", "random.seed(7)\nprint(random.random())", _stdout("0.32383276483316237\n")),
        _cell("stamp", "import datetime\nprint('at', datetime.datetime(2026, 1, 2, 3, 4, 5).isoformat(), object())",
              _stdout("at 2026-01-02T03:04:05 <object object at 0x7f3a2b1c0e50>\n")),
    ], config)

    first = _run(olga, notebook_id, number)
    assert first.state == "done", first.reason
    assert [c["state"] for c in first.cells] == ["done"] * 5
    # The audit hook saw the data file read, and nothing of the interpreter's own.
    assert list(first.cells[0]["files"]) == [str(data_root / "input.txt")]
    assert len(first.cells[0]["files"][str(data_root / "input.txt")]) == 64
    cells = _by_cell(first)
    assert cells["read"]["status"] == "reproduced" and cells["greet"]["status"] == "reproduced"
    # A memory address differs from run to run and is not a difference.
    assert cells["stamp"]["status"] == "reproduced"
    assert cells["draw"]["status"] == "differs"
    assert cells["draw"]["likely_cause"] == "nondeterminism"
    assert "unseeded randomness" in cells["draw"]["causes"][0]["detail"]
    assert any(line.startswith("-[stdout] 0.8444") for line in cells["draw"]["diff"])
    # Randomness with a seed reproduces.
    assert cells["seeded"]["status"] == "reproduced"
    assert first.report["summary"] == {"reproduced": 4, "differs": 1, "failed": 0}

    # The data file changes; the index serves another build of the same version, and the environment is built
    # again (a new worker, an emptied cache).
    (data_root / "input.txt").write_text("beta\n")
    write_wheel(index, "quire_demo", "1.0", "GREETING = 'hello from the second build'\n")
    shutil.rmtree(env_services.env_root())

    second = _run(olga, notebook_id, number)
    cells = _by_cell(second)
    assert cells["read"]["status"] == "differs" and cells["read"]["likely_cause"] == "data"
    assert "input.txt changed" in cells["read"]["causes"][0]["detail"]
    assert cells["draw"]["likely_cause"] == "nondeterminism"
    assert cells["greet"]["status"] == "differs" and cells["greet"]["likely_cause"] == "environment"
    assert "quire-demo 1.0 (sha256" in cells["greet"]["causes"][0]["detail"]
    assert cells["stamp"]["status"] == "reproduced"
    assert any(c["section"] == "python" and c["name"] == "quire-demo" for c in second.report["lock_changes"])


def test_parameters_and_a_failing_cell(platform_dirs, olga) -> None:  # type: ignore[no-untyped-def]
    notebook_id, number = _version(olga, [
        _cell("params", "n = 1", tags=["parameters"]),
        _cell("double", "print(n * 2)", _stdout("2\n")),
        _cell("boom", "1 / 0"),
        _cell("never", "print('never')", _stdout("never\n")),
    ])
    run = _run(olga, notebook_id, number, n=21)
    assert run.state == "failed" and run.reason == "a cell failed"
    assert [c["id"] for c in run.cells][:2] == ["params", "injected-parameters"]
    cells = _by_cell(run)
    assert "injected-parameters" not in cells
    assert cells["double"]["status"] == "differs" and cells["double"]["diff"][-1] == "+[stdout] 42"
    assert cells["boom"]["status"] == "failed" and "+[error] ZeroDivisionError: division by zero" in cells["boom"]["diff"]
    assert cells["never"]["status"] == "failed" and cells["never"]["causes"][0]["kind"] == "upstream"
    assert run.duration_s is not None and run.requested_by == olga


def test_who_may_rerun_read_and_cancel(shared_notebook, olga, viewer_vic, runner_rita, stranger_sam) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/notebooks/{shared_notebook.pk}/versions/1/runs/"
    assert client_for(viewer_vic).post(url, {}, format="json").status_code == 403
    assert client_for(stranger_sam).post(url, {}, format="json").status_code == 404
    bad = client_for(runner_rita).post(url, {"parameters": {"not an identifier": 1}}, format="json")
    assert bad.status_code == 400 and "identifier" in bad.content.decode()
    started = client_for(runner_rita).post(url, {"parameters": ["n=3"]}, format="json")
    assert started.status_code == 201, started.content
    run = started.json()
    assert run["state"] == "queued" and run["parameters"] == {"n": 3} and run["requested_by"] == "rita"
    listed = client_for(viewer_vic).get(f"/api/notebooks/{shared_notebook.pk}/runs/").json()["results"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert client_for(runner_rita).get("/api/runs/").json()["results"][0]["id"] == run["id"]
    assert client_for(viewer_vic).get("/api/runs/").json()["results"] == []
    assert client_for(stranger_sam).get(f"/api/runs/{run['id']}/").status_code == 404
    # A reader who did not ask for it cannot cancel it; its owner can, and a queued run ends at once.
    assert client_for(viewer_vic).post(f"/api/runs/{run['id']}/cancel/").status_code == 404
    cancelled = client_for(runner_rita).post(f"/api/runs/{run['id']}/cancel/")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    assert client_for(runner_rita).post(f"/api/runs/{run['id']}/cancel/").status_code == 409
    # The worker that picks it up later leaves it as it is.
    assert do_run(run["id"]) == "cancelled"


def test_the_command_line_reruns_and_prints_the_report(platform_dirs, olga, capsys) -> None:  # type: ignore[no-untyped-def]
    notebook_id, number = _version(olga, [
        _cell("params", "x = 1", tags=["parameters"]),
        _cell("same", "print(1)", _stdout("1\n")),
        _cell("other", "print(x)", _stdout("1\n")),
    ])
    with pytest.raises(SystemExit) as exit_info:
        call_command("run_version", str(notebook_id), str(number), "--user", "olga", "-p", "x=5")
    assert exit_info.value.code == 4
    out = capsys.readouterr().out
    assert "same: reproduced" in out and "other: differs" in out and "+[stdout] 5" in out
    assert "2 reproduced, 1 differs, 0 failed in" in out
    assert Run.objects.get(notebook_id=notebook_id).requested_by == olga


def test_the_command_line_refuses_who_may_not_run(platform_dirs, olga, stranger_sam) -> None:  # type: ignore[no-untyped-def]
    notebook_id, number = _version(olga, [_cell("same", "print(1)", _stdout("1\n"))])
    with pytest.raises(CommandError, match="no such notebook"):
        call_command("run_version", str(notebook_id), str(number), "--user", "sam")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("run_version", str(notebook_id), str(number), "--user", "nobody")


def test_a_rerun_installs_the_versions_its_lock_recorded(platform_dirs, file_sources, olga) -> None:  # type: ignore[no-untyped-def]
    index = file_sources / f"rerun-{uuid.uuid4().hex[:8]}"
    write_wheel(index, "quire_demo", "1.0", "GREETING = 'one'\n")
    config = {"dependencies": {"python": ["quire_demo"]}, "repositories": [{"pip": {"url": index.as_uri()}}]}
    notebook_id, number = _version(olga, [_cell("greet", "import quire_demo\nprint(quire_demo.GREETING)", _stdout("one\n"))],
                                   config)
    # A newer release on the index: the notebook asks for any version, its lock says 1.0.
    write_wheel(index, "quire_demo", "2.0", "GREETING = 'two'\n")
    shutil.rmtree(env_services.env_root())  # a worker that never built it
    run = _run(olga, notebook_id, number)
    assert run.state == "done", run.reason
    assert _by_cell(run)["greet"]["status"] == "reproduced"
    assert run.lock["python"]["from_lock"] is True
    assert [p["version"] for p in run.lock["python"]["packages"] if p["name"] == "quire-demo"] == ["1.0"]


def test_unfinished_runs_count_against_the_kernel_quota(shared_notebook, runner_rita) -> None:  # type: ignore[no-untyped-def]
    Quota.objects.create(scope=Quota.Scope.USER, user=runner_rita, max_kernels=1)
    url = f"/api/notebooks/{shared_notebook.pk}/versions/1/runs/"
    client = client_for(runner_rita)
    first = client.post(url, {}, format="json")
    assert first.status_code == 201
    refused = client.post(url, {}, format="json")
    assert refused.status_code == 429
    assert "allows 1 running kernel and you have 0 kernels and 1 unfinished run" in refused.json()["detail"]
    client.post(f"/api/runs/{first.json()['id']}/cancel/")
    assert client.post(url, {}, format="json").status_code == 201


def test_a_failed_scheduled_run_is_kept_on_its_job(platform_dirs, olga) -> None:  # type: ignore[no-untyped-def]
    from runs.jobs import check_create_job, do_fire_due_jobs

    notebook_id, _ = _version(olga, [_cell("boom", "raise RuntimeError('no data today')")])
    job = check_create_job(olga, notebook_id, cron="0 6 * * *")
    assert do_fire_due_jobs(job.next_run_at) == 1
    run = Run.objects.get(job=job)
    assert do_run(str(run.pk)) == "failed"
    job.refresh_from_db()
    assert job.last_error == "the scheduled run of version 1 failed: a cell failed"


def test_a_cell_that_holds_the_interpreter_past_its_limit_is_stopped(platform_dirs, olga) -> None:  # type: ignore[no-untyped-def]
    Quota.objects.create(scope=Quota.Scope.USER, user=olga, cell_time_limit_s=1)
    # sum() over a range runs in C without letting go of the interpreter lock: the kernel's own watchdog starves.
    notebook_id, number = _version(olga, [_cell("hog", "sum(range(10**13))"), _cell("after", "print(1)")])
    run = _run(olga, notebook_id, number)
    assert run.state == "failed"
    assert run.reason == ("cell hog ran past its 1 s time limit and did not stop when interrupted; "
                          "its kernel was killed")


def test_a_run_whose_worker_went_silent_is_failed_saying_so(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from runs.execution import do_reap_lost_runs

    lost = services.check_start_run(olga, shared_notebook.pk, 1)
    Run.objects.filter(pk=lost.pk).update(state="running", heartbeat_at=timezone.now() - timedelta(seconds=60))
    busy = Run.objects.create(notebook=shared_notebook, version=lost.version, requested_by=olga, state="running",
                              heartbeat_at=timezone.now())
    assert do_reap_lost_runs() == 1
    lost.refresh_from_db()
    busy.refresh_from_db()
    assert lost.state == "failed" and lost.reason == "its worker stopped: no sign of it for 30 s"
    assert lost.finished_at is not None and lost.report["summary"] == {"reproduced": 0, "differs": 0, "failed": 0}
    assert busy.state == "running"


def test_a_spark_setting_changed_by_the_quota_is_named_as_the_cause(platform_dirs, olga) -> None:  # type: ignore[no-untyped-def]
    Quota.objects.create(scope=Quota.Scope.USER, user=olga, spark_cores=2, memory_mb=4096)
    notebook_id, number = _version(olga, [
        _cell("master", "print(spark.conf.get('spark.master'))", _stdout("local[2]\n")),
        _cell("plain", "print(6 * 7)", _stdout("42\n")),
    ], {"sparkConfig": {"spark.master": "local[4]"}})
    Quota.objects.filter(user=olga).update(spark_cores=1)
    run = _run(olga, notebook_id, number)
    assert run.state == "done", run.reason
    cells = _by_cell(run)
    assert cells["master"]["status"] == "differs" and cells["master"]["likely_cause"] == "config"
    assert "spark spark.master: local[2] → local[1]" in cells["master"]["causes"][0]["detail"]
    assert cells["plain"]["status"] == "reproduced"
