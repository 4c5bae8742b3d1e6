"""Hostile input named by field: NUL bytes, lone surrogates, deep JSON, absurd numbers, over REST and the WebSocket.

The WebSocket is held to the same rules as REST: the same cell schema (metadata size included), indexes in
range, protocol version 1 only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from notebooks.limits import MAX_METADATA_BYTES, MAX_PAGE_SIZE
from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from quire.lib.text import MAX_JSON_DEPTH
from tests.live import NotebookClient

DEEP = "[" * 50_000 + "]" * 50_000
IPYNB: dict[str, Any] = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
         "cells": [{"cell_type": "code", "source": "1", "metadata": {}, "outputs": []}]}


def _ipynb(**cell: Any) -> str:
    return json.dumps({**IPYNB, "cells": [{**IPYNB["cells"][0], **cell}]})


@pytest.fixture
def client(alice) -> APIClient:  # type: ignore[no-untyped-def]
    api = APIClient()
    api.force_authenticate(alice)
    return api


@pytest.fixture
def notebook(alice, team_acme) -> Notebook:  # type: ignore[no-untyped-def]
    return do_create_notebook(alice, title="Target")


def _raw(client: APIClient, method: str, path: str, body: str) -> Any:
    return getattr(client, method)(path, data=body.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/notebooks/", '{"title": "t", "team": "a\\u0000"}', "team"),
        ("post", "/api/notebooks/", '{"title": "t", "team": "\\ud800"}', "team"),
        ("put", "draft", '{"revision": 0, "cells": [{"language": "python", "source": "x\\u0000"}]}', "cells[0].source"),
        ("put", "draft", '{"revision": 0, "cells": [{"language": "python", "source": "\\udfff"}]}', "cells[0].source"),
        ("put", "draft", '{"revision": 0, "cells": [{"language": "sql", "metadata": {"a\\u0000": 1}}]}',
         "cells[0].metadata"),
        ("put", "draft", '{"revision": 0, "cells": [], "config": {"env": {"A": "\\ud800"}}}', "config.env.A"),
        ("put", "config", '{"config": {"sparkConfig": {"spark.x": "a\\u0000b"}}}', "config.sparkConfig.spark.x"),
        ("put", "config", '{"config": {"jvmArgs": ["\\ud800"]}}', "config.jvmArgs[0]"),
        ("post", "grants", '{"user": "bob", "role": "\\ud800"}', "role"),
        ("post", "/api/teams/", '{"name": "a\\u0000"}', "name"),
        ("post", "/api/notebooks/import/", _ipynb(source="x\x00"), "cells[0].source"),
        ("post", "/api/notebooks/import/", _ipynb(metadata={"tags": ["\ud800"]}), "cells[0].metadata.tags[0]"),
        ("post", "/api/notebooks/import/", json.dumps({**IPYNB, "metadata": {"language_info": "python"}}),
         "metadata.language_info"),
        ("put", "draft", DEEP, "body"),
        ("put", "draft", '{"revision": 0, "cells": [], "config": {"x": %s}}' % DEEP, "body"),  # noqa: UP031
        ("put", "draft", '{"revision": 0, "cells": [{"language": "sql", "metadata": {"x": %s}}]}'  # noqa: UP031
         % ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH), "cells[0].metadata.x"),
        ("post", "/api/notebooks/", DEEP, "body"),
        ("post", "/api/notebooks/import/", DEEP, "file"),
        ("post", "/api/notebooks/import/", '{"nbformat": %s}' % ("9" * 5000), "file"),  # noqa: UP031
        ("put", "draft", '{"revision": 0, "cells": [{"language": "sql", "metadata": {"x": NaN}}]}', "body"),
    ],
)
def test_hostile_text_in_a_body_is_a_400_naming_the_field(
    client: APIClient, notebook: Notebook, method: str, path: str, body: str, field: str
) -> None:
    paths = {"draft": f"/api/notebooks/{notebook.pk}/draft/", "config": f"/api/notebooks/{notebook.pk}/config/",
             "grants": f"/api/notebooks/{notebook.pk}/grants/"}
    response = _raw(client, method, paths.get(path, path), body)
    assert response.status_code == 400, response.content[:300]
    named = response.json()["field"]
    assert named == field or named.startswith(field + "["), response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/notebooks/?q=a%00b", "q"),
        ("/api/notebooks/?team=%00", "team"),
        ("/api/notebooks/import/?title=a%00", "title"),
        ("/api/teams/acme/members/a%00b/", "path"),
    ],
)
def test_a_nul_byte_in_a_url_is_a_400_naming_where(client: APIClient, notebook: Notebook, path: str, field: str) -> None:
    if "import" in path:
        response = client.post(path, data=json.dumps(IPYNB), content_type="application/json")
    else:
        response = client.delete(path) if "members" in path else client.get(path)
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.django_db
def test_multipart_import_fields_are_checked_too(client: APIClient) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    for data, field in (({"title": "a\x00"}, "title"), ({"team": "\x00"}, "team")):
        upload = SimpleUploadedFile("n.ipynb", json.dumps(IPYNB).encode(), content_type="application/json")
        response = client.post("/api/notebooks/import/", data={**data, "file": upload}, format="multipart")
        assert response.status_code == 400 and response.json()["field"] == field, response.content


@pytest.mark.django_db
def test_pagination_clamps_large_limits_and_refuses_nonsense(client: APIClient, alice) -> None:  # type: ignore[no-untyped-def]
    Notebook.objects.bulk_create(Notebook(owner=alice, title=f"n{n}") for n in range(MAX_PAGE_SIZE + 5))
    page = client.get("/api/notebooks/", {"limit": "100000"}).json()
    assert len(page["results"]) == MAX_PAGE_SIZE and f"limit={MAX_PAGE_SIZE}" in page["next"]
    for params, field in (({"limit": str(10**30)}, "limit"), ({"limit": "abc"}, "limit"), ({"limit": "0"}, "limit"),
                          ({"limit": "-1"}, "limit"), ({"offset": "-3"}, "offset"), ({"offset": "1e3"}, "offset")):
        response = client.get("/api/notebooks/", params)
        assert response.status_code == 400 and response.json()["field"] == field, params
    assert client.get("/api/notebooks/", {"limit": "2", "offset": str(10**17)}).json()["results"] == []


@pytest.mark.django_db
def test_errors_django_raises_itself_are_json_under_api(client: APIClient) -> None:
    response = client.get("/api/no-such-endpoint/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert client.get("/no-such-page/").status_code == 404  # pages keep Django's HTML


# ------------------------------------------------------------------ the WebSocket


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_applies_the_rest_rules(alice, alice_token) -> None:  # type: ignore[no-untyped-def]
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Same rules")
    client = NotebookClient(notebook.pk, token=alice_token)
    snapshot = await client.connect()
    cell_id = snapshot["notebook"]["cells"][0]["id"]

    async def error_of(raw: str) -> dict[str, Any]:
        await client.send_raw(raw)
        return await client.until(lambda e: e["type"] in ("ack", "error"), timeout=20)

    big_metadata = {"blob": "x" * (MAX_METADATA_BYTES + 6_000)}
    cases: list[tuple[dict[str, Any] | str, str, str]] = [
        ({"type": "insert_cell", "index": 0, "cell": {"language": "python", "metadata": big_metadata}},
         "invalid", "cell.metadata"),
        ({"type": "insert_cell", "index": 0, "cell": {"language": "python", "colour": "red"}}, "invalid", "cell.colour"),
        ({"type": "insert_cell", "index": -1, "cell": {}}, "invalid", "index"),
        ({"type": "insert_cell", "index": 10**6, "cell": {}}, "invalid", "index"),
        ({"type": "move_cell", "cell_id": cell_id, "index": -5}, "invalid", "index"),
        ({"type": "move_cell", "cell_id": cell_id, "index": 1}, "invalid", "index"),
        ({"type": "update_cell", "cell_id": cell_id, "source": "x\x00"}, "invalid", "source"),
        ({"type": "update_cell", "cell_id": "c" * 900_000, "source": "x"}, "invalid", "cell_id"),
        ({"type": "run_cell", "cell_id": "a b"}, "invalid", "cell_id"),
        ({"type": "focus", "cell_id": "\ud800"}, "invalid", "cell_id"),
        ({"type": "complete", "cell_id": cell_id, "source": "x", "pos": 5}, "invalid", "pos"),
        ({"type": "table_page", "cell_id": cell_id, "ref": "t", "offset": 10**30, "page_size": 5}, "invalid", "offset"),
        ({"v": 2, "type": "run_all"}, "unsupported_version", "v"),
        ({"v": "1", "type": "run_all"}, "unsupported_version", "v"),
        ({"v": True, "type": "run_all"}, "unsupported_version", "v"),
        ({"type": "run_all", "req": "seven"}, "invalid", "req"),
        ('{"v": 1, "type": "focus", "cell_id": %s}' % DEEP, "invalid", "message"),  # noqa: UP031
        ('{"v": 1, "type": "focus", "cell_id": NaN}', "invalid", "message"),
    ]
    for message, code, field in cases:
        raw = message if isinstance(message, str) else json.dumps({"v": 1, **message}, ensure_ascii=True)
        error = await error_of(raw)
        assert (error["type"], error["code"], error.get("field")) == ("error", code, field), (str(message)[:200], error)

    # What REST accepts, the WebSocket accepts: metadata within the limit is stored with the cell.
    req = await client.send("insert_cell", index=1, cell={"language": "sql", "metadata": {"tags": ["kept"]}})
    ack = await client.reply(req)
    assert ack["type"] == "ack"
    stored = await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)
    assert stored.cells[1]["metadata"] == {"tags": ["kept"]} and stored.cells[1]["id"] == ack["cell_id"]
    # A message without "v" is version 1.
    await client.send_raw(json.dumps({"type": "focus", "req": 99, "cell_id": cell_id}))
    assert (await client.reply(99))["type"] == "ack"
    await client.close()


def test_updates_cannot_grow_the_shared_document_past_its_limit(alice, notebook) -> None:  # type: ignore[no-untyped-def]
    """An edit_source update may carry content outside the cells' sources, which every viewer would then receive
    with the snapshot: the document as a whole has a limit."""
    from pycrdt import Doc, Text

    from notebooks.limits import MAX_UPDATE_BYTES, MAX_YDOC_BYTES
    from notebooks.services import check_edit_source, do_ensure_ydoc, get_notebook
    from quire.lib.errors import InvalidInput

    do_ensure_ydoc(notebook.pk)
    chunk = "x" * (MAX_UPDATE_BYTES - 1_000)
    with pytest.raises(InvalidInput) as refused:
        for _ in range(MAX_YDOC_BYTES // len(chunk) + 2):
            junk: Doc = Doc()
            junk["junk"] = Text(chunk)
            check_edit_source(alice, notebook.pk, cell_id=notebook.cells[0]["id"], update=junk.get_update())
    assert refused.value.field == "update"
    assert len(get_notebook(alice, notebook.pk)[0].ydoc) <= MAX_YDOC_BYTES
