"""Collaborative edits append to the notebook's update log (notebooks/ylog.py), which every reader folds first.

A keystroke rewrites neither the draft nor the whole document; snapshots, versions and REST still read what was
typed, a process that never saw the edits continues from the log, and the log is folded every FOLD_EVERY updates.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from pycrdt import Doc, Map, Text

from notebooks import services, ylog
from notebooks.models import Notebook, YUpdate
from notebooks.services import do_create_notebook, do_ensure_ydoc, get_notebook
from notebooks.sharing import check_share
from notebooks.versioning import check_save_version
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient
from tests.support import REPO, env_for

pytestmark = pytest.mark.django_db(transaction=True)


class Typist:
    """A Yjs client's document: the updates it makes, and the ones it receives."""

    def __init__(self, state: bytes) -> None:
        self.doc: Doc = Doc()
        self.doc.apply_update(state)

    def text(self, cell_id: str) -> Text:
        return self.doc.get("sources", type=Map)[cell_id]

    def type(self, cell_id: str, chars: str) -> bytes:
        """The update of typing `chars` at the end of the cell's text."""
        before = self.doc.get_state()
        text = self.text(cell_id)
        text.insert(len(text), chars)
        return self.doc.get_update(before)

    def receive(self, event: dict) -> None:  # type: ignore[type-arg]
        if event.get("ydoc_update"):
            self.doc.apply_update(base64.b64decode(event["ydoc_update"]))


def _encoded(update: bytes) -> str:
    return base64.b64encode(update).decode()


def _text_of(state: bytes, cell_id: str) -> str:
    return str(Typist(state).text(cell_id))


def _row(notebook_id: int) -> tuple[Notebook, list[int]]:
    """The stored row as it is (no reader's fold) and the revisions its log holds."""
    seqs = list(YUpdate.objects.filter(notebook_id=notebook_id).values_list("seq", flat=True))
    return Notebook.objects.get(pk=notebook_id), seqs


# One keystroke applied by a fresh server process, which has never held the notebook's document in memory.
EDIT_IN_A_FRESH_PROCESS = """
import base64, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from notebooks import services
change = services.check_edit_source(get_user_model().objects.get(username=sys.argv[1]), int(sys.argv[2]),
                                    cell_id=sys.argv[3], update=base64.b64decode(sys.argv[4]))
print(change.result.source)
"""


