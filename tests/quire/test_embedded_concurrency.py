"""Embedded mode under four people at once: typing, draft saves and forks, runs. No lock error, no lost keystroke."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from pycrdt import Doc, Map, Text

from tests.quire.test_embedded_mode import MANAGE
from tests.support import REPO, Service, env_for, start_daphne

# Long enough for every kind of writer to overlap many times over (on main it failed within seconds).
DURATION_S = 30.0
# A fast typist's pace (20 keys a second), well inside a connection's write rate (notebooks.consumers.RATE_PER_S).
KEYSTROKE_GAP_S = 0.05

SETUP = """
from django.contrib.auth import get_user_model
from quire.accounts.services import do_issue_token
from notebooks.services import do_create_notebook, new_cell_id
user = get_user_model().objects.create_user(username="dora", password="x")
typed = do_create_notebook(user, title="Typed", cells=[
    {"id": new_cell_id(), "language": "python", "source": source, "metadata": {}} for source in ("", "", "1 + 1")
])
saved = do_create_notebook(user, title="Saved")
print(do_issue_token(user, name="t").key, typed.pk, saved.pk, *[cell["id"] for cell in typed.cells])
"""


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, int, str, int, int, list[str]]]:
    """An embedded-mode server (one Daphne, SQLite) whose REST rate is lifted: one caller saves as fast as it can."""
    var_dir: Path = tmp_path_factory.mktemp("embedded-busy")
    env = env_for({"DATABASE_URL": None, "REDIS_URL": None, "SECRET_KEY": None, "QUIRE_VAR_DIR": str(var_dir),
                   "QUIRE_RATE_LIMITS": "api_user=100000/1m,api_anonymous=100000/1m"})
    subprocess.run([*MANAGE, "migrate", "--noinput"], cwd=REPO, env=env, check=True, capture_output=True)
    out = subprocess.run([*MANAGE, "shell", "-c", SETUP], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    token, typed, saved, *cells = out.stdout.strip().splitlines()[-1].split()
    server, port = start_daphne(env=env, log_dir=var_dir)
    yield server, port, token, int(typed), int(saved), cells
    server.stop()


class Socket:
    """One person's notebook connection: requests one at a time, the shared document kept up to date."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.req = 0
        self.doc: Doc[Any] = Doc()
        self.errors: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, port: int, token: str, notebook_id: int) -> Socket:
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/",
            additional_headers={"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"},
            open_timeout=20, max_size=None,
        )
        socket = cls(ws)
        snapshot = json.loads(await ws.recv())
        assert snapshot["type"] == "snapshot", snapshot
        socket.doc.apply_update(base64.b64decode(snapshot["notebook"]["ydoc"]))
        return socket

    def text(self, cell_id: str) -> str:
        return str(self.doc.get("sources", type=Map)[cell_id])

    def _take(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("ydoc_update"), str):
            self.doc.apply_update(base64.b64decode(event["ydoc_update"]))
        if event.get("type") == "error" or (event.get("type") == "notice" and "locked" in json.dumps(event)):
            self.errors.append(event)

    async def next_event(self) -> dict[str, Any]:
        event = json.loads(await self.ws.recv())
        self._take(event)
        return event

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        """The ack or error of one request."""
        self.req += 1
        req = self.req
        await self.ws.send(json.dumps({"v": 1, "type": type_, "req": req, **fields}))
        while True:
            event = await self.next_event()
            if event.get("type") in ("ack", "error") and event.get("req") == req:
                return event

    async def type_char(self, cell_id: str, char: str) -> dict[str, Any]:
        """Types one character at the end of a cell, as the editor does: a Yjs update of the shared document."""
        before = self.doc.get_state()
        text = self.doc.get("sources", type=Map)[cell_id]
        assert isinstance(text, Text)
        text.insert(len(text), char)
        return await self.request("edit_source", cell_id=cell_id, update=base64.b64encode(self.doc.get_update(before)).decode())


