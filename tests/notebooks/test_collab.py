"""Collaborative editing: two people typing in one cell at once both keep their keystrokes (CRDT, Yjs-compatible)."""

from __future__ import annotations

import base64

import pytest
from channels.db import database_sync_to_async
from pycrdt import Doc, Map, Text

from notebooks.models import Notebook
from notebooks.services import do_create_notebook, get_notebook
from notebooks.sharing import check_share
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db(transaction=True)


class Typist:
    """A client that edits like a browser with Yjs: local CRDT document, updates sent and received."""

    def __init__(self, client: NotebookClient, snapshot: dict) -> None:  # type: ignore[type-arg]
        self.client = client
        self.doc: Doc = Doc()
        self.doc.apply_update(base64.b64decode(snapshot["notebook"]["ydoc"]))

    def text(self, cell_id: str) -> Text:
        return self.doc.get("sources", type=Map)[cell_id]

    async def type(self, cell_id: str, index: int, chars: str) -> int:
        before = self.doc.get_state()
        self.text(cell_id).insert(index, chars)
        update = base64.b64encode(self.doc.get_update(before)).decode()
        return await self.client.send("edit_source", cell_id=cell_id, update=update)

    def receive(self, event: dict) -> None:  # type: ignore[type-arg]
        if event.get("ydoc_update"):
            self.doc.apply_update(base64.b64decode(event["ydoc_update"]))


def _stored(notebook_id: int) -> Notebook:
    """The draft as every reader reads it: edits still in the notebook's update log folded in."""
    return get_notebook(Notebook.objects.get(pk=notebook_id).owner, notebook_id)[0]


@pytest.fixture
def shared_notebook(alice, bob) -> Notebook:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Pair programming")
    check_share(alice, notebook.pk, username="bob", role="editor")
    return notebook


async def _tokens(alice, bob) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    from quire.accounts.services import do_issue_token

    issue = database_sync_to_async(do_issue_token)
    return (await issue(alice, name="t")).key, (await issue(bob, name="t")).key


async def test_concurrent_typing_in_one_cell_keeps_both(alice, bob, shared_notebook) -> None:  # type: ignore[no-untyped-def]
    alice_token, bob_token = await _tokens(alice, bob)
    a_client, b_client = NotebookClient(shared_notebook.pk, token=alice_token), NotebookClient(shared_notebook.pk, token=bob_token)
    alice_typist = Typist(a_client, await a_client.connect())
    bob_typist = Typist(b_client, await b_client.connect())
    cell = shared_notebook.cells[0]["id"]

    # Both type into the same, empty cell before seeing each other's edit.
    a_req = await alice_typist.type(cell, 0, "alpha ")
    b_req = await bob_typist.type(cell, 0, "beta ")
    assert (await a_client.reply(a_req))["type"] == "ack"
    assert (await b_client.reply(b_req))["type"] == "ack"
    for typist in (alice_typist, bob_typist):
        typist.client.seen.clear()
    for typist in (alice_typist, bob_typist):
        while sum(1 for e in typist.client.seen if e["type"] == "cell_updated") < 2:
            typist.receive(await typist.client.until(lambda e: e["type"] == "cell_updated"))

    merged = str(alice_typist.text(cell))
    assert merged == str(bob_typist.text(cell))
    assert sorted(merged.split()) == ["alpha", "beta"]
    stored = await database_sync_to_async(_stored)(shared_notebook.pk)
    assert stored.cells[0]["source"] == merged

    # A plain whole-source update (scripts, the REST draft) reaches CRDT clients as an update too.
    req = await a_client.send("update_cell", cell_id=cell, source=merged + "gamma")
    await a_client.reply(req)
    event = await b_client.until(lambda e: e["type"] == "cell_updated" and e["source"].endswith("gamma"))
    bob_typist.receive(event)
    assert str(bob_typist.text(cell)) == merged + "gamma"
    await a_client.close()
    await b_client.close()


async def test_new_cells_arrive_in_the_document(alice, bob, shared_notebook) -> None:  # type: ignore[no-untyped-def]
    alice_token, bob_token = await _tokens(alice, bob)
    a_client, b_client = NotebookClient(shared_notebook.pk, token=alice_token), NotebookClient(shared_notebook.pk, token=bob_token)
    await a_client.connect()
    bob_typist = Typist(b_client, await b_client.connect())
    ack = await a_client.reply(await a_client.send("insert_cell", index=1, cell={"language": "sql", "source": "select 1"}))
    bob_typist.receive(await b_client.until(lambda e: e["type"] == "cell_inserted"))
    assert str(bob_typist.text(ack["cell_id"])) == "select 1"
    await a_client.close()
    await b_client.close()


