"""Hostile input against a live Daphne: every REST endpoint that takes input and every WebSocket message type.

Each case puts one hostile value (NUL, a lone surrogate, a huge string, JSON nested 20k-100k deep, a wrong type,
a negative or absurd number) into one field, plus a few seeded mixes of several at once. Whatever the server
makes of a case, it answers: no 5xx, a JSON body under /api/, no `internal` error event, no dropped connection,
and no traceback in the server's log.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets

from tests.support import Service, check_server_message

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 1313
MIXED_CASES = 40
# Every slot gets the values that broke the server before (CORE) and a seeded handful of the others, which keeps
# the run near a minute; across the slots every value is used many times.
CORE = ("nul", "lone_surrogate", "huge_string", "deep_list_20k", "deep_dict_100k", "int_4301_digits")
OTHERS_PER_SLOT = 4

# Where a template takes the hostile value, and the draft's current revision.
HOLE = "@HOSTILE"
REV = "@REV"

# JSON text of each hostile value: spliced into a request where HOLE stands (deep nesting cannot go through
# json.dumps, and NaN must stay NaN).
HOSTILE_JSON: dict[str, str] = {
    "nul": json.dumps("a\x00b"),
    "lone_surrogate": '"x\\ud800y"',
    "lone_low_surrogate": '"\\udfff"',
    "huge_string": json.dumps("x" * 1_100_000),
    "deep_list_20k": "[" * 20_000 + "]" * 20_000,
    "deep_dict_100k": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "list": "[]",
    "object": "{}",
    "true": "true",
    "null": "null",
    "float": "1.5",
    "string_one": '"1"',
    "negative": "-1",
    "huge_negative": "-" + "9" * 40,
    "huge_int": "1" + "0" * 30,
    "int_4301_digits": "9" * 4301,
    "nan": "NaN",
    "infinity": "Infinity",
    "big_float": "1e308",
    "nul_key": '{"a\\u0000": 1}',
    "surrogate_key": '{"\\ud800": 1}',
}



def _values_for_slots(rng: random.Random) -> Iterator[list[tuple[str, str]]]:
    others = [name for name in HOSTILE_JSON if name not in CORE]
    while True:
        names = [*CORE, *rng.sample(others, OTHERS_PER_SLOT)]
        yield [(name, HOSTILE_JSON[name]) for name in names]


# Raw values for query strings and path segments (already percent-encoded where they must be).
HOSTILE_QUERY: dict[str, str] = {
    "nul": "a%00b",
    "bad_utf8": "%ED%A0%80",
    "huge": "q" * 100_000,
    "huge_int": "1" + "0" * 30,
    "negative": "-1",
    "not_a_number": "abc",
    "float": "1.5",
    "empty": "",
}


@dataclass(frozen=True)
class Arena:
    notebook_id: int
    cell_id: str
    grant_id: int
    token: str


@pytest.fixture
def arena(alice, bob, team_acme) -> Arena:  # type: ignore[no-untyped-def]
    """Alice's notebook (one version saved, shared with bob); she may start no kernel, so runs go nowhere."""
    from notebooks import services, sharing, versioning
    from quire.accounts.services import do_issue_token
    from quire.quotas.models import Quota

    Quota.objects.create(scope=Quota.Scope.USER, user=alice, max_kernels=0)
    notebook = services.do_create_notebook(alice, title="Arena")
    grant = sharing.check_share(alice, notebook.pk, username="bob", role="viewer")
    versioning.check_save_version(alice, notebook.pk, message="first")
    return Arena(notebook_id=notebook.pk, cell_id=notebook.cells[0]["id"], grant_id=grant.pk,
                 token=do_issue_token(alice, name="fuzz").key)


def _log_since(service: Service, offset: int) -> str:
    service.log.flush()
    with service.log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _log_size(service: Service) -> int:
    service.log.flush()
    return service.log_path.stat().st_size


# ------------------------------------------------------------------ REST


@dataclass
class Call:
    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] | None = None


