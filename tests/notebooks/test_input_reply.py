"""A cell's input() answered from the page: `input_reply` reaches the kernel's host with who answered, for runners
only, and within its size limit."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from kernels.liveness import Lease
from kernels.models import KernelSession
from notebooks import services, sharing
from notebooks.limits import MAX_INPUT_REPLY_CHARS
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def asking_notebook(olga, team_globex, viewer_vic, runner_rita):  # type: ignore[no-untyped-def]
    """A Globex notebook whose cell asks a question: vic views, rita runs."""
    notebook = services.do_create_notebook(olga, title="Ask", team_id=team_globex.pk)
    services.check_update_source(olga, notebook.pk, cell_id=notebook.cells[0]["id"], source='input("Your name? ")')
    for person, role in ((viewer_vic, "viewer"), (runner_rita, "runner")):
        sharing.check_share(olga, notebook.pk, username=person.username, role=role)
    return notebook


@pytest.fixture
def running_kernel(asking_notebook, olga) -> Iterator[KernelSession]:  # type: ignore[no-untyped-def]
    """The notebook's session as a host that is up keeps it: idle, its heartbeat fresh, its lease held."""
    session = KernelSession.objects.create(notebook=asking_notebook, started_by=olga, state=KernelSession.State.IDLE,
                                           channel=f"kernel.{secrets.token_hex(8)}", heartbeat_at=timezone.now())
    lease = Lease(session.channel)
    lease.hold()
    yield session
    lease.release()


async def _replies(channel: str, *, wait: float = 2.0) -> list[dict[str, Any]]:
    """The input replies queued for the host on `channel` (it also gets a `sync` for each page that connects)."""
    layer = get_channel_layer()
    assert layer is not None
    got: list[Any] = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), wait)
        except TimeoutError:
            return [c for c in got if c["type"] == "input_reply"]
        got.append(message["command"])


async def _client(user: Any, notebook_id: int) -> NotebookClient:
    token = (await database_sync_to_async(do_issue_token)(user, name="t")).key
    client = NotebookClient(notebook_id, token=token)
    await client.connect()
    return client


async def test_a_runners_answer_reaches_the_host_with_who_gave_it(  # type: ignore[no-untyped-def]
    asking_notebook, running_kernel, runner_rita
) -> None:
    rita = await _client(runner_rita, asking_notebook.pk)
    exec_id = str(uuid.uuid4())
    ack = await rita.reply(await rita.send("input_reply", cell_id=asking_notebook.cells[0]["id"], exec_id=exec_id,
                                           value="Rita"))
    assert ack["type"] == "ack" and ack["sent"] is True
    assert await _replies(running_kernel.channel) == [
        {"type": "input_reply", "exec_id": exec_id, "value": "Rita", "user_id": runner_rita.pk}
    ]
    await rita.close()


async def test_a_viewers_answer_is_refused(asking_notebook, running_kernel, viewer_vic) -> None:  # type: ignore[no-untyped-def]
    vic = await _client(viewer_vic, asking_notebook.pk)
    reply = await vic.reply(await vic.send("input_reply", cell_id=asking_notebook.cells[0]["id"],
                                           exec_id=str(uuid.uuid4()), value="Vic"))
    assert reply["type"] == "error" and reply["code"] == "forbidden"
    assert await _replies(running_kernel.channel) == []
    await vic.close()


async def test_an_oversize_or_malformed_answer_is_refused(  # type: ignore[no-untyped-def]
    asking_notebook, running_kernel, runner_rita
) -> None:
    rita = await _client(runner_rita, asking_notebook.pk)
    cell = asking_notebook.cells[0]["id"]
    exec_id = str(uuid.uuid4())
    too_long = await rita.reply(await rita.send("input_reply", cell_id=cell, exec_id=exec_id,
                                                value="x" * (MAX_INPUT_REPLY_CHARS + 1)))
    assert too_long["type"] == "error" and too_long["field"] == "value"
    assert str(MAX_INPUT_REPLY_CHARS) in too_long["message"]
    for fields, field in (({"exec_id": "not an id", "value": "a"}, "exec_id"),
                          ({"exec_id": exec_id, "value": 7}, "value"),
                          ({"exec_id": exec_id, "value": "a\ud800"}, "value")):
        refused = await rita.reply(await rita.send("input_reply", cell_id=cell, **fields))
        assert refused["type"] == "error" and refused["field"] == field, (fields, refused)
    # The longest answer allowed goes through.
    ack = await rita.reply(await rita.send("input_reply", cell_id=cell, exec_id=exec_id,
                                           value="x" * MAX_INPUT_REPLY_CHARS))
    assert ack["type"] == "ack" and ack["sent"] is True
    assert [len(r["value"]) for r in await _replies(running_kernel.channel)] == [MAX_INPUT_REPLY_CHARS]
    await rita.close()


async def test_an_answer_with_no_kernel_running_says_it_was_not_sent(asking_notebook, runner_rita) -> None:  # type: ignore[no-untyped-def]
    rita = await _client(runner_rita, asking_notebook.pk)
    ack = await rita.reply(await rita.send("input_reply", cell_id=asking_notebook.cells[0]["id"],
                                           exec_id=str(uuid.uuid4()), value="Rita"))
    assert ack["type"] == "ack" and ack["sent"] is False
    await rita.close()
