"""Keystroke cost against notebook size: 10 editors typing in one cell of a 200-cell x 2 KB notebook, and of a
1-cell notebook. Quire in production mode (Daphne, PostgreSQL, Redis); no Celery, since typing starts no kernel.

    .venv/bin/python benchmarks/keystroke_bench.py [--editors 10] [--seconds 10] [--repeats 3] [--rate 30]
                                                   [--database quire_bench] [--redis-db 11]

Needs PostgreSQL (postgres/postgres on 127.0.0.1:5432) and Redis (127.0.0.1:6379) as for roundtrip_bench.py. The
database is created and migrated if missing; the Redis database is emptied first. About 2 minutes.

Each editor is a Yjs client as a browser is (a pycrdt document from the snapshot, every `ydoc_update` it receives
applied to it) that types one character at the end of the shared cell's text, sends it as `edit_source`, and types
the next once the edit is acknowledged, at most `--rate` characters a second (below the connection's rate limit
of 40 writes a second, so no edit is refused). Reported per notebook: acknowledged edits a second, the time from
sending an edit to its ack (p50, p99), and whether every editor's document ended with the text the server stores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pycrdt import Doc, Map, Text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

# A notebook of code-like cells of 2 KB each, every cell different (so the database cannot compress the draft to
# almost nothing, as it would 200 copies of one text).
SETUP_SCRIPT = """
import json, random, uuid
from django.contrib.auth import get_user_model
from quire.accounts.services import do_issue_token
from notebooks.services import do_create_notebook
from notebooks.validation import new_cell_id
rnd = random.Random({cells})
def source():
    lines = []
    while sum(len(line) + 1 for line in lines) < 2048:
        lines.append(f"v{{rnd.randrange(10**6)}} = frame.where(col('c{{rnd.randrange(999)}}') > {{rnd.random():.6f}})")
    return "\\n".join(lines)[:2048]
user = get_user_model().objects.create_user(username=f"keys-{{uuid.uuid4().hex[:8]}}", password=uuid.uuid4().hex)
cells = [{{"id": new_cell_id(), "language": "python", "source": source(), "metadata": {{}}}} for _ in range({cells})]
nb = do_create_notebook(user, title="keystrokes", cells=cells)
print("BENCH-SETUP " + json.dumps({{"token": do_issue_token(user, name="bench").key, "notebook": nb.pk,
                                   "cells": [c["id"] for c in cells]}}))
"""


def create_notebook(env: dict[str, str], cells: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP_SCRIPT.format(cells=cells)], cwd=h.ROOT,
                         env=env, check=True, capture_output=True, text=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith("BENCH-SETUP "))
    return dict(json.loads(line[len("BENCH-SETUP "):]))


class Joiner:
    """Whole messages from a socket's frames: a long one (a big notebook's snapshot) comes as `chunk` frames."""

    def __init__(self) -> None:
        self.parts: dict[str, list[str]] = {}

    def feed(self, raw: str) -> dict[str, Any] | None:
        event = json.loads(raw)
        if event.get("type") != "chunk":
            return dict(event)
        parts = self.parts.setdefault(event["id"], [""] * event["count"])
        parts[event["index"]] = event["data"]
        if all(parts):
            del self.parts[event["id"]]
            return dict(json.loads("".join(parts)))
        return None


async def open_client(port: int, nb: dict[str, Any]) -> tuple[h.QuireClient, dict[str, Any]]:
    """A connected socket and its snapshot."""
    ws = await h.ws_connect(f"ws://127.0.0.1:{port}/ws/notebooks/{nb['notebook']}/",
                            {"Authorization": f"Bearer {nb['token']}", "Origin": f"http://127.0.0.1:{port}"})
    joiner = Joiner()
    while (snapshot := joiner.feed(await ws.recv())) is None:
        pass
    if snapshot.get("type") != "snapshot":
        raise RuntimeError(f"expected a snapshot, got {snapshot}")
    return h.QuireClient(ws), snapshot


class Typist:
    """One editor's socket and its Yjs document; a reader task applies every update and resolves acks."""

    def __init__(self, client: h.QuireClient, snapshot: dict[str, Any], cell: str) -> None:
        self.client = client
        self.cell = cell
        self.doc = self._doc(snapshot)
        self.resyncs = 0
        self.acks: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.task = asyncio.create_task(self._read())

    @staticmethod
    def _doc(snapshot: dict[str, Any]) -> Doc:
        doc: Doc = Doc()
        doc.apply_update(base64.b64decode(snapshot["notebook"]["ydoc"]))
        return doc

    def text(self) -> Text:
        return self.doc.get("sources", type=Map)[self.cell]

    async def _read(self) -> None:
        joiner = Joiner()
        async for raw in self.client.ws:
            event = joiner.feed(raw)
            if event is None:
                continue
            if event.get("type") == "snapshot":  # the server saw a gap in its stream and resent the notebook
                self.doc = self._doc(event)
                self.resyncs += 1
            if isinstance(event.get("ydoc_update"), str):
                self.doc.apply_update(base64.b64decode(event["ydoc_update"]))
            req = event.get("req")
            future = self.acks.pop(req, None) if isinstance(req, int) and event.get("type") in ("ack", "error") else None
            if future is not None and not future.done():
                future.set_result(event)

    async def type_one(self) -> tuple[dict[str, Any], float]:
        before = self.doc.get_state()
        text = self.text()
        text.insert(len(text), "x")
        update = base64.b64encode(self.doc.get_update(before)).decode()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        req = await self.client.send("edit_source", cell_id=self.cell, update=update)
        self.acks[req] = future
        reply = await asyncio.wait_for(future, 60)
        return reply, time.perf_counter() - start