async def _typist(port: int, token: str, notebook_id: int, cell_id: str, letters: str, until: float) -> tuple[str, str, list[Any]]:
    socket = await Socket.open(port, token, notebook_id)
    acked = ""
    i = 0
    async with socket.ws:
        while time.monotonic() < until:
            char = letters[i % len(letters)]
            i += 1
            reply = await socket.type_char(cell_id, char)
            if reply["type"] == "ack":
                acked += char
            await asyncio.sleep(KEYSTROKE_GAP_S)
        return acked, socket.text(cell_id), socket.errors


def _http(port: int, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


async def _saver(port: int, token: str, notebook_id: int, until: float) -> list[tuple[str, int, Any]]:
    """Saves the draft of another notebook again and again, saving a version and forking it every few saves."""
    failures: list[tuple[str, int, Any]] = []
    n = 0
    while time.monotonic() < until:
        n += 1
        status, notebook = await asyncio.to_thread(_http, port, token, "GET", f"notebooks/{notebook_id}/")
        if status != 200:
            failures.append(("get", status, notebook))
            continue
        cell = notebook["cells"][0]
        cells = [{"id": cell["id"], "language": cell["language"], "metadata": cell["metadata"], "source": f"print({n})"}]
        status, body = await asyncio.to_thread(
            _http, port, token, "PUT", f"notebooks/{notebook_id}/draft/",
            {"revision": notebook["revision"], "cells": cells, "config": notebook["config"]},
        )
        if status != 200:
            failures.append(("put draft", status, body))
        if n % 5 == 0:
            status, version = await asyncio.to_thread(_http, port, token, "POST", f"notebooks/{notebook_id}/versions/", {})
            if status not in (200, 201):
                failures.append(("save version", status, version))
                continue
            status, body = await asyncio.to_thread(
                _http, port, token, "POST", f"notebooks/{notebook_id}/versions/{version.get('version', version)['number']}/fork/", {}
            )
            if status != 201:
                failures.append(("fork", status, body))
    return failures


async def _runner(port: int, token: str, notebook_id: int, cell_id: str, until: float) -> tuple[list[str], list[Any]]:
    socket = await Socket.open(port, token, notebook_id)
    states: list[str] = []
    async with socket.ws:
        while time.monotonic() < until:
            reply = await socket.request("run_cell", cell_id=cell_id)
            if reply["type"] == "error":
                continue
            while True:
                event = await asyncio.wait_for(socket.next_event(), 120)
                if event.get("type") == "cell_status" and event.get("cell_id") == cell_id and event["state"] in (
                    "done", "error", "cancelled"
                ):
                    states.append(event["state"])
                    break
        await socket.request("shutdown")
        return states, socket.errors


async def test_four_people_at_once_lose_nothing_and_see_no_lock_error(busy_server) -> None:  # type: ignore[no-untyped-def]
    server, port, token, typed, saved, (first, second, third) = busy_server
    until = time.monotonic() + DURATION_S
    one, two, failures, (states, run_errors) = await asyncio.gather(
        _typist(port, token, typed, first, "abcdefghij", until),
        _typist(port, token, typed, second, "0123456789", until),
        _saver(port, token, saved, until),
        _runner(port, token, typed, third, until),
    )
    server.log.flush()
    log = server.log_path.read_text(errors="replace")
    assert "database is locked" not in log, log[-6000:]
    assert "kernel host failed" not in log, log[-6000:]
    assert failures == []
    assert run_errors == [] and states and set(states) == {"done"}, (states, run_errors)
    # After a reload the server holds every acked keystroke, and exactly what each typist's editor shows.
    reloaded = await Socket.open(port, token, typed)
    async with reloaded.ws:
        for cell_id, (acked, believed, errors) in ((first, one), (second, two)):
            assert errors == []
            assert acked and reloaded.text(cell_id) == acked == believed
