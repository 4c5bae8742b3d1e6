"""Who writes a run's record: the kernel host alone. Whoever asks for a run journals it before the ack and sends
it; the host records it (queued) as soon as it reads it, its kernel up or still starting."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from channels.db import database_sync_to_async

from kernels import liveness, messages
from kernels.models import Execution, KernelSession
from kernels.runbook import FINAL_STATES, RunRecord
from kernels.services import HOST_DIED, HOST_LOST, KERNEL_DIED, do_record_runs, stop
from notebooks.running import submit_run
from notebooks.services import check_update_source, do_create_notebook
from tests.conftest import _test_database_env
from tests.kernels.artifacts import write_wheel
from tests.kernels.test_environments import _config, _import_and_run_all, _ipynb
from tests.live import NotebookClient
from tests.support import start_kernel_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]

# Longer than the channel layer used to keep a message (60 s), within how long a kernel may wait for a free host.
WAIT_FOR_HOST_S = 65


@pytest.fixture
def no_kernel_worker(django_db_setup, tmp_path: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """No worker takes kernels until the test starts one of its own (the session's shared worker, if an earlier
    test started it, stops taking kernels meanwhile)."""
    from quire.celery import app

    shared = [f"celery@{socket.gethostname()}"]
    app.control.cancel_consumer("kernels", destination=shared, reply=True, timeout=2)
    yield
    app.control.add_consumer("kernels", destination=shared, reply=True, timeout=2)
    for process in psutil.process_iter(["cmdline"]):
        if str(tmp_path) in " ".join(process.info["cmdline"] or []):
            process.kill()


async def _until(check, *, timeout: float, what: str):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.1)):
        found = await database_sync_to_async(check)()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_run_that_starts_a_kernel_is_journaled_by_its_caller_and_recorded_by_its_host(  # type: ignore[no-untyped-def]
    alice, alice_token, no_kernel_worker, tmp_path: Path, file_sources: Path
) -> None:
    def notebook_with_a_cell() -> tuple[int, str]:
        notebook = do_create_notebook(alice, title="One writer")
        cell = notebook.cells[0]["id"]
        check_update_source(alice, notebook.pk, cell_id=cell, source="print('recorded by its host')")
        return notebook.pk, cell

    notebook_id, cell = await database_sync_to_async(notebook_with_a_cell)()
    queued = await submit_run(alice, notebook_id, scope="cell", cell_id=cell)
    [exec_id] = [str(e) for e in queued.execution_ids]
    session = await database_sync_to_async(KernelSession.objects.get)(notebook_id=notebook_id)
    assert session.state == "starting"

    # Acked: journaled for the session's host, which nobody hosts yet; no row is written by the caller.
    journal = await asyncio.to_thread(liveness.journaled_runs, session.channel)
    assert set(journal) == {exec_id}
    assert journal[exec_id]["cell_id"] == cell and journal[exec_id]["user_id"] == alice.pk
    await asyncio.sleep(1)
    assert not await database_sync_to_async(Execution.objects.filter(pk=exec_id).exists)()
    # A page that loads meanwhile shows the run queued, as it would its row.
    page = NotebookClient(notebook_id, token=alice_token)
    snapshot = await page.connect()
    await page.close()
    [shown] = [c for c in snapshot["notebook"]["cells"] if c["id"] == cell]
    assert (shown["state"], shown["outputs"]) == ("queued", [])

    # A worker comes, later than a minute (every kernel process was busy, say, which may last up to
    # START_TIMEOUT): its host records the run and runs it, and drops the journal entry once the end is stored.
    await asyncio.sleep(WAIT_FOR_HOST_S)
    worker = await asyncio.to_thread(start_kernel_worker, "onewriter", env=_test_database_env(file_sources),
                                     log_dir=tmp_path)
    try:
        done = await _until(lambda: Execution.objects.filter(pk=exec_id, state="done").first(), timeout=90,
                            what="the run to be recorded and done")
        assert done.user_id == alice.pk and done.session_id == session.pk
        assert done.outputs == [{"output_type": "stream", "name": "stdout", "text": "recorded by its host\n"}]
        assert await asyncio.to_thread(liveness.journaled_runs, session.channel) == {}
        assert await database_sync_to_async(stop)(notebook_id)
        await _until(lambda: KernelSession.objects.filter(pk=session.pk, state="stopped").exists(), timeout=30,
                     what="the kernel to stop")
    finally:
        await asyncio.to_thread(worker.stop)


@pytest.fixture
def no_builds(django_db_setup) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """No worker builds environments: a notebook's kernel waits for its build as long as the test wants."""
    from quire.celery import app

    maintenance = [f"celery-maintenance@{socket.gethostname()}"]
    app.control.cancel_consumer("builds", destination=maintenance, reply=True, timeout=2)
    yield
    app.control.add_consumer("builds", destination=maintenance, reply=True, timeout=2)


@pytest.fixture
def wheel_index(settings, file_sources: Path) -> Path:  # type: ignore[no-untyped-def]
    """A local index in a folder allowed for file:// sources (tests/kernels/test_environments.py)."""
    settings.QUIRE_FILE_REPOSITORY_ROOTS = (file_sources,)
    return file_sources / uuid.uuid4().hex[:12] / "wheels"


