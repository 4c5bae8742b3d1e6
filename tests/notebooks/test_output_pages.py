"""A notebook's snapshot stays within the server's frame limit however many large outputs it holds, and every output
can be read whole, in pages, by anyone who may view the notebook."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from notebooks.limits import (
    MAX_CELLS,
    MAX_OUTPUT_HEAD_CHARS,
    MAX_OUTPUT_PAGE_CHARS,
    MAX_WS_SEND_BYTES,
    MAX_WS_TRANSPORT_BYTES,
)
from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from notebooks.sharing import check_share
from tests.live import NotebookClient
from tests.notebooks.conftest import client_for
from tests.support import ChunkJoiner

pytestmark = pytest.mark.django_db(transaction=True)

STORED_AT = "2026-01-01T00:00:00+00:00"


def _loud_notebook(owner: Any, *, cells: int, size: int) -> Notebook:
    """`cells` cells, each showing one stored stdout output of `size` characters (as an import or a fork leaves)."""
    notebook = do_create_notebook(owner, title="Loud")
    notebook.cells = [
        {"id": f"c{i}", "language": "python", "source": f"print({i})", "metadata": {},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{i:>5} " + "z" * size}],
         "outputs_at": STORED_AT}
        for i in range(cells)
    ]
    notebook.ydoc = b""
    notebook.save()
    return notebook


async def test_a_notebook_of_2000_large_outputs_still_opens(alice, alice_token) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(_loud_notebook)(alice, cells=MAX_CELLS, size=70_000)
    client = NotebookClient(notebook.pk, token=alice_token)
    connected, _ = await client.comm.connect(timeout=30)
    assert connected
    # The snapshot may come in chunks (each a frame within Daphne's limit); its outputs keep it under the bound.
    joiner, snapshot, size = ChunkJoiner(), None, 0
    while snapshot is None:
        frame = await client.comm.receive_from(timeout=60)
        assert len(frame.encode()) <= MAX_WS_TRANSPORT_BYTES
        size += len(frame.encode())
        snapshot = joiner.add(frame)
    assert size <= MAX_WS_SEND_BYTES
    cells = snapshot["notebook"]["cells"]
    assert len(cells) == MAX_CELLS
    # Every cell says how many outputs it has; the first ones show heads with references, the rest references only.
    assert all(cell["outputs_total"] == 1 for cell in cells)
    assert cells[0]["outputs"][0]["more"] == {"n": 0, "chars": 70_006, "lines": 0}
    assert cells[0]["outputs"][0]["text"].startswith("    0 zzz")
    assert cells[-1]["outputs"] == []
    await client.close()


def test_output_pages_for_viewers_only(alice, bob, carol) -> None:  # type: ignore[no-untyped-def]
    notebook = _loud_notebook(alice, cells=2, size=2_500_000)
    check_share(alice, notebook.pk, username="bob", role="viewer")
    url = f"/api/notebooks/{notebook.pk}/cells/c1/outputs/0/"

    viewer = client_for(bob)
    pages, offset = [], 0
    while offset is not None:
        response = viewer.get(url, {"offset": offset})
        assert response.status_code == 200
        page = response.json()
        assert len(page["text"]) <= MAX_OUTPUT_PAGE_CHARS
        pages.append(page["text"])
        offset = page["next_offset"]
    assert len(pages) == 3
    assert "".join(pages) == "    1 " + "z" * 2_500_000
    assert viewer.get(url, {"offset": 10, "limit": 5}).json()["text"] == "zzzzz"

    assert client_for(carol).get(url).status_code == 404
    assert viewer.get(url, {"offset": "x"}).json()["field"] == "offset"
    assert viewer.get(url, {"limit": 0}).status_code == 400
    assert viewer.get(url, {"limit": MAX_OUTPUT_PAGE_CHARS + 1}).json()["field"] == "limit"
    assert viewer.get(f"/api/notebooks/{notebook.pk}/cells/c1/outputs/1/").status_code == 404
    assert viewer.get(f"/api/notebooks/{notebook.pk}/cells/nope/outputs/0/").status_code == 404


def test_the_detail_gives_heads_when_asked(alice) -> None:  # type: ignore[no-untyped-def]
    notebook = _loud_notebook(alice, cells=1, size=2_500_000)
    client = client_for(alice)
    whole = client.get(f"/api/notebooks/{notebook.pk}/").json()["cells"][0]["outputs"][0]
    assert len(whole["text"]) == 2_500_006 and "more" not in whole
    heads = client.get(f"/api/notebooks/{notebook.pk}/", {"outputs": "heads"}).json()["cells"][0]
    assert heads["outputs_total"] == 1
    assert len(heads["outputs"][0]["text"]) == MAX_OUTPUT_HEAD_CHARS
    assert heads["outputs"][0]["more"] == {"n": 0, "chars": 2_500_006, "lines": 0}
    response = client.get(f"/api/notebooks/{notebook.pk}/", {"outputs": "some"})
    assert response.status_code == 400 and response.json()["field"] == "outputs"
