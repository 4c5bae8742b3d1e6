"""Host leases and run journals against real Redis and PostgreSQL: a lapsed lease ends the session and every run
it had, with what each printed; a Redis just restarted is not taken for dead hosts; runs journaled after a session
ended are swept."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings

from kernels import liveness
from kernels.models import Execution, KernelSession
from kernels.services import HOST_DIED, HOST_LOST, do_end_lost_host, do_reap_lost_sessions
from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from tests.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _server_info(store: redis.Redis) -> dict[str, Any]:
    return cast(dict[str, Any], store.info("server"))  # redis-py types its sync and asyncio replies as one


@pytest.fixture
def store() -> redis.Redis:
    return redis.Redis.from_url(str(settings.CONFIG.redis_url))


@pytest.fixture
def notebook(alice) -> Notebook:  # type: ignore[no-untyped-def]
    return do_create_notebook(alice, title="Leased")


@pytest.fixture
def hosted(notebook: Notebook, alice, store: redis.Redis) -> Iterator[tuple[KernelSession, liveness.Lease]]:  # type: ignore[no-untyped-def]
    """An idle session whose host holds its lease, on a Redis up for longer than its restart grace."""
    wait_until(lambda: int(_server_info(store)["uptime_in_seconds"]) >= liveness.RESTART_GRACE_S, timeout=10,
               what="Redis to be up past its restart grace")
    session = KernelSession.objects.create(notebook=notebook, started_by=alice, state=KernelSession.State.IDLE,
                                           channel=f"kernel.{secrets.token_hex(8)}")
    lease = liveness.Lease(session.channel)
    lease.hold()
    yield session, lease
    lease.release()


def _journal(channel: str, cell_id: str, user_id: int) -> str:
    exec_id = str(uuid.uuid4())
    run = {"exec_id": exec_id, "cell_id": cell_id, "user_id": user_id, "language": "python", "source": "x = 1"}
    async_to_sync(liveness.journal_runs)(channel, [run])
    return exec_id


def test_a_lapsed_lease_ends_the_session_and_every_run_it_had(alice, notebook, hosted) -> None:  # type: ignore[no-untyped-def]
    session, lease = hosted
    cell = notebook.cells[0]["id"]
    running = Execution.objects.create(notebook=notebook, session=session, cell_id=cell, user=alice,
                                       language="python", source="print('a'); print('b')", state="running")
    async_to_sync(liveness.keep_outputs)([
        (str(running.pk), liveness.STARTED),
        (str(running.pk), {"output_type": "stream", "name": "stdout", "text": "a\n"}),
        (str(running.pk), {"output_type": "stream", "name": "stdout", "text": "b\n"}),
    ])
    acked = _journal(session.channel, cell, alice.pk)

    assert not do_end_lost_host(session.channel, seen=True), "a held lease is a living host"
    lease.release()
    assert do_end_lost_host(session.channel, seen=True)

    session.refresh_from_db()
    assert (session.state, session.reason) == ("dead", HOST_DIED)
    running.refresh_from_db()
    assert running.state == "error"
    assert running.outputs == [
        {"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
        {"output_type": "error", "ename": HOST_LOST, "evalue": f"lost: {HOST_DIED}", "traceback": []},
    ]
    queued = Execution.objects.get(pk=acked)
    assert (queued.state, queued.cell_id, queued.user_id, queued.source) == ("interrupted", cell, alice.pk, "x = 1")
    assert queued.outputs[-1]["ename"] == HOST_LOST
    assert liveness.take_journal(session.channel) == {}
    assert liveness.kept_outputs([str(running.pk)]) == {str(running.pk): (False, [])}


def test_a_session_still_starting_is_not_ended_for_a_lease_never_seen(notebook, hosted) -> None:  # type: ignore[no-untyped-def]
    session, lease = hosted
    KernelSession.objects.filter(pk=session.pk).update(state=KernelSession.State.STARTING)
    lease.release()
    assert not do_end_lost_host(session.channel, seen=False)
    assert KernelSession.objects.get(pk=session.pk).state == "starting"


def test_a_redis_just_restarted_is_not_taken_for_dead_hosts(store: redis.Redis) -> None:
    """Every lease is gone at once from a Redis that restarted: until its hosts had time to renew, none is dead."""
    server = _server_info(store)
    just_up = {**server, "uptime_in_seconds": 0}
    long_up = {**server, "uptime_in_seconds": 3600}
    assert liveness.judge_leases([just_up, 0, 1]) == [True, True]
    assert liveness.judge_leases([long_up, 0, 1]) == [False, True]


def test_the_reaper_ends_runs_journaled_after_their_session_ended(alice, notebook, hosted) -> None:  # type: ignore[no-untyped-def]
    session, _ = hosted
    KernelSession.objects.filter(pk=session.pk).update(state=KernelSession.State.STOPPED, reason="shut down")
    acked = _journal(session.channel, notebook.cells[0]["id"], alice.pk)
    do_reap_lost_sessions()
    run = Execution.objects.get(pk=acked)
    assert run.state == "interrupted"
    assert run.outputs[-1]["evalue"] == "shut down"
    assert session.channel not in liveness.journaled_channels()