def _rest_calls(arena: Arena) -> list[Call]:
    nb = f"/api/notebooks/{arena.notebook_id}/"
    ipynb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
             "cells": [{"cell_type": "code", "source": "1", "metadata": {}, "outputs": []}]}

    def with_hole(value: Any, hole_at: list[Any] | dict[str, Any], key: Any) -> str:
        hole_at[key] = "__HOSTILE__"
        return json.dumps(value).replace('"__HOSTILE__"', HOLE)

    def ipynb_with(path: tuple[Any, ...]) -> str:
        doc = json.loads(json.dumps(ipynb))
        target = doc
        for key in path[:-1]:
            target = target[key]
        return with_hole(doc, target, path[-1])

    # (method, path, body template): HOLE is replaced by each hostile value, REV by the draft's revision.
    slots: list[tuple[str, str, str]] = [
        ("POST", "/api/notebooks/", '{"title": @HOSTILE}'),
        ("POST", "/api/notebooks/", '{"title": "t", "team": @HOSTILE}'),
        ("PATCH", nb, '{"title": @HOSTILE}'),
        ("PUT", nb + "draft/", '{"revision": @HOSTILE, "cells": []}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": @HOSTILE}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": [@HOSTILE]}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": [{"language": "python", "source": @HOSTILE}]}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": [{"id": @HOSTILE, "language": "python"}]}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": [{"language": @HOSTILE}]}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": [{"language": "sql", "metadata": @HOSTILE}]}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": [{"language": "sql", "metadata": {"k": @HOSTILE}}]}'),
        ("PUT", nb + "draft/", '{"revision": @REV, "cells": [], "config": @HOSTILE}'),
        ("POST", nb + "outputs/clear/", '{"cell_id": @HOSTILE}'),
        ("PUT", nb + "config/", '{"config": @HOSTILE}'),
        ("PUT", nb + "config/", '{"config": {}, "revision": @HOSTILE}'),
        ("PUT", nb + "config/", '{"config": {"env": {"A": @HOSTILE}}}'),
        ("PUT", nb + "config/", '{"config": {"dependencies": {"python": [@HOSTILE]}}}'),
        ("PUT", nb + "config/", '{"config": {"dependencies": {"scala": [@HOSTILE]}}}'),
        ("PUT", nb + "config/", '{"config": {"sparkConfig": {"spark.x": @HOSTILE}}}'),
        ("PUT", nb + "config/", '{"config": {"repositories": [{"pip": {"url": @HOSTILE}}]}}'),
        ("PUT", nb + "config/", '{"config": {"jvmArgs": @HOSTILE}}'),
        ("POST", "/api/teams/", '{"name": @HOSTILE}'),
        ("POST", "/api/teams/acme/members/", '{"username": @HOSTILE}'),
        ("POST", "/api/teams/acme/members/", '{"username": "bob", "role": @HOSTILE}'),
        ("POST", nb + "grants/", '{"user": @HOSTILE, "role": "viewer"}'),
        ("POST", nb + "grants/", '{"team": @HOSTILE, "role": "viewer"}'),
        ("POST", nb + "grants/", '{"user": "carol", "role": @HOSTILE}'),
        ("PATCH", f"{nb}grants/{arena.grant_id}/", '{"role": @HOSTILE}'),
        ("POST", nb + "versions/", '{"message": @HOSTILE}'),
        ("POST", nb + "versions/1/fork/", '{"title": @HOSTILE}'),
        ("POST", "/api/tokens/", '{"name": @HOSTILE}'),
        ("POST", "/api/notebooks/import/", ipynb_with(("cells", 0, "source"))),
        ("POST", "/api/notebooks/import/", ipynb_with(("cells", 0, "metadata"))),
        ("POST", "/api/notebooks/import/", ipynb_with(("cells", 0, "outputs"))),
        ("POST", "/api/notebooks/import/", ipynb_with(("cells", 0, "id"))),
        ("POST", "/api/notebooks/import/", ipynb_with(("metadata", "config"))),
        ("POST", "/api/notebooks/import/", ipynb_with(("metadata", "language_info"))),
        ("POST", "/api/notebooks/import/",
         json.dumps({**ipynb, "metadata": {"quire": {"title": "__HOSTILE__"}}}).replace('"__HOSTILE__"', HOLE)),
        # The whole body.
        ("POST", "/api/notebooks/", HOLE),
        ("PUT", nb + "draft/", HOLE),
        ("PUT", nb + "config/", HOLE),
        ("POST", nb + "outputs/clear/", HOLE),
        ("POST", "/api/notebooks/import/", HOLE),
        ("POST", nb + "grants/", HOLE),
        ("POST", "/api/teams/", HOLE),
    ]
    rng = random.Random(SEED)
    values = _values_for_slots(rng)
    calls = [
        Call(f"{method} {path} {template[:60]} <- {name}", method, path,
             template.replace(HOLE, value).encode("utf-8", "surrogatepass"))
        for method, path, template in slots
        for name, value in next(values)
    ]
    names = list(HOSTILE_JSON)
    for index in range(MIXED_CASES):
        # Several hostile values at once, in a draft's cells, where each could mask the others.
        picks = [HOSTILE_JSON[rng.choice(names)] for _ in range(4)]
        body = '{"revision": @REV, "cells": [{"id": @1, "language": @2, "source": @3, "metadata": {"m": @4}}]}'
        for number, pick in enumerate(picks, start=1):
            body = body.replace(f"@{number}", pick)
        calls.append(Call(f"mixed draft #{index}", "PUT", nb + "draft/", body.encode("utf-8", "surrogatepass")))

    for name, value in HOSTILE_QUERY.items():
        for param in ("q", "limit", "offset", "filter", "team"):
            calls.append(Call(f"GET list ?{param} <- {name}", "GET", f"/api/notebooks/?{param}={value}"))
        for param in ("from", "to"):
            calls.append(Call(f"GET diff ?{param} <- {name}", "GET", f"{nb}diff/?{param}={value}"))
        calls.append(Call(f"GET export ?version <- {name}", "GET", f"{nb}export/?version={value}"))
        calls.append(Call(f"import ?title <- {name}", "POST", f"/api/notebooks/import/?title={value}",
                          json.dumps(ipynb).encode()))
        calls.append(Call(f"import ?team <- {name}", "POST", f"/api/notebooks/import/?team={value}",
                          json.dumps(ipynb).encode()))
        if value and len(value) < 1000:
            calls.append(Call(f"DELETE member <- {name}", "DELETE", f"/api/teams/acme/members/{value}/"))
            calls.append(Call(f"GET team <- {name}", "GET", f"/api/teams/{value}/"))
    for huge in ("9" * 30, "9" * 19):
        calls.append(Call(f"GET notebook {huge}", "GET", f"/api/notebooks/{huge}/"))
        calls.append(Call(f"PATCH grant {huge}", "PATCH", f"{nb}grants/{huge}/", b'{"role": "runner"}'))
        calls.append(Call(f"GET version {huge}", "GET", f"{nb}versions/{huge}/"))

    for field, value in (("title", "a\x00b"), ("team", "a\x00b"), ("title", "x" * 100_000)):
        form = _multipart({field: value}, filename="n.ipynb", content=json.dumps(ipynb).encode())
        calls.append(Call(f"multipart import {field} <- {value[:10]!r}", "POST", "/api/notebooks/import/", *form))
    for filename in ("a\x00b.ipynb", "x" * 10_000 + ".ipynb"):
        form = _multipart({}, filename=filename, content=json.dumps(ipynb).encode())
        calls.append(Call(f"multipart import filename <- {filename[:10]!r}", "POST", "/api/notebooks/import/", *form))
    for header, value in (("Cookie", "sessionid=abcdefgh\x00ijkl"), ("Authorization", "Bearer qt_\x00abc"),
                          ("X-CSRFToken", "\x00"), ("Cookie", "sessionid=" + "s" * 10_000)):
        calls.append(Call(f"header {header} <- {value[:20]!r}", "GET", "/api/notebooks/", headers={header: value}))
    for name, raw in (("not utf-8", b"\xff\xfe{}"), ("not json", b"{'a': 1"), ("empty", b"")):
        calls.append(Call(f"draft body {name}", "PUT", nb + "draft/", raw))
        calls.append(Call(f"import body {name}", "POST", "/api/notebooks/import/", raw))
    return calls