def _edit_in_a_fresh_process(username: str, notebook_id: int, cell_id: str, update: bytes) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = env_for({"DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                   "DJANGO_SETTINGS_MODULE": "quire.settings"})
    done = subprocess.run([sys.executable, "-c", EDIT_IN_A_FRESH_PROCESS, username, str(notebook_id), cell_id,
                           _encoded(update)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


async def _type_over_socket(client: NotebookClient, typist: Typist, cell_id: str, text: str) -> None:
    for char in text:
        ack = await client.reply(await client.send("edit_source", cell_id=cell_id, update=_encoded(typist.type(cell_id, char))))
        assert ack["type"] == "ack", ack


async def test_keystrokes_append_to_the_log_and_every_reader_reads_them(alice) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Log")
    cell = notebook.cells[0]["id"]
    token = (await database_sync_to_async(do_issue_token)(alice, name="t")).key
    client = NotebookClient(notebook.pk, token=token)
    snapshot = await client.connect()
    folded_state = base64.b64decode(snapshot["notebook"]["ydoc"])
    typist = Typist(folded_state)
    await _type_over_socket(client, typist, cell, "hello")

    row, seqs = await database_sync_to_async(_row)(notebook.pk)
    # Appended, each under the revision it made; the draft and the document as they were before the typing.
    assert seqs == [row.revision - 4, row.revision - 3, row.revision - 2, row.revision - 1, row.revision]
    assert row.pending_updates == 5
    assert row.cells[0]["source"] == ""
    assert bytes(row.ydoc) == folded_state

    # A reader folds first: it reads the text, and the log is empty afterwards.
    read, _ = await database_sync_to_async(get_notebook)(alice, notebook.pk)
    assert read.cells[0]["source"] == "hello"
    row, seqs = await database_sync_to_async(_row)(notebook.pk)
    assert (seqs, row.pending_updates, row.cells[0]["source"]) == ([], 0, "hello")
    assert _text_of(bytes(row.ydoc), cell) == "hello"
    await client.close()


async def test_a_process_that_never_saw_the_edits_continues_from_the_log(alice) -> None:  # type: ignore[no-untyped-def]
    """Edits appended and not folded, then a server process that never held the document (as one started after a
    crash): it reads the folded document and the log, and the typist's next keystroke, which builds on the logged
    ones, is accepted (no gap) and lands after them. The first process, a revision behind now, catches up."""
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Crash")
    cell = notebook.cells[0]["id"]
    token = (await database_sync_to_async(do_issue_token)(alice, name="t")).key
    client = NotebookClient(notebook.pk, token=token)
    typist = Typist(base64.b64decode((await client.connect())["notebook"]["ydoc"]))
    await _type_over_socket(client, typist, cell, "abc")
    assert (await database_sync_to_async(_row)(notebook.pk))[0].pending_updates == 3

    assert _edit_in_a_fresh_process("alice", notebook.pk, cell, typist.type(cell, "d")) == "abcd"
    await _type_over_socket(client, typist, cell, "e")
    await client.close()

    again = NotebookClient(notebook.pk, token=token)
    snapshot = await again.connect()
    assert snapshot["notebook"]["cells"][0]["source"] == "abcde"
    assert _text_of(base64.b64decode(snapshot["notebook"]["ydoc"]), cell) == "abcde"
    await again.close()


def test_the_log_is_folded_every_fold_every_updates(alice) -> None:  # type: ignore[no-untyped-def]
    notebook = do_create_notebook(alice, title="Long typing")
    cell = notebook.cells[0]["id"]
    typist = Typist(do_ensure_ydoc(notebook.pk))
    for _ in range(ylog.FOLD_EVERY - 1):
        services.check_edit_source(alice, notebook.pk, cell_id=cell, update=typist.type(cell, "x"))
    row, seqs = _row(notebook.pk)
    assert (len(seqs), row.pending_updates, row.cells[0]["source"]) == (ylog.FOLD_EVERY - 1, ylog.FOLD_EVERY - 1, "")

    services.check_edit_source(alice, notebook.pk, cell_id=cell, update=typist.type(cell, "y"))
    row, seqs = _row(notebook.pk)
    typed = "x" * (ylog.FOLD_EVERY - 1) + "y"
    assert (seqs, row.pending_updates, row.cells[0]["source"]) == ([], 0, typed)
    assert _text_of(bytes(row.ydoc), cell) == typed


async def test_concurrent_editors_converge_and_snapshots_and_versions_hold_what_they_typed(alice, bob) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Two typists")
    await database_sync_to_async(check_share)(alice, notebook.pk, username="bob", role="editor")
    cell = notebook.cells[0]["id"]
    issue = database_sync_to_async(do_issue_token)
    clients = [NotebookClient(notebook.pk, token=(await issue(person, name="t")).key) for person in (alice, bob)]
    typists = [Typist(base64.b64decode((await c.connect())["notebook"]["ydoc"])) for c in clients]

    # Both type 30 characters each without waiting for the other's updates, then take in what arrived: one update
    # per 50 ms each, as a browser batches keystrokes (a connection's budget is 40 changes a second, bursts of 20).
    for _ in range(30):
        await asyncio.sleep(0.05)
        reqs = [await c.send("edit_source", cell_id=cell, update=_encoded(t.type(cell, ch)))
                for c, t, ch in zip(clients, typists, ("a", "b"), strict=True)]
        for c, req in zip(clients, reqs, strict=True):
            reply = await c.reply(req)
            assert reply["type"] == "ack", reply
    for client, typist in zip(clients, typists, strict=True):
        while sum(1 for e in client.seen if e["type"] == "cell_updated") < 60:
            await client.until(lambda e: e["type"] == "cell_updated")
        for event in client.seen:
            if event["type"] == "cell_updated":
                typist.receive(event)
    texts = {str(t.text(cell)) for t in typists}
    assert len(texts) == 1
    merged = texts.pop()
    assert sorted(merged) == ["a"] * 30 + ["b"] * 30

    fresh = NotebookClient(notebook.pk, token=(await issue(alice, name="t")).key)
    snapshot = await fresh.connect()
    assert snapshot["notebook"]["cells"][0]["source"] == merged
    assert _text_of(base64.b64decode(snapshot["notebook"]["ydoc"]), cell) == merged
    saved = await database_sync_to_async(check_save_version)(alice, notebook.pk, message="typed")
    assert saved.version.cells[0]["source"] == merged
    for client in [*clients, fresh]:
        await client.close()


def _result(cell_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "output" and e["cell_id"] == cell_id and e["output"].get("output_type") == "execute_result"


async def test_runs_run_what_was_typed_before_it_is_folded(alice, celery_worker) -> None:  # type: ignore[no-untyped-def]
    """The first run starts the kernel (the database path, under the row lock); the second goes straight to the
    kernel that is up (the fast path, one query of the draft). Both read the keystrokes still in the log."""
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Run what I typed")
    cell = notebook.cells[0]["id"]
    client = NotebookClient(notebook.pk, token=(await database_sync_to_async(do_issue_token)(alice, name="t")).key)
    typist = Typist(base64.b64decode((await client.connect())["notebook"]["ydoc"]))

    for typed, shown in (("6 * 7", "42"), (" + 1", "43")):
        await _type_over_socket(client, typist, cell, typed)
        assert (await database_sync_to_async(_row)(notebook.pk))[0].pending_updates == len(typed)
        assert (await client.reply(await client.send("run_cell", cell_id=cell)))["type"] == "ack"
        assert (await client.until(_result(cell), timeout=120))["output"]["data"]["text/plain"] == shown
        await client.until(lambda e: e["type"] == "kernel_status" and e["state"] == "idle", timeout=60)
    await client.reply(await client.send("shutdown"))
    await client.close()