class Editors:
    """The editors of one notebook, all typing in its middle cell."""

    def __init__(self, label: str, nb: dict[str, Any]) -> None:
        self.label = label
        self.nb = nb
        self.cell = nb["cells"][len(nb["cells"]) // 2]
        self.typists: list[Typist] = []
        self.rows: list[dict[str, float]] = []

    async def connect(self, port: int, editors: int) -> None:
        opened: list[tuple[h.QuireClient, dict[str, Any]]] = []
        for _ in range(editors):  # one at a time, so the presence traffic settles (see fanout_bench.connect_many)
            opened.append(await open_client(port, self.nb))
            await asyncio.gather(*(client.drain(0.05) for client, _ in opened))
        self.typists = [Typist(client, snapshot, self.cell) for client, snapshot in opened]

    async def type_for(self, seconds: float, rate: float) -> None:
        """Every editor types for `seconds`: one character, its ack, the next (at most `rate` a second)."""
        stop_at = time.perf_counter() + seconds
        acked: list[float] = []

        async def type_until(typist: Typist) -> None:
            while (now := time.perf_counter()) < stop_at:
                reply, took = await typist.type_one()
                if reply["type"] != "ack":
                    raise RuntimeError(f"edit refused: {reply}")
                acked.append(took)
                await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - now)))

        started = time.perf_counter()
        await asyncio.gather(*(type_until(t) for t in self.typists))
        s = h.summary(acked)
        s["rate"] = len(acked) / (time.perf_counter() - started)
        self.rows.append(s)
        print(f"{self.label} r{len(self.rows)}: {s['rate']:6.1f} edits/s acked; " + h.fmt_summary("ack", s).strip(),
              flush=True)

    async def check(self, port: int) -> None:
        """Every editor's document, once the broadcasts still queued have arrived, against a fresh snapshot's."""
        settle_by = time.perf_counter() + 30
        while len({str(t.text()) for t in self.typists}) > 1 and time.perf_counter() < settle_by:
            await asyncio.sleep(0.2)
        fresh, snapshot = await open_client(port, self.nb)
        await fresh.close()
        stored = next(c["source"] for c in snapshot["notebook"]["cells"] if c["id"] == self.cell)
        texts = {str(t.text()) for t in self.typists}
        print(f"{self.label}: editors agree with each other and the stored cell: {texts == {stored}} "
              f"({len(stored)} characters; {sum(t.resyncs for t in self.typists)} resyncs)", flush=True)

    async def close(self) -> None:
        for t in self.typists:
            t.task.cancel()
        await asyncio.gather(*(t.client.close() for t in self.typists), return_exceptions=True)


async def measure(port: int, notebooks: dict[str, dict[str, Any]], args: argparse.Namespace) -> list[Editors]:
    """Repeats alternate between the notebooks, so that a change in the machine's load affects both alike."""
    groups = [Editors(label, nb) for label, nb in notebooks.items()]
    try:
        for group in groups:
            await group.connect(port, args.editors)
        for _ in range(args.repeats):
            for group in groups:
                await asyncio.sleep(2.0)
                await group.type_for(args.seconds, args.rate)
        for group in groups:
            await group.check(port)
    finally:
        for group in groups:
            await group.close()
    return groups


class Production:
    """Daphne alone against its own PostgreSQL database and Redis database."""

    def __init__(self, database: str, redis_db: int) -> None:
        self.env = h.quire_env("production", h.BENCH_DIR / "keystroke-var",
                               DATABASE_URL=f"postgres://postgres:postgres@127.0.0.1:5432/{database}",
                               REDIS_URL=f"redis://127.0.0.1:6379/{redis_db}")
        pg = {"PGPASSWORD": "postgres", "PATH": self.env["PATH"]}
        exists = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                                 f"SELECT 1 FROM pg_database WHERE datname='{database}'"],
                                env=pg, capture_output=True, text=True, check=True).stdout.strip()
        if exists != "1":
            subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", database], env=pg, check=True)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=h.ROOT, env=self.env, check=True,
                       capture_output=True)
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-n", str(redis_db), "flushdb"], check=True,
                       capture_output=True)
        self.daphne, self.port = h.start_daphne(self.env, name="daphne-keystroke")

    def stop(self) -> None:
        self.daphne.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editors", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=h.REPEATS)
    parser.add_argument("--rate", type=float, default=30.0, help="most characters a second per editor")
    parser.add_argument("--database", default="quire_bench")
    parser.add_argument("--redis-db", type=int, default=11)
    args = parser.parse_args()
    h.header(f"keystroke_bench: {args.editors} editors in one cell, up to {args.rate:.0f} chars/s each")
    server = Production(args.database, args.redis_db)
    try:
        notebooks = {f"{cells}-cell notebook": create_notebook(server.env, cells) for cells in (1, 200)}
        groups = asyncio.run(measure(server.port, notebooks, args))
    finally:
        server.stop()
    print(f"\n== {args.editors} editors typing in one cell (median of {args.repeats} repeats of {args.seconds:.0f} s)")
    for group in groups:
        rows = group.rows
        print(f"{group.label:<20} {h.median_of(rows, 'rate'):7.1f} edits/s acked   "
              f"ack p50 {h.median_of(rows, 'p50'):7.2f} ms   p99 {h.median_of(rows, 'p99'):7.2f} ms")


if __name__ == "__main__":
    main()