def _multipart(fields: dict[str, str], *, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "quirefuzzboundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/json\r\n\r\n".encode() + content + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _request(port: int, token: str, call: Call, body: bytes | None, revision: int) -> tuple[int, str, bytes]:
    if body is not None:
        body = body.replace(REV.encode(), str(revision).encode())
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{port}", **(call.headers or {})}
        if body is not None:
            headers["Content-Type"] = call.content_type
        connection.request(call.method, call.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def test_hostile_rest_input_never_gets_a_5xx_a_dropped_connection_or_a_traceback(daphne, arena: Arena) -> None:
    service, port = daphne
    log_start = _log_size(service)
    revision = 0
    failures: list[str] = []
    for call in _rest_calls(arena):
        try:
            status, content_type, payload = _request(port, arena.token, call, call.body, revision)
            if status == 409 and b'"revision"' in payload:
                revision = json.loads(payload)["revision"]  # the draft moved on: once more at its revision
                status, content_type, payload = _request(port, arena.token, call, call.body, revision)
        except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
            failures.append(f"{call.name}: connection dropped ({exc!r})")
            continue
        if status >= 500:
            failures.append(f"{call.name}: {status} {payload[:200]!r}")
        elif status >= 400 and "application/json" not in content_type:
            failures.append(f"{call.name}: {status} answered with {content_type}, not JSON: {payload[:200]!r}")
        if status in (200, 201) and call.path.endswith("draft/"):
            revision = json.loads(payload)["revision"]
    log = _log_since(service, log_start)
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} failures)"
    assert "Traceback" not in log, log[-8000:]


