"""A cell that leaves the draft is forgotten by the notebook's kernel: the host gets `forget` once the change is
committed, and a kernel or Redis that is away never fails the change."""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from kernels.liveness import Lease
from kernels.models import KernelSession
from notebooks.models import Notebook
from notebooks.services import check_delete_cell, check_insert_cell, check_replace_draft, do_create_notebook
from notebooks.versioning import check_restore, check_save_version
from tests.notebooks.conftest import client_for
from tests.support import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def four_cells(alice) -> Notebook:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Four")
    for index in range(1, 4):
        check_insert_cell(alice, notebook.pk, index=index, source=f"x{index} = {index}")
    return Notebook.objects.get(pk=notebook.pk)


@pytest.fixture
def running_kernel(four_cells: Notebook, alice) -> Iterator[KernelSession]:  # type: ignore[no-untyped-def]
    """The notebook's session as a host that is up keeps it: idle, its heartbeat fresh, its lease held."""
    session = KernelSession.objects.create(notebook=four_cells, started_by=alice, state=KernelSession.State.IDLE,
                                           channel=f"kernel.{secrets.token_hex(8)}", heartbeat_at=timezone.now())
    lease = Lease(session.channel)
    lease.hold()
    yield session
    lease.release()


def _commands(channel: str, *, wait: float = 2.0) -> list[dict[str, Any]]:
    """Everything queued for the host on `channel`, read until nothing more comes within `wait` seconds."""
    layer = get_channel_layer()
    assert layer is not None

    async def drain() -> list[dict[str, Any]]:
        got: list[Any] = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), wait)
            except TimeoutError:
                return got
            got.append(message["command"])

    return async_to_sync(drain)()


def test_deleting_a_cell_tells_its_kernel_to_forget_it(alice, four_cells, running_kernel) -> None:  # type: ignore[no-untyped-def]
    ids = four_cells.cell_ids()
    gone = ids[1]
    check_delete_cell(alice, four_cells.pk, cell_id=gone)
    assert _commands(running_kernel.channel) == [{"type": "forget", "cell_id": gone, "order": ids}]


def test_a_draft_replacement_forgets_the_cells_it_drops(alice, four_cells, running_kernel) -> None:  # type: ignore[no-untyped-def]
    ids = four_cells.cell_ids()
    kept = [four_cells.cells[0], four_cells.cells[2]]
    response = client_for(alice).put(f"/api/notebooks/{four_cells.pk}/draft/",
                                     {"revision": four_cells.revision, "cells": kept, "config": {}}, format="json")
    assert response.status_code == 200, response.content
    assert _commands(running_kernel.channel) == [
        {"type": "forget", "cell_id": c, "order": ids} for c in sorted([ids[1], ids[3]])
    ]


def test_restoring_a_version_forgets_the_cells_it_does_not_have(alice, four_cells, running_kernel) -> None:  # type: ignore[no-untyped-def]
    saved = check_save_version(alice, four_cells.pk)
    added = check_insert_cell(alice, four_cells.pk, index=4, source="late = 1").result.cell["id"]
    check_restore(alice, four_cells.pk, saved.version.number)
    order = [*four_cells.cell_ids(), added]
    assert _commands(running_kernel.channel) == [{"type": "forget", "cell_id": added, "order": order}]


def test_nothing_is_forgotten_for_a_change_that_rolled_back(alice, four_cells, running_kernel) -> None:  # type: ignore[no-untyped-def]
    stored = Notebook.objects.get(pk=four_cells.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        check_delete_cell(alice, four_cells.pk, cell_id=four_cells.cells[1]["id"])
        check_replace_draft(alice, four_cells.pk, revision=stored.revision + 1, cells=[], config={})
        raise RuntimeError("the caller's transaction fails after the delete")
    assert _commands(running_kernel.channel) == []
    assert Notebook.objects.get(pk=four_cells.pk).cell_ids() == four_cells.cell_ids()


def test_a_delete_is_stored_when_redis_is_away(alice, four_cells, running_kernel, settings, caplog) -> None:  # type: ignore[no-untyped-def]
    """Both layers unreachable (nothing listens on their port): the delete is answered as stored, the lost
    forget logged."""
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [unreachable]}},
        "live": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [unreachable]}},
    }
    gone = four_cells.cells[1]["id"]
    with caplog.at_level(logging.WARNING, logger="kernels.services"):
        change = check_delete_cell(alice, four_cells.pk, cell_id=gone)
    assert gone not in Notebook.objects.get(pk=four_cells.pk).cell_ids()
    assert change.revision == four_cells.revision + 1
    assert any("could not tell its kernel to forget" in r.getMessage() for r in caplog.records), caplog.records


def test_a_delete_without_a_live_kernel_sends_nothing(alice, four_cells, running_kernel) -> None:  # type: ignore[no-untyped-def]
    KernelSession.objects.filter(pk=running_kernel.pk).update(state=KernelSession.State.STOPPED)
    check_delete_cell(alice, four_cells.pk, cell_id=four_cells.cells[1]["id"])
    assert _commands(running_kernel.channel) == []


def test_the_kernels_stale_marks_cost_the_same_few_queries_however_many_cells(four_cells: Notebook, alice,  # type: ignore[no-untyped-def]
                                                                               django_assert_max_num_queries) -> None:
    """The kernel's answer to `forget` marks each reader's newest finished run stale (not an older one, not a run
    still going) and names the cells that have a run, for the page's stale badges."""
    from kernels.models import Execution
    from kernels.services import do_mark_cells_stale

    ids = four_cells.cell_ids()
    older = Execution.objects.create(notebook=four_cells, cell_id=ids[0], user=alice, language="python", source="",
                                     code_hash="", state="done")
    newest = Execution.objects.create(notebook=four_cells, cell_id=ids[0], user=alice, language="python", source="",
                                      code_hash="", state="done")
    going = Execution.objects.create(notebook=four_cells, cell_id=ids[1], user=alice, language="python", source="",
                                     code_hash="", state="running")
    Execution.objects.filter(pk=older.pk).update(queued_at=timezone.now() - datetime.timedelta(minutes=1))
    with django_assert_max_num_queries(4):
        marked = do_mark_cells_stale(four_cells.pk, ids)
    assert marked == ids[:2]  # the cells without a run have nothing to mark
    assert Execution.objects.get(pk=newest.pk).stale
    assert not Execution.objects.get(pk=older.pk).stale
    assert not Execution.objects.get(pk=going.pk).stale
