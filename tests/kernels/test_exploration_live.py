"""Exploring data through the whole stack: browser -> consumer -> kernel host -> kernel, and back to one browser."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from notebooks import sharing
from notebooks.services import check_update_source, do_create_notebook
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery]


async def test_a_viewer_inspects_sorts_and_plots_a_frame(alice, alice_token, bob, celery_worker) -> None:  # type: ignore[no-untyped-def]
    def make():  # type: ignore[no-untyped-def]
        notebook = do_create_notebook(alice, title="Data")
        cell = notebook.cells[0]["id"]
        check_update_source(
            alice, notebook.pk, cell_id=cell,
            source="import pandas as pd\ndf = pd.DataFrame({'k': ['a', 'b', 'a'], 'v': [3, 1, 2]})",
        )
        sharing.check_share(alice, notebook.pk, username=bob.username, role="viewer")
        return notebook, cell, do_issue_token(bob, name="t").key

    notebook, cell, bob_token = await database_sync_to_async(make)()
    client = NotebookClient(notebook.pk, token=alice_token)
    await client.connect()
    await client.reply(await client.send("run_cell", cell_id=cell))
    await client.until(lambda e: e["type"] == "cell_status" and e["cell_id"] == cell and e["state"] == "done")

    viewer = NotebookClient(notebook.pk, token=bob_token)
    await viewer.connect()
    inspected = await viewer.reply(await viewer.send("explore", cell_id=cell, name="df", op="inspect"))
    assert inspected["type"] == "ack" and inspected["op"] == "inspect"
    assert inspected["result"]["row_count"] == 3 and [f["name"] for f in inspected["result"]["schema"]] == ["k", "v"]
    page = await viewer.reply(await viewer.send(
        "explore", cell_id=cell, name="df", op="page", args={"sort": [{"column": "v"}], "page_size": 2}
    ))
    assert page["result"]["rows"] == [["b", 1], ["a", 2]] and page["result"]["total_rows"] == 3
    spec = {"mark": "bar", "data": {"name": "df"},
            "encoding": {"x": {"field": "k"}, "y": {"aggregate": "sum", "field": "v"}}}
    plot = await viewer.reply(await viewer.send("explore", cell_id=cell, name="df", op="plot", args={"spec": spec}))
    assert plot["result"]["spec"]["data"]["values"]
    missing = await viewer.reply(await viewer.send("explore", cell_id=cell, name="gone", op="inspect"))
    assert missing["type"] == "error" and "no symbol 'gone'" in missing["message"]
    bad = await viewer.reply(await viewer.send("explore", cell_id=cell, name="df", op="drop"))
    assert bad["type"] == "error" and bad["field"] == "op"
    await viewer.close()
    await client.reply(await client.send("shutdown"))
    await client.close()