# ------------------------------------------------------------------ WebSocket

# Every message type of docs/protocol.md with its valid fields; each field in turn gets each hostile value.
WS_MESSAGES: dict[str, dict[str, Any]] = {
    "insert_cell": {"index": 0, "cell": {"language": "python", "source": "x = 1", "metadata": {}}},
    "update_cell": {"cell_id": "CELL", "source": "x = 2"},
    "edit_source": {"cell_id": "CELL", "update": "AAA="},
    "set_language": {"cell_id": "CELL", "language": "python"},
    "delete_cell": {"cell_id": "nosuchcell"},
    "move_cell": {"cell_id": "CELL", "index": 0},
    "clear_outputs": {"cell_id": "CELL"},
    "run_cell": {"cell_id": "CELL"},
    "run_from": {"cell_id": "CELL"},
    "run_all": {},
    "run_stale": {},
    "interrupt": {},
    "restart": {},
    "shutdown": {},
    "complete": {"cell_id": "CELL", "source": "import os\nos.pa", "pos": 14},
    "signature": {"cell_id": "CELL", "source": "print(", "pos": 6},
    "hover": {"cell_id": "CELL", "source": "print(x)", "pos": 2},
    "check": {"cell_id": "CELL", "source": "x = (1 +"},
    "table_page": {"cell_id": "CELL", "ref": "t1", "offset": 0, "page_size": 50},
    "explore": {"cell_id": "CELL", "name": "df", "op": "page", "args": {"sort": [{"column": "a"}]}},
    "inspect_scope": {"cell_id": "CELL"},
    "focus": {"cell_id": "CELL"},
}


