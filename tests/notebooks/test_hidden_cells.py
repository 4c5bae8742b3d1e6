"""Hiding a cell's code or output: Jupyter's metadata keys, set by editors only, live for everyone, stored, and
written to and read from .ipynb files as JupyterLab writes them."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from notebooks.models import Notebook
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient
from tests.notebooks.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def _metadata(notebook_id: int) -> list[dict]:  # type: ignore[type-arg]
    return [cell["metadata"] for cell in Notebook.objects.get(pk=notebook_id).cells]


async def test_hiding_code_and_output_over_the_websocket(shared_notebook, viewer_vic, runner_rita, editor_ed) -> None:  # type: ignore[no-untyped-def]
    issue = database_sync_to_async(do_issue_token)
    ed = NotebookClient(shared_notebook.pk, token=(await issue(editor_ed, name="t")).key)
    vic = NotebookClient(shared_notebook.pk, token=(await issue(viewer_vic, name="t")).key)
    rita = NotebookClient(shared_notebook.pk, token=(await issue(runner_rita, name="t")).key)
    first, second = (cell["id"] for cell in (await ed.connect())["notebook"]["cells"])
    await vic.connect()
    await rita.connect()

    # Viewers and runners may look, not hide: refused, and nothing is stored.
    for client in (vic, rita):
        refused = await client.reply(await client.send("set_hidden", cell_id=first, part="outputs", hidden=True))
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
    assert await database_sync_to_async(_metadata)(shared_notebook.pk) == [{}, {}]

    ack = await ed.reply(await ed.send("set_hidden", cell_id=first, part="outputs", hidden=True))
    assert ack["type"] == "ack"
    hidden = await vic.until(lambda e: e["type"] == "cell_hidden")
    assert (hidden["cell_id"], hidden["part"], hidden["hidden"], hidden["revision"]) == (
        first, "outputs", True, ack["revision"])
    ack = await ed.reply(await ed.send("set_hidden", cell_id=second, part="source", hidden=True))
    assert (await vic.until(lambda e: e["type"] == "cell_hidden"))["part"] == "source"
    # JupyterLab's keys: `collapsed` too for outputs, which nbformat v4 and the classic notebook read.
    assert await database_sync_to_async(_metadata)(shared_notebook.pk) == [
        {"jupyter": {"outputs_hidden": True}, "collapsed": True}, {"jupyter": {"source_hidden": True}},
    ]

    # A reload reads them back with the cells.
    again = NotebookClient(shared_notebook.pk, token=(await issue(viewer_vic, name="t")).key)
    cells = (await again.connect())["notebook"]["cells"]
    assert cells[1]["metadata"] == {"jupyter": {"source_hidden": True}}

    # Shown again: the keys go, as JupyterLab removes them, and the cell's other metadata stays.
    await ed.reply(await ed.send("set_hidden", cell_id=first, part="outputs", hidden=False))
    await ed.reply(await ed.send("set_hidden", cell_id=second, part="source", hidden=False))
    assert await database_sync_to_async(_metadata)(shared_notebook.pk) == [{}, {}]

    for bad, field in (({"cell_id": first, "part": "code", "hidden": True}, "part"),
                       ({"cell_id": first, "part": "source", "hidden": "yes"}, "hidden"),
                       ({"cell_id": "no such cell", "part": "source", "hidden": True}, "cell_id")):
        refused = await ed.reply(await ed.send("set_hidden", **bad))
        assert (refused["type"], refused["code"], refused.get("field")) == ("error", "invalid", field)
    missing = await ed.reply(await ed.send("set_hidden", cell_id="nosuchcell", part="source", hidden=True))
    assert (missing["code"], missing.get("field")) == ("not_found", "cell_id")
    for client in (ed, vic, rita, again):
        await client.close()


def test_hidden_parts_round_trip_through_ipynb(carol) -> None:  # type: ignore[no-untyped-def]
    """A file's hidden code and output come back as they were; a cell hidden here is exported with the keys."""
    document = {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"id": "shown", "cell_type": "code", "metadata": {}, "source": "1", "outputs": [], "execution_count": None},
            {"id": "folded", "cell_type": "code", "source": "2", "outputs": [], "execution_count": None,
             "metadata": {"collapsed": True, "jupyter": {"outputs_hidden": True, "source_hidden": True}, "tags": ["x"]}},
        ],
    }
    client = client_for(carol)
    created = client.post("/api/notebooks/import/",
                          {"file": SimpleUploadedFile("folds.ipynb", json.dumps(document).encode())}, format="multipart")
    assert created.status_code == 201
    notebook_id = created.json()["id"]
    from notebooks import services

    services.check_set_hidden(carol, notebook_id, cell_id="shown", part="source", hidden=True)
    exported = json.loads(client.get(f"/api/notebooks/{notebook_id}/export/").content)
    assert [cell["metadata"] for cell in exported["cells"]] == [
        {"jupyter": {"source_hidden": True}, "language": "python"},
        {"collapsed": True, "jupyter": {"outputs_hidden": True, "source_hidden": True}, "tags": ["x"], "language": "python"},
    ]
