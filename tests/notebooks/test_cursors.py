"""Other editors' carets and selections: relayed to the notebook's other connections, never stored or echoed."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from notebooks.limits import MAX_CURSOR_POSITION_CHARS
from quire.accounts.services import do_issue_token
from tests.live import NotebookClient

pytestmark = pytest.mark.django_db(transaction=True)

# Yjs relative positions as the page encodes them (Y.encodeRelativePosition, base64): opaque to the server.
ANCHOR = "AQKrqqq6CwMA"
HEAD = "AQKrqqq6CwcA"


async def _client(notebook_id: int, user) -> NotebookClient:  # type: ignore[no-untyped-def]
    token = (await database_sync_to_async(do_issue_token)(user, name="t")).key
    client = NotebookClient(notebook_id, token=token)
    await client.connect()
    return client


def _cursor(username: str):  # type: ignore[no-untyped-def]
    return lambda e: e["type"] == "cursor" and e["username"] == username


async def test_an_editors_caret_reaches_the_others_and_goes_when_they_leave(  # type: ignore[no-untyped-def]
    shared_notebook, olga, editor_ed, viewer_vic
) -> None:
    cell = shared_notebook.cells[0]["id"]
    olga_, ed, vic = [await _client(shared_notebook.pk, user) for user in (olga, editor_ed, viewer_vic)]

    # A notification (no req) gets no ack; the others get the caret with her name.
    await olga_.comm.send_json_to({"v": 1, "type": "cursor", "cell_id": cell, "anchor": ANCHOR, "head": HEAD})
    for other in (ed, vic):
        seen = await other.until(_cursor("olga"))
        assert (seen["cell_id"], seen["anchor"], seen["head"]) == (cell, ANCHOR, HEAD)
        assert isinstance(seen["conn"], str) and seen["conn"]
    conn = seen["conn"]

    # Never echoed: ed's caret, sent after olga's reached him, reaches olga with nothing of her own before it.
    await ed.comm.send_json_to({"v": 1, "type": "cursor", "cell_id": cell, "anchor": HEAD, "head": HEAD})
    assert (await olga_.until(lambda e: e["type"] == "cursor"))["username"] == "ed"
    assert not [e for e in olga_.seen if e["type"] == "cursor" and e["username"] == "olga"]
    assert not [e for e in olga_.seen if e["type"] == "ack" and e.get("req") is None]

    # Leaving the editor: a null cell, without positions.
    await olga_.comm.send_json_to({"v": 1, "type": "cursor", "cell_id": None})
    seen = await ed.until(_cursor("olga"))
    assert seen["cell_id"] is None and "anchor" not in seen and seen["conn"] == conn

    # A caret shown when its connection closes is taken away.
    req = await ed.send("cursor", cell_id=cell, anchor=ANCHOR, head=ANCHOR)
    assert (await ed.reply(req))["type"] == "ack"
    assert (await vic.until(_cursor("ed")))["cell_id"] == cell
    ed_conn = (await olga_.until(_cursor("ed")))["conn"]
    await ed.close()
    gone = await vic.until(lambda e: _cursor("ed")(e) and e["conn"] == ed_conn and e["cell_id"] is None)
    assert "anchor" not in gone
    await olga_.close()
    await vic.close()


async def test_viewers_and_runners_carets_are_refused_and_not_relayed(  # type: ignore[no-untyped-def]
    shared_notebook, olga, viewer_vic, runner_rita
) -> None:
    cell = shared_notebook.cells[0]["id"]
    olga_, vic, rita = [await _client(shared_notebook.pk, user) for user in (olga, viewer_vic, runner_rita)]
    for client in (vic, rita):
        error = await client.reply(await client.send("cursor", cell_id=cell, anchor=ANCHOR, head=ANCHOR))
        assert (error["type"], error["code"]) == ("error", "forbidden")
    # The next caret olga hears of is her own from another tab: nothing of vic's or rita's came before it.
    second = await _client(shared_notebook.pk, olga)
    await second.comm.send_json_to({"v": 1, "type": "cursor", "cell_id": cell, "anchor": ANCHOR, "head": HEAD})
    assert (await olga_.until(lambda e: e["type"] == "cursor"))["username"] == "olga"
    assert not [e for e in olga_.seen if e["type"] == "cursor" and e["username"] != "olga"]
    for client in (olga_, vic, rita, second):
        await client.close()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"anchor": "A" * (MAX_CURSOR_POSITION_CHARS + 4), "head": HEAD}, "anchor"),
        ({"anchor": ANCHOR, "head": "A" * 1_000_000}, "head"),
        ({"anchor": ANCHOR, "head": "not base64!"}, "head"),
        ({"anchor": ANCHOR}, "head"),
        ({"anchor": 7, "head": HEAD}, "anchor"),
        ({"anchor": ANCHOR, "head": HEAD, "cell_id": "x" * 900}, "cell_id"),
    ],
)
async def test_a_malformed_or_oversize_caret_is_refused_and_not_relayed(  # type: ignore[no-untyped-def]
    shared_notebook, olga, editor_ed, fields, field
) -> None:
    cell = shared_notebook.cells[0]["id"]
    olga_, ed = [await _client(shared_notebook.pk, user) for user in (olga, editor_ed)]
    error = await ed.reply(await ed.send("cursor", **{"cell_id": cell, **fields}))
    assert (error["type"], error["code"]) == ("error", "invalid")
    assert error.get("field") == field
    assert len(error["message"]) < 300
    req = await ed.send("cursor", cell_id=cell, anchor=ANCHOR, head=HEAD)
    assert (await ed.reply(req))["type"] == "ack"
    seen = await olga_.until(_cursor("ed"))
    assert seen["anchor"] == ANCHOR
    assert [e for e in olga_.seen if e["type"] == "cursor"] == [seen]
    await olga_.close()
    await ed.close()


async def test_an_editor_made_a_viewer_loses_the_caret_the_others_see(  # type: ignore[no-untyped-def]
    shared_notebook, olga, editor_ed
) -> None:
    from notebooks import sharing
    from notebooks.models import Grant

    cell = shared_notebook.cells[0]["id"]
    olga_, ed = [await _client(shared_notebook.pk, user) for user in (olga, editor_ed)]
    await ed.reply(await ed.send("cursor", cell_id=cell, anchor=ANCHOR, head=HEAD))
    conn = (await olga_.until(_cursor("ed")))["conn"]
    grant = await database_sync_to_async(Grant.objects.get)(notebook=shared_notebook, user=editor_ed)
    await database_sync_to_async(sharing.check_change_grant)(olga, shared_notebook.pk, grant.pk, role="viewer")
    gone = await olga_.until(_cursor("ed"))
    assert (gone["cell_id"], gone["conn"]) == (None, conn)
    error = await ed.reply(await ed.send("cursor", cell_id=cell, anchor=ANCHOR, head=HEAD))
    assert error["code"] == "forbidden"
    await olga_.close()
    await ed.close()
