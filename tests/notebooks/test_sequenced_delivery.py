"""Each notebook's broadcasts are numbered; a viewer that missed some is sent the notebook again, unasked."""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings

from kernels.events import stream_key
from notebooks import services
from notebooks.models import Notebook
from quire.lib.live import live_layer
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db(transaction=True)


def _stream(notebook_id: int) -> tuple[redis.Redis, str]:
    """The Redis that numbers the notebook's broadcasts, and the key it keeps them in."""
    layers: dict[str, Any] = settings.CHANNEL_LAYERS
    prefix = layers["live"]["CONFIG"]["prefix"]
    return redis.Redis.from_url(str(settings.CONFIG.redis_url)), f"{prefix}{stream_key(notebook_id)}"


@pytest.fixture
def alice_notebook(alice) -> Notebook:  # type: ignore[no-untyped-def]
    notebook = services.do_create_notebook(alice, title="Numbered")
    # Ids start again with each test database; Redis may still count for an earlier run's notebook of this id.
    client, key = _stream(notebook.pk)
    client.delete(key)
    return notebook


async def _edit(alice: Any, notebook_id: int, cell_id: str, source: str) -> None:
    await database_sync_to_async(services.check_update_source)(alice, notebook_id, cell_id=cell_id, source=source)


async def _caught_up(viewer: NotebookClient, source: str) -> dict[str, Any]:
    """The viewer is told it is catching up, then sent the notebook as it now is."""
    await viewer.until(lambda e: e["type"] == "resync", timeout=20)
    snapshot = await viewer.until(lambda e: e["type"] == "snapshot", timeout=20)
    assert snapshot["notebook"]["cells"][0]["source"] == source
    return snapshot


async def _edit_and_catch_up(alice: Any, notebook_id: int, cell: str, viewer: NotebookClient, source: str) -> None:
    await _edit(alice, notebook_id, cell, source)
    await _caught_up(viewer, source)


async def test_broadcasts_arrive_numbered_in_order(alice, alice_token, alice_notebook) -> None:  # type: ignore[no-untyped-def]
    viewer = NotebookClient(alice_notebook.pk, token=alice_token)
    cell = (await viewer.connect())["notebook"]["cells"][0]["id"]
    for n in range(5):
        await _edit(alice, alice_notebook.pk, cell, f"x = {n}")
        assert (await viewer.until(lambda e: e["type"] == "cell_updated"))["source"] == f"x = {n}"
    client, key = _stream(alice_notebook.pk)
    epoch, seq = cast(list[bytes | None], client.hmget(key, ["epoch", "seq"]))
    assert epoch and seq and int(seq) == 5
    assert not [e for e in viewer.seen if e["type"] in ("resync", "snapshot")][1:]
    await viewer.close()


async def test_a_skipped_number_sends_the_viewer_the_notebook_again(alice, alice_token, alice_notebook) -> None:  # type: ignore[no-untyped-def]
    viewer = NotebookClient(alice_notebook.pk, token=alice_token)
    cell = (await viewer.connect())["notebook"]["cells"][0]["id"]
    await _edit(alice, alice_notebook.pk, cell, "a = 1")
    await viewer.until(lambda e: e["type"] == "cell_updated")
    # A broadcast numbered and published while this server heard nothing (its subscription not back yet).
    client, key = _stream(alice_notebook.pk)
    client.hincrby(key, "seq", 1)
    await _edit_and_catch_up(alice, alice_notebook.pk, cell, viewer, "a = 2")
    # Back in step: the next one is relayed as usual.
    await _edit(alice, alice_notebook.pk, cell, "a = 3")
    assert (await viewer.until(lambda e: e["type"] in ("cell_updated", "resync")))["type"] == "cell_updated"
    await viewer.close()


async def test_a_counter_redis_lost_is_a_gap_too(alice, alice_token, alice_notebook) -> None:  # type: ignore[no-untyped-def]
    """Redis restarted without persistence numbers from 1 again, under a new epoch: not mistaken for the old."""
    viewer = NotebookClient(alice_notebook.pk, token=alice_token)
    cell = (await viewer.connect())["notebook"]["cells"][0]["id"]
    await _edit(alice, alice_notebook.pk, cell, "b = 1")
    await viewer.until(lambda e: e["type"] == "cell_updated")
    client, key = _stream(alice_notebook.pk)
    client.delete(key)
    await _edit_and_catch_up(alice, alice_notebook.pk, cell, viewer, "b = 2")
    await viewer.close()


async def test_a_lost_live_connection_sends_every_viewer_the_notebook_again(  # type: ignore[no-untyped-def]
    alice, alice_token, alice_notebook
) -> None:
    """What is published while this process's pub/sub connection is down never reaches it; once the connection is
    back, its viewers catch up without any further broadcast to show them a gap."""
    viewers = [NotebookClient(alice_notebook.pk, token=alice_token) for _ in range(2)]
    cell = [(await viewer.connect())["notebook"]["cells"][0]["id"] for viewer in viewers][0]
    inner = live_layer()._get_layer()
    [shard] = inner._shards
    await shard._pubsub.connection.disconnect()
    await _edit(alice, alice_notebook.pk, cell, "c = 1")
    for viewer in viewers:
        await _caught_up(viewer, "c = 1")
        await viewer.close()