def _ws_frames(cell_id: str) -> list[tuple[str, str]]:
    frames: list[tuple[str, str]] = []
    rng = random.Random(SEED)
    values = _values_for_slots(rng)

    def frame(kind: str, fields: dict[str, Any], req: int | str = 1) -> str:
        text = json.dumps({"v": 1, "type": kind, "req": req, **fields})
        return text.replace('"CELL"', json.dumps(cell_id))

    for kind, fields in WS_MESSAGES.items():
        paths: list[tuple[str, ...]] = [(name,) for name in fields]
        paths += [("cell", name) for name in fields.get("cell", {})]
        for path in paths:
            message = json.loads(json.dumps(fields))
            target = message
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = "__HOSTILE__"
            for name, value in next(values):
                # json.dumps puts the sentinel in quotes; the hostile JSON replaces it, quotes and all.
                text = frame(kind, message).replace('"__HOSTILE__"', value)
                frames.append((f"{kind}.{'.'.join(path)} <- {name}", text))
        for name, value in next(values):
            frames.append((f"{kind}.v <- {name}", frame(kind, fields).replace('"v": 1', f'"v": {value}', 1)))
            frames.append((f"{kind}.req <- {name}", frame(kind, fields, req="__HOSTILE__").replace('"__HOSTILE__"', value)))
    for name, value in HOSTILE_JSON.items():
        frames.append((f"type <- {name}", '{"v": 1, "req": 1, "type": @HOSTILE}'.replace(HOLE, value)))
        frames.append((f"frame <- {name}", value))
    names = list(HOSTILE_JSON)
    for index in range(MIXED_CASES):
        kind = rng.choice(list(WS_MESSAGES))
        fields = {key: "__HOSTILE__" for key in WS_MESSAGES[kind]}
        text = frame(kind, fields)
        while '"__HOSTILE__"' in text:
            text = text.replace('"__HOSTILE__"', HOSTILE_JSON[rng.choice(names)], 1)
        frames.append((f"mixed {kind} #{index}", text))
    frames.append(("over 2 MB", json.dumps({"v": 1, "type": "focus", "req": 1, "cell_id": "x" * 2_100_000})))
    frames.append(("not json", "{'v': 1"))
    return frames


async def _connect(port: int, notebook_id: int | str, token: str) -> Any:
    return await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/notebooks/{notebook_id}/",
        additional_headers={"Authorization": f"Bearer {token}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=20, max_size=None,
    )


async def _until_reply(ws: Any, req: int) -> list[dict[str, Any]]:
    """Every frame up to and including the ack or error for `req`."""
    seen = []
    while True:
        event = check_server_message(await asyncio.wait_for(ws.recv(), timeout=30))
        seen.append(event)
        if event.get("type") in ("ack", "error") and event.get("req") == req:
            return seen


async def test_hostile_websocket_messages_never_get_internal_errors_or_a_dropped_connection(
    daphne, arena: Arena  # type: ignore[no-untyped-def]
) -> None:
    service, port = daphne
    log_start = _log_size(service)
    ws = await _connect(port, arena.notebook_id, arena.token)
    failures: list[str] = []
    try:
        assert check_server_message(await ws.recv())["type"] == "snapshot"
        # A probe after each case: its reply shows the connection still works and marks where the case ends.
        probe_req = 1_000_000
        for name, text in _ws_frames(arena.cell_id):
            while True:
                probe_req += 1
                try:
                    await ws.send(text)
                    await ws.send(json.dumps({"v": 1, "type": "interrupt", "req": probe_req}))
                    seen = await _until_reply(ws, probe_req)
                except websockets.ConnectionClosed as exc:
                    failures.append(f"{name}: connection dropped ({exc!r})")
                    ws = await _connect(port, arena.notebook_id, arena.token)
                    await ws.recv()
                    break
                replies = [e for e in seen[:-1] if e.get("type") in ("ack", "error")]
                if any(e.get("code") == "rate_limited" for e in seen):
                    await asyncio.sleep(0.5)
                    continue
                if not replies:
                    failures.append(f"{name}: no reply")
                for event in seen:
                    if event.get("code") == "internal":
                        failures.append(f"{name}: internal error {event}")
                break
    finally:
        await ws.close()
    log = _log_since(service, log_start)
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} failures)"
    assert "Traceback" not in log, log[-8000:]


async def test_a_notebook_id_too_big_for_the_database_is_not_found(daphne, arena: Arena) -> None:  # type: ignore[no-untyped-def]
    service, port = daphne
    log_start = _log_size(service)
    ws = await _connect(port, "9" * 30, arena.token)
    event = check_server_message(await ws.recv())
    assert event["type"] == "error" and event["code"] == "not_found"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    assert "Traceback" not in _log_since(service, log_start)
