"""The limits of notebooks/limits.py hold end to end, against a live Daphne: what is within them passes every layer
(HTTP body, WebSocket frame), what is over them gets a JSON answer or a typed error, never a dropped connection;
and nothing one viewer sends makes the others receive much."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from typing import Any

import pytest
import websockets
from channels.db import database_sync_to_async

from notebooks.limits import MAX_REQUEST_BYTES, MAX_SOURCE_BYTES, MAX_WS_MESSAGE_BYTES, MAX_WS_TRANSPORT_BYTES
from notebooks.models import Notebook
from notebooks.services import do_create_notebook
from quire.accounts.services import do_issue_token
from tests.support import ChunkJoiner, check_server_message

pytestmark = pytest.mark.django_db(transaction=True)


def _request(port: int, token: str, method: str, path: str, body: bytes | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


async def _connect(port: int, notebook_id: int, token: str) -> Any:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/",
        additional_headers={"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=20, max_size=None,
    )
    snapshot, _ = await _message(ws)
    assert snapshot["type"] == "snapshot"
    return ws


async def _message(ws: Any) -> tuple[dict[str, Any], int]:
    """The next message, joined from its chunks when it came in several frames (each within Daphne's message
    limit), and how many bytes its frames held."""
    joiner, event, received = ChunkJoiner(), None, 0
    while event is None:
        frame = await asyncio.wait_for(ws.recv(), timeout=60)
        received += len(frame)
        assert len(frame.encode()) <= MAX_WS_TRANSPORT_BYTES
        event = joiner.add(frame)
    return event, received


async def _reply(ws: Any, req: int) -> tuple[dict[str, Any], int]:
    """The ack or error for `req`, and how many bytes arrived up to and including it."""
    received = 0
    while True:
        event, size = await _message(ws)
        received += size
        if event.get("type") in ("ack", "error") and event.get("req") == req:
            return event, received


async def test_a_hostile_focus_is_refused_and_other_viewers_receive_nothing_big(  # type: ignore[no-untyped-def]
    daphne, alice, bob
) -> None:
    _, port = daphne
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Watched")
    from notebooks.sharing import check_share

    await database_sync_to_async(check_share)(alice, notebook.pk, username="bob", role="viewer")
    alice_token = (await database_sync_to_async(do_issue_token)(alice, name="a")).key
    bob_token = (await database_sync_to_async(do_issue_token)(bob, name="b")).key
    owner = await _connect(port, notebook.pk, alice_token)
    viewer = await _connect(port, notebook.pk, bob_token)
    try:
        # The probe's attack: a 900,000-character cell id as focus, 20 times.
        for req in range(1, 21):
            await viewer.send(json.dumps({"v": 1, "type": "focus", "req": req, "cell_id": "x" * 900_000}))
            error, _ = await _reply(viewer, req)
            assert (error["type"], error["code"], error["field"]) == ("error", "invalid", "cell_id")
            assert len(json.dumps(error)) < 1_000
        for req, cell_id in ((21, "a\u0000b"), (22, "\ud800"), (23, 42), (24, ["x"])):
            await viewer.send(json.dumps({"v": 1, "type": "focus", "req": req, "cell_id": cell_id}))
            error, _ = await _reply(viewer, req)
            assert (error["type"], error.get("field")) == ("error", "cell_id"), error
        # Everything the owner received meanwhile: everything sent before her own request below is in it.
        await owner.send(json.dumps({"v": 1, "type": "interrupt", "req": 1}))
        _, received = await _reply(owner, 1)
        assert received < 10_000
        # A real focus still reaches her, as one small presence event.
        cell_id = (await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)).cells[0]["id"]
        await viewer.send(json.dumps({"v": 1, "type": "focus", "req": 30, "cell_id": cell_id}))
        while True:
            frame = await asyncio.wait_for(owner.recv(), timeout=30)
            event = check_server_message(frame)
            if event["type"] == "presence" and {"username": "bob", "cell_id": cell_id} in event["users"]:
                assert len(frame) < 1_000
                break
    finally:
        await owner.close()
        await viewer.close()


async def test_a_cell_at_the_source_limit_passes_the_websocket_and_a_larger_frame_is_an_error(  # type: ignore[no-untyped-def]
    daphne, alice
) -> None:
    _, port = daphne
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Big cell")
    token = (await database_sync_to_async(do_issue_token)(alice, name="a")).key
    ws = await _connect(port, notebook.pk, token)
    try:
        cell_id = (await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)).cells[0]["id"]
        # A 1 MB source with quotes to escape: over Daphne's own 1 MB frame default, within the protocol's limit.
        source = '"' * 200_000 + "x" * (MAX_SOURCE_BYTES - 200_000)
        await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 1, "cell_id": cell_id, "source": source}))
        ack, _ = await _reply(ws, 1)
        assert ack["type"] == "ack", ack
        await ws.send(json.dumps({"v": 1, "type": "update_cell", "req": 2, "cell_id": cell_id,
                                  "source": "y" * (MAX_WS_MESSAGE_BYTES + 100_000)}))
        await ws.send(json.dumps({"v": 1, "type": "interrupt", "req": 3}))
        error = check_server_message(await asyncio.wait_for(ws.recv(), timeout=30))
        while error.get("type") != "error":
            error = check_server_message(await asyncio.wait_for(ws.recv(), timeout=30))
        assert error["code"] == "too_large"
        assert (await _reply(ws, 3))[0]["type"] == "ack"  # the connection is still open
    finally:
        await ws.close()
    stored = await database_sync_to_async(Notebook.objects.get)(pk=notebook.pk)
    assert stored.cells[0]["source"] == source


def test_a_draft_within_the_documented_limits_is_accepted_and_a_larger_body_is_a_json_413(  # type: ignore[no-untyped-def]
    daphne, alice, alice_token
) -> None:
    _, port = daphne
    notebook = do_create_notebook(alice, title="Three big cells")
    cells = [{"language": "python", "source": "x" * (MAX_SOURCE_BYTES - 1)} for _ in range(3)]
    status, _, payload = _request(port, alice_token, "PUT", f"/api/notebooks/{notebook.pk}/draft/",
                                  json.dumps({"revision": 0, "cells": cells}).encode())
    assert status == 200, payload[:300]
    notebook.refresh_from_db()
    assert [len(cell["source"]) for cell in notebook.cells] == [MAX_SOURCE_BYTES - 1] * 3

    too_big = json.dumps({"revision": 1, "cells": [{"language": "python", "source": "x" * MAX_REQUEST_BYTES}]})
    status, content_type, payload = _request(port, alice_token, "PUT", f"/api/notebooks/{notebook.pk}/draft/",
                                             too_big.encode())
    assert (status, content_type) == (413, "application/json"), payload[:300]
    assert json.loads(payload)["field"] == "body"


def test_an_overlong_url_or_header_gets_a_json_answer_not_a_dropped_connection(  # type: ignore[no-untyped-def]
    daphne, alice_token
) -> None:
    _, port = daphne
    status, content_type, payload = _request(port, alice_token, "GET", "/api/notebooks/?q=" + "q" * 100_000)
    assert (status, content_type) == (414, "application/json")
    assert json.loads(payload)["field"] == "url"
    # Headers over the limit, sent the way a client that does not wait for an answer sends them.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /api/notebooks/ HTTP/1.1\r\nHost: x\r\n" + b"X-Padding: " + b"p" * 8000 + b"\r\n"
                     + b"X-More: " + b"m" * 10_000 + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["field"] == "headers"


async def test_a_notebook_at_the_size_limit_opens_for_its_owner_and_a_viewer(  # type: ignore[no-untyped-def]
    daphne, alice, bob, alice_token
) -> None:
    """Sixteen cells of a megabyte each: the snapshot is large, and every open gets it whole."""
    from notebooks.sharing import check_share

    _, port = daphne
    notebook = await database_sync_to_async(do_create_notebook)(alice, title="Sixteen megabytes")
    cells = [{"language": "python", "source": f"# {i}\n" + "x" * (MAX_SOURCE_BYTES - 10)} for i in range(15)]
    status, _, payload = await asyncio.to_thread(
        _request, port, alice_token, "PUT", f"/api/notebooks/{notebook.pk}/draft/",
        json.dumps({"revision": 0, "cells": cells}).encode(),
    )
    assert status == 200, payload[:300]
    await database_sync_to_async(check_share)(alice, notebook.pk, username="bob", role="viewer")
    bob_token = await database_sync_to_async(lambda: do_issue_token(bob, name="t").key)()
    for token in (alice_token, bob_token, alice_token):
        ws = await _connect(port, notebook.pk, token)
        # (_connect has read the whole snapshot, its frames each within the limit.)
        await ws.send(json.dumps({"v": 1, "type": "focus", "req": 1, "cell_id": None}))
        event, _ = await _reply(ws, 1)
        assert event["type"] == "ack", event
        await ws.close()