async def test_runs_on_a_kernel_waiting_for_its_environment_are_recorded_and_end_when_its_host_dies(  # type: ignore[no-untyped-def]
    alice, alice_token, no_kernel_worker, no_builds, wheel_index: Path, tmp_path: Path, file_sources: Path,
) -> None:
    worker = await asyncio.to_thread(start_kernel_worker, "onewriter", env=_test_database_env(file_sources),
                                     log_dir=tmp_path)
    try:
        version = f"7.{uuid.uuid4().int % 10**6}"
        write_wheel(wheel_index, "quire_demo", version, "GREETING = 'never'\n")
        data = _ipynb(_config(wheel_index, f"quire_demo=={version}"), "import quire_demo", "print('nor this')")
        notebook, client = await _import_and_run_all(alice, alice_token, data)
        acked = {str(e["execution_ids"][i]): cell for e in client.seen if e.get("type") == "ack"
                 for i, cell in enumerate(e["queued"])}
        assert len(acked) == 2
        session = await database_sync_to_async(KernelSession.objects.get)(notebook_id=notebook.pk)
        # Journaled before the ack, by whoever acked them.
        journal = await asyncio.to_thread(liveness.journaled_runs, session.channel)
        assert set(journal) >= set(acked)

        # The host takes the session and, while its kernel waits for the build, records the runs as queued: a
        # page that reloads shows them so, and the task list names them with the build.
        waiting = await client.until(lambda e: e["type"] == "tasks" and e.get("building"), timeout=60)
        assert waiting["queue"] == list(acked.values())
        rows = await _until(lambda: list(Execution.objects.filter(pk__in=list(acked), state="queued")) if
                            Execution.objects.filter(pk__in=list(acked), state="queued").count() == 2 else None,
                            timeout=10, what="the host to record the waiting runs")
        assert {str(r.pk) for r in rows} == set(acked)
        session = await database_sync_to_async(KernelSession.objects.get)(pk=session.pk)
        assert session.state == "starting" and session.host
        reloaded = NotebookClient(notebook.pk, token=alice_token)
        snapshot = await reloaded.connect()
        await reloaded.close()
        shown = {c["id"]: c["state"] for c in snapshot["notebook"]["cells"]}
        assert [shown[cell] for cell in acked.values()] == ["queued", "queued"]

        # Its host dies while it waits: every acked run ends, saying so, live and in the database.
        os.kill(int(session.host.rsplit(":", 1)[1]), signal.SIGKILL)
        dead = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "dead", timeout=30)
        assert dead["reason"] == HOST_DIED
        for cell in acked.values():
            ended = await client.until(lambda e, cell=cell: e["type"] == "cell_status" and e["cell_id"] == cell
                                       and e["state"] in FINAL_STATES, timeout=30)
            assert ended["state"] == "interrupted"
            assert ended["outputs"][-1]["ename"] == HOST_LOST, ended
        await client.close()
        rows = await database_sync_to_async(lambda: list(Execution.objects.filter(pk__in=list(acked))))()
        assert {r.state for r in rows} == {"interrupted"}
        assert await asyncio.to_thread(liveness.journaled_runs, session.channel) == {}
    finally:
        await asyncio.to_thread(worker.stop)


def test_a_run_that_reaches_its_host_after_its_session_ended_is_written_ended(alice) -> None:  # type: ignore[no-untyped-def]
    """Shut down while its kernel started: the end ended the runs it knew of (rows and journal); one the host
    read later is written ended too, and one the end wrote already is left as that end left it."""
    notebook = do_create_notebook(alice, title="Ended")
    cell = notebook.cells[0]["id"]
    session = KernelSession.objects.create(notebook=notebook, started_by=alice, channel="kernel.ended-test",
                                           state="stopped", reason="shut down")
    ended_before = Execution.objects.create(notebook=notebook, session=session, cell_id=cell, user=alice,
                                            language="python", source="1", state="error")
    late = RunRecord(exec_id=str(uuid.uuid4()), cell_id=cell, new=True, user_id=alice.pk, language="python",
                     source="2")
    again = RunRecord(exec_id=str(ended_before.pk), cell_id=cell, new=True, user_id=alice.pk, language="python",
                      source="1")
    announce = do_record_runs(session.pk, notebook.pk, [late, again])

    row = Execution.objects.get(pk=late.exec_id)
    assert (row.state, row.user_id, row.session_id) == ("interrupted", alice.pk, session.pk)
    assert row.outputs == [{"output_type": "error", "ename": KERNEL_DIED, "evalue": "shut down", "traceback": []}]
    [status] = announce
    assert isinstance(status, messages.CellStatus) and status.state == "interrupted" and status.outputs == row.outputs
    ended_before.refresh_from_db()
    assert ended_before.state == "error"


async def test_a_kernel_that_does_not_start_ends_the_runs_that_waited_for_it_with_why(  # type: ignore[no-untyped-def]
    alice, alice_token, celery_worker
) -> None:
    from quire.quotas.models import Quota

    # Too little memory for Python to start in its sandbox.
    await database_sync_to_async(Quota.objects.create)(scope="user", user=alice, memory_mb=8)
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Never up")
    cell = notebook.cells[0]["id"]
    await database_sync_to_async(check_update_source)(alice, notebook.pk, cell_id=cell, source="print('never')")
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    ack = await client.reply(await client.send("run_cell", cell_id=cell))
    [exec_id] = ack["execution_ids"]
    dead = await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "dead", timeout=90)
    assert dead["reason"] == "the kernel did not start"
    ended = await client.until(lambda e: e["type"] == "cell_status" and e["cell_id"] == cell
                               and e["state"] in FINAL_STATES, timeout=30)
    assert ended["state"] == "interrupted"
    assert ended["outputs"][-1]["evalue"] == "the kernel did not start", ended
    await client.close()
    row = await database_sync_to_async(Execution.objects.get)(pk=exec_id)
    assert (row.state, row.user_id) == ("interrupted", alice.pk)