async def test_bad_updates_and_viewers_are_refused(alice, bob) -> None:  # type: ignore[no-untyped-def]
    shared_notebook = await database_sync_to_async(do_create_notebook)(alice, title="Read only for bob")
    await database_sync_to_async(check_share)(alice, shared_notebook.pk, username="bob", role="viewer")
    alice_token, bob_token = await _tokens(alice, bob)
    cell = shared_notebook.cells[0]["id"]
    a_client = NotebookClient(shared_notebook.pk, token=alice_token)
    await a_client.connect()
    for update, field in (("%%%", "update"), (base64.b64encode(b"\x07garbage").decode(), "update"), (17, "update")):
        error = await a_client.reply(await a_client.send("edit_source", cell_id=cell, update=update))
        assert error["type"] == "error" and error["field"] == field
    b_client = NotebookClient(shared_notebook.pk, token=bob_token)
    viewer = Typist(b_client, await b_client.connect())
    error = await b_client.reply(await viewer.type(cell, 0, "sneaky"))
    assert error["code"] == "forbidden"
    stored = await database_sync_to_async(_stored)(shared_notebook.pk)
    assert stored.cells[0]["source"] == ""
    await a_client.close()
    await b_client.close()


async def test_an_update_built_on_a_refused_one_is_refused_too(alice, shared_notebook) -> None:  # type: ignore[no-untyped-def]
    """Not acked with nothing applied: the client learns its text and the server's are apart, and reloads."""
    (alice_token, _) = await _tokens(alice, alice)
    cell = shared_notebook.cells[0]["id"]
    client = NotebookClient(shared_notebook.pk, token=alice_token)
    typist = Typist(client, await client.connect())
    refused = await client.reply(await typist.type(cell, 0, "\x00"))
    assert refused["type"] == "error" and refused["field"] == "update"
    # Typed after it, on top of it: the server cannot apply it.
    error = await client.reply(await typist.type(cell, 1, "total = 1"))
    assert (error["type"], error["field"]) == ("error", "update"), error
    assert "does not have" in error["message"]
    stored = await database_sync_to_async(_stored)(shared_notebook.pk)
    assert stored.cells[0]["source"] == ""
    await client.close()
    # A fresh document from the server's state types on normally, deletions included.
    client = NotebookClient(shared_notebook.pk, token=alice_token)
    fresh = Typist(client, await client.connect())
    ack = await client.reply(await fresh.type(cell, 0, "total = 1"))
    assert ack["type"] == "ack", ack
    before = fresh.doc.get_state()
    del fresh.text(cell)[0:2]
    deleted = await client.send("edit_source", cell_id=cell, update=base64.b64encode(fresh.doc.get_update(before)).decode())
    assert (await client.reply(deleted))["type"] == "ack"
    stored = await database_sync_to_async(_stored)(shared_notebook.pk)
    assert stored.cells[0]["source"] == "tal = 1"
    await client.close()


async def test_an_edit_crossing_the_cells_deletion_is_kept_in_the_document(alice, bob, shared_notebook) -> None:  # type: ignore[no-untyped-def]
    """Bob types in a cell Alice deletes before his update arrives. Refusing it would leave the server unable to
    apply anything Bob types afterwards (Yjs numbers one client's changes in one sequence): his next keystrokes,
    in another cell, would be refused and his page reset. The update is taken into the document instead."""
    alice_token, bob_token = await _tokens(alice, bob)
    a_client, b_client = NotebookClient(shared_notebook.pk, token=alice_token), NotebookClient(shared_notebook.pk, token=bob_token)
    await a_client.connect()
    bob_typist = Typist(b_client, await b_client.connect())
    doomed = shared_notebook.cells[0]["id"]
    kept = (await a_client.reply(await a_client.send("insert_cell", index=1, cell={"language": "python", "source": ""})))["cell_id"]
    bob_typist.receive(await b_client.until(lambda e: e["type"] == "cell_inserted"))
    deleted = await a_client.reply(await a_client.send("delete_cell", cell_id=doomed))
    assert deleted["type"] == "ack", deleted

    crossing = await b_client.reply(await bob_typist.type(doomed, 0, "lost cause"))
    assert crossing["type"] == "ack", crossing
    after = await b_client.reply(await bob_typist.type(kept, 0, "total = 1"))
    assert after["type"] == "ack", after
    stored = await database_sync_to_async(_stored)(shared_notebook.pk)
    assert [cell["id"] for cell in stored.cells] == [kept]
    assert stored.cells[0]["source"] == "total = 1"
    await a_client.close()
    await b_client.close()
