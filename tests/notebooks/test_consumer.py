"""The live notebook WebSocket: editing the draft, roles on every message, and bad input."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from notebooks.consumers import RATE_BURST, RATE_PER_S
from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice_notebook(alice) -> Notebook:  # type: ignore[no-untyped-def]
    return do_create_notebook(alice, title="Exploration")


@pytest.fixture
def bob_token(bob) -> str:  # type: ignore[no-untyped-def]
    from quire.accounts.services import do_issue_token

    return do_issue_token(bob, name="tests").key


async def test_snapshot_then_edits_are_stored_and_broadcast(alice_notebook, alice_token) -> None:  # type: ignore[no-untyped-def]
    first, second = NotebookClient(alice_notebook.pk, token=alice_token), NotebookClient(alice_notebook.pk, token=alice_token)
    snapshot = await first.connect()
    await second.connect()
    assert snapshot["type"] == "snapshot"
    assert snapshot["you"] == {"username": "alice", "role": "owner"}
    assert snapshot["kernel"] == {"state": "not_started"}
    [cell] = snapshot["notebook"]["cells"]

    req = await first.send("update_cell", cell_id=cell["id"], source="x = 1")
    assert (await first.reply(req))["type"] == "ack"
    seen = await second.until(lambda e: e["type"] == "cell_updated")
    assert seen["source"] == "x = 1" and seen["cell_id"] == cell["id"]

    req = await first.send("insert_cell", index=1, cell={"language": "sql", "source": "select 1"})
    ack = await first.reply(req)
    inserted = await second.until(lambda e: e["type"] == "cell_inserted")
    assert inserted["cell"]["id"] == ack["cell_id"] and inserted["index"] == 1

    req = await first.send("move_cell", cell_id=ack["cell_id"], index=0)
    await first.reply(req)
    req = await first.send("set_language", cell_id=cell["id"], language="scala")
    await first.reply(req)

    notebook = await database_sync_to_async(Notebook.objects.get)(pk=alice_notebook.pk)
    assert [(c["language"], c["source"]) for c in notebook.cells] == [("sql", "select 1"), ("scala", "x = 1")]
    assert notebook.revision == 4

    req = await first.send("delete_cell", cell_id=cell["id"])
    await first.reply(req)
    notebook = await database_sync_to_async(Notebook.objects.get)(pk=alice_notebook.pk)
    assert [c["id"] for c in notebook.cells] == [ack["cell_id"]]
    await first.close()
    await second.close()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        ('{"type": "teleport", "req": 5}', "unknown_type"),
        ('{"type": "update_cell", "req": 6, "cell_id": 3, "source": "x"}', "invalid"),
        ('{"type": "insert_cell", "req": 7, "index": 0, "cell": {"language": "cobol"}}', "invalid"),
        ('{"type": "delete_cell", "req": 8, "cell_id": "nope"}', "not_found"),
        (json.dumps({"type": "update_cell", "req": 9, "cell_id": "x", "source": "a" * 2_100_000}), "too_large"),
    ],
)
async def test_bad_messages_get_typed_errors_and_the_connection_stays_usable(
    alice_notebook, alice_token, raw: str, code: str  # type: ignore[no-untyped-def]
) -> None:
    client = NotebookClient(alice_notebook.pk, token=alice_token)
    await client.connect()
    await client.send_raw(raw)
    error = await client.until(lambda e: e["type"] == "error")
    assert error["code"] == code
    assert error["message"]
    req = await client.send("insert_cell", index=0, cell={"language": "python", "source": "still here"})
    assert (await client.reply(req))["type"] == "ack"
    await client.close()


async def test_a_stranger_cannot_open_someone_elses_notebook(alice_notebook, bob_token) -> None:  # type: ignore[no-untyped-def]
    client = NotebookClient(alice_notebook.pk, token=bob_token)
    connected, _ = await client.comm.connect()
    assert connected
    error = await client.next_event()
    assert error["code"] == "not_found"
    assert (await client.comm.receive_output())["type"] == "websocket.close"


async def test_anonymous_is_told_to_sign_in(alice_notebook) -> None:  # type: ignore[no-untyped-def]
    client = NotebookClient(alice_notebook.pk)
    await client.comm.connect()
    error = await client.next_event()
    assert error["code"] == "unauthenticated"


async def test_a_bad_token_is_anonymous(alice_notebook) -> None:  # type: ignore[no-untyped-def]
    client = NotebookClient(alice_notebook.pk, token="qt_not-a-real-token")
    await client.comm.connect()
    assert (await client.next_event())["code"] == "unauthenticated"


async def test_team_members_edit_team_notebooks(alice, bob, team_acme, bob_token) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Shared", team_id=team_acme.pk)
    client = NotebookClient(notebook.pk, token=bob_token)
    snapshot = await client.connect()
    assert snapshot["you"]["role"] == "editor"
    req = await client.send("insert_cell", index=0, cell={"language": "python", "source": "1"})
    assert (await client.reply(req))["type"] == "ack"
    await client.close()


async def test_a_flooding_client_is_slowed_and_others_are_still_served(alice, alice_token, alice_notebook) -> None:  # type: ignore[no-untyped-def]
    flooder = NotebookClient(alice_notebook.pk, token=alice_token)
    snapshot = await flooder.connect()
    cell_id = snapshot["notebook"]["cells"][0]["id"]
    other = NotebookClient(alice_notebook.pk, token=alice_token)
    await other.connect()
    for _ in range(400):
        await flooder.send("update_cell", cell_id=cell_id, source="flood")
    req = await other.send("insert_cell", index=1, cell={"language": "python", "source": "still served"})
    assert (await other.reply(req, timeout=60))["type"] == "ack"
    replies = [await flooder.reply(n, timeout=60) for n in range(1, 401)]
    limited = [r for r in replies if r["type"] == "error"]
    assert limited and all(r["code"] == "rate_limited" for r in limited)
    assert len(limited) < 400
    # Cheap messages have a budget of their own size: a burst of focus changes passes where writes would not.
    await asyncio.sleep(RATE_BURST / RATE_PER_S)
    first = flooder.req + 1
    for _ in range(100):
        await flooder.send("focus", cell_id=cell_id)
    replies = [await flooder.reply(n, timeout=60) for n in range(first, first + 100)]
    assert all(r["type"] == "ack" for r in replies)
    await flooder.close()
    await other.close()


async def test_ten_clients_see_every_edit_and_each_other(alice_notebook, alice_token) -> None:  # type: ignore[no-untyped-def]
    clients = [NotebookClient(alice_notebook.pk, token=alice_token) for _ in range(10)]
    snapshots = [await c.connect() for c in clients]
    cell_id = snapshots[0]["notebook"]["cells"][0]["id"]
    for client in clients:
        await client.until(lambda e: e["type"] == "presence" and len(e["users"]) == 10)
    for n, writer in enumerate(clients[:3]):
        await writer.reply(await writer.send("update_cell", cell_id=cell_id, source=f"edit {n}"))
    for client in clients:
        seen = [e["source"] for e in client.seen if e["type"] == "cell_updated"]
        while len(seen) < 3:
            seen.append((await client.until(lambda e: e["type"] == "cell_updated"))["source"])
        assert seen == ["edit 0", "edit 1", "edit 2"]
    for client in clients:
        await client.close()
