"""Clearing outputs, one cell or all: over the WebSocket and REST, for editors only, live for viewers, and stored."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from kernels.models import Execution
from notebooks import services
from notebooks.models import Notebook
from notebooks.snapshot import cells_with_outputs
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient
from tests.notebooks.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

PRINTED = {"output_type": "stream", "name": "stdout", "text": "hello\n"}


@pytest.fixture
def ran_notebook(shared_notebook):  # type: ignore[no-untyped-def]
    """The shared notebook after both its cells ran and printed; the first also has an older run."""
    for cell in shared_notebook.cells:
        for text in ("old\n", "hello\n"):
            Execution.objects.create(
                notebook=shared_notebook, cell_id=cell["id"], language=cell["language"], source=cell["source"],
                code_hash="h", state="done", outputs=[{**PRINTED, "text": text}],
                symbols=[{"name": "x", "language": "python", "type": "int", "repr": "2"}],
            )
    return shared_notebook


def _shown(notebook_id: int) -> list[list[dict]]:  # type: ignore[type-arg]
    return [cell["outputs"] for cell in cells_with_outputs(Notebook.objects.get(pk=notebook_id))]


async def test_clearing_one_cell_over_the_websocket(ran_notebook, olga, viewer_vic, editor_ed) -> None:  # type: ignore[no-untyped-def]
    issue = database_sync_to_async(do_issue_token)
    ed = NotebookClient(ran_notebook.pk, token=(await issue(editor_ed, name="t")).key)
    vic = NotebookClient(ran_notebook.pk, token=(await issue(viewer_vic, name="t")).key)
    snapshot = await ed.connect()
    assert [cell["outputs"] for cell in snapshot["notebook"]["cells"]] == [[PRINTED], [PRINTED]]
    await vic.connect()
    first, second = (cell["id"] for cell in snapshot["notebook"]["cells"])

    # A viewer may not clear outputs: refused, and nothing changes.
    refused = await vic.reply(await vic.send("clear_outputs", cell_id=first))
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert await database_sync_to_async(_shown)(ran_notebook.pk) == [[PRINTED], [PRINTED]]

    ack = await ed.reply(await ed.send("clear_outputs", cell_id=first))
    assert ack["type"] == "ack" and ack["cell_ids"] == [first]
    cleared = await vic.until(lambda e: e["type"] == "outputs_cleared")
    assert cleared["cell_ids"] == [first] and cleared["revision"] == ack["revision"]
    # Stored: a new connection (a reload) sees the first cell empty and the second as it was, symbols kept.
    again = NotebookClient(ran_notebook.pk, token=(await issue(viewer_vic, name="t")).key)
    reloaded = (await again.connect())["notebook"]["cells"]
    assert [cell["outputs"] for cell in reloaded] == [[], [PRINTED]]
    assert reloaded[0]["symbols"][0]["name"] == "x" and reloaded[0]["state"] == "done"

    # Everything, then: no cell shows an output.
    ack = await ed.reply(await ed.send("clear_outputs"))
    assert ack["type"] == "ack" and ack["cell_ids"] == [first, second]
    assert (await vic.until(lambda e: e["type"] == "outputs_cleared"))["cell_ids"] == [first, second]
    assert await database_sync_to_async(_shown)(ran_notebook.pk) == [[], []]

    bad = await ed.reply(await ed.send("clear_outputs", cell_id="nosuchcell"))
    assert (bad["type"], bad["code"], bad.get("field")) == ("error", "not_found", "cell_id")
    bad = await ed.reply(await ed.send("clear_outputs", cell_id="no such cell"))
    assert (bad["type"], bad["code"], bad.get("field")) == ("error", "invalid", "cell_id")
    for client in (ed, vic, again):
        await client.close()


def test_clearing_outputs_over_rest(ran_notebook, editor_ed, viewer_vic) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/notebooks/{ran_notebook.pk}/outputs/clear/"
    first = ran_notebook.cells[0]["id"]
    assert client_for(viewer_vic).post(url, {}, format="json").status_code == 403
    assert _shown(ran_notebook.pk) == [[PRINTED], [PRINTED]]

    response = client_for(editor_ed).post(url, {"cell_id": first}, format="json")
    assert response.status_code == 200 and response.json()["cell_ids"] == [first]
    assert _shown(ran_notebook.pk) == [[], [PRINTED]]
    detail = client_for(viewer_vic).get(f"/api/notebooks/{ran_notebook.pk}/").json()
    assert [cell["outputs"] for cell in detail["cells"]] == [[], [PRINTED]]

    for body, status, field in (({"cell_id": "nosuchcell"}, 404, "cell_id"), ({"cell_id": 7}, 400, "cell_id"),
                                ({"cell_id": "a b"}, 400, "cell_id")):
        response = client_for(editor_ed).post(url, body, format="json")
        assert (response.status_code, response.json().get("field")) == (status, field), response.content

    response = client_for(editor_ed).post(url, {}, format="json")
    assert response.status_code == 200 and response.json()["revision"] == ran_notebook.revision + 2
    assert _shown(ran_notebook.pk) == [[], []]


def test_clearing_also_clears_outputs_stored_with_a_cell(shared_notebook, olga) -> None:  # type: ignore[no-untyped-def]
    """Outputs that came with the draft (an import, a restored version) are cleared too."""
    notebook = Notebook.objects.get(pk=shared_notebook.pk)
    notebook.cells[1] = {**notebook.cells[1], "outputs": [PRINTED], "outputs_at": "2026-01-01T00:00:00+00:00"}
    notebook.save(update_fields=["cells"])
    assert _shown(notebook.pk) == [[], [PRINTED]]
    services.check_clear_outputs(olga, notebook.pk)
    assert _shown(notebook.pk) == [[], []]
