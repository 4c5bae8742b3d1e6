"""The whole-draft PUT: revisions, conflicts, bad input naming its field, and the live event it publishes."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from notebooks.models import Notebook
from notebooks.validation import MAX_CELLS, MAX_SOURCE_BYTES
from tests.notebooks.conftest import client_for

URL = "/api/notebooks/{}/draft/"


@pytest.mark.django_db
def test_put_replaces_the_draft_and_keeps_cell_ids(shared_notebook, editor_ed) -> None:  # type: ignore[no-untyped-def]
    first = shared_notebook.cells[0]["id"]
    body = {
        "revision": shared_notebook.revision,
        "cells": [{"language": "scala", "source": "val x = 1"}, {"id": first, "language": "python", "source": "y"}],
        "config": {"dependencies": {"scala": ["org:lib:1.0"]}},
    }
    response = client_for(editor_ed).put(URL.format(shared_notebook.pk), body, format="json")
    assert response.status_code == 200 and response.json() == {"revision": shared_notebook.revision + 1}
    notebook = Notebook.objects.get(pk=shared_notebook.pk)
    assert [(c["language"], c["source"]) for c in notebook.cells] == [("scala", "val x = 1"), ("python", "y")]
    assert notebook.cells[1]["id"] == first and len(notebook.cells[0]["id"]) == 12
    assert notebook.config == {"dependencies": {"scala": ["org:lib:1.0"]}}


@pytest.mark.django_db
def test_a_stale_revision_is_refused_with_the_current_one(shared_notebook, editor_ed) -> None:  # type: ignore[no-untyped-def]
    client = client_for(editor_ed)
    body = {"revision": shared_notebook.revision, "cells": [], "config": {}}
    assert client.put(URL.format(shared_notebook.pk), body, format="json").status_code == 200
    stale = client.put(URL.format(shared_notebook.pk), body, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "conflict" and stale.json()["revision"] == shared_notebook.revision + 1
    assert "detail" in stale.json()


BAD = [
    ("no revision", {"cells": []}, "revision"),
    ("cells not a list", {"cells": {"a": 1}}, "cells"),
    ("unknown language", {"cells": [{"language": "cobol", "source": ""}]}, "cells[0].language"),
    ("duplicate ids", {"cells": [{"id": "a", "language": "python"}, {"id": "a", "language": "sql"}]}, "cells[1].id"),
    ("bad id", {"cells": [{"id": "no spaces", "language": "python"}]}, "cells[0].id"),
    ("oversized cell", {"cells": [{"language": "python", "source": "x" * (MAX_SOURCE_BYTES + 1)}]}, "cells[0].source"),
    ("source not text", {"cells": [{"language": "python", "source": 3}]}, "cells[0].source"),
    ("unknown field", {"cells": [{"language": "python", "colour": "red"}]}, "cells[0].colour"),
    ("too many cells", {"cells": [{"language": "text"}] * (MAX_CELLS + 1)}, "cells"),
    ("config not an object", {"cells": [], "config": [1]}, "config"),
    ("metadata not an object", {"cells": [{"language": "python", "metadata": 1}]}, "cells[0].metadata"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [pytest.param(b, f, id=name) for name, b, f in BAD])
def test_bad_drafts_are_refused_naming_the_field(shared_notebook, editor_ed, body, field) -> None:  # type: ignore[no-untyped-def]
    body = {"revision": shared_notebook.revision, "config": {}, **body}
    if field == "revision":
        del body["revision"]
    response = client_for(editor_ed).put(URL.format(shared_notebook.pk), body, format="json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["field"] == field
    assert Notebook.objects.get(pk=shared_notebook.pk).revision == shared_notebook.revision


@pytest.mark.django_db
def test_malformed_json_is_refused_naming_the_body(shared_notebook, editor_ed) -> None:  # type: ignore[no-untyped-def]
    response = client_for(editor_ed).put(URL.format(shared_notebook.pk), "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "body"


@pytest.mark.django_db(transaction=True)
async def test_put_tells_live_viewers_the_draft_was_replaced(olga) -> None:  # type: ignore[no-untyped-def]
    from notebooks.services import do_create_notebook
    from quire.accounts.services import do_issue_token
    from tests.live import NotebookClient

    notebook = await database_sync_to_async(do_create_notebook)(olga, title="Live")
    token = await database_sync_to_async(lambda: do_issue_token(olga, name="t").key)()
    viewer = NotebookClient(notebook.pk, token=token)
    await viewer.connect()

    def put() -> int:
        client = client_for(olga)
        body = json.dumps({"revision": 0, "cells": [{"language": "sql", "source": "select 2"}], "config": {}})
        return client.put(URL.format(notebook.pk), body, content_type="application/json").status_code

    assert await database_sync_to_async(put)() == 200
    event = await viewer.until(lambda e: e["type"] == "draft_replaced")
    assert event["revision"] == 1
    # Editing over the WebSocket goes on from the new revision.
    stored = await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)
    req = await viewer.send("update_cell", cell_id=stored.cells[0]["id"], source="select 3")
    assert (await viewer.reply(req))["revision"] == 2
    await viewer.close()
